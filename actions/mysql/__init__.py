"""The ``mysql`` step kind: preflight, find the latest backup, restore it, verify it (:mod:`.kind`)."""

from actions.mysql.kind import MySQLAction

__all__ = ["MySQLAction"]
