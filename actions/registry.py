"""The table of step kinds: every kind warroom knows, by the name a runbook step gives in ``kind``.

An explicit table rather than discovery on import, so that what a runbook may use is visible in
one place and the incident model (which is handed this table) never imports a kind itself.
"""

from __future__ import annotations

from collections.abc import Mapping

from actions.ansible import AnsibleAction
from actions.base import Action
from actions.docker import DockerAction
from actions.git import GitAction
from actions.http import HttpAction
from actions.manual import ManualAction
from actions.mysql import MySQLAction
from actions.notify import NotifyAction
from actions.ssh import SSHAction
from actions.storage import StorageAction

KINDS: Mapping[str, type[Action]] = {
    cls.kind: cls
    for cls in (
        SSHAction,
        ManualAction,
        MySQLAction,
        DockerAction,
        HttpAction,
        NotifyAction,
        StorageAction,
        GitAction,
        AnsibleAction,
    )
}


def create(kind: str) -> Action:
    """A fresh instance of a kind (kinds keep no state between steps)."""
    cls = KINDS.get(kind)
    if cls is None:
        raise KeyError(kind)
    return cls()
