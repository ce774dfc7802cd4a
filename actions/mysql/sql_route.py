"""Where each statement of a dump may run when tables are restored over several connections.

A statement is bound to one table (its DROP/CREATE/LOCK/ALTER/INSERT/TRUNCATE: it runs on that
table's connection, in the dump's order), a session statement (SET, USE: run on every
connection, so each table's statements see the session the dump set up), or a barrier
(routines, views over tables, anything unknown: it runs alone once everything before it has
run). A trigger runs on its table's connection after that table's rows (it only fires on rows
inserted later, and those make the restore serial); mysqldump's stand-in for a view (``SELECT 1
AS col``: no table read) and ``DROP VIEW`` run on a connection of the view's own, so neither
holds up the tables around them. The
LOCK TABLES/UNLOCK TABLES mysqldump puts around one table's rows are skipped: a connection
holding a table lock may not touch a table referencing it by foreign key, which another
connection has created meanwhile (MariaDB: "Table ... was not locked with LOCK TABLES"), and
the lock guarded nothing the table's own connection does not. A
statement that would make the connections' results differ from one connection's is *unsafe*:
from there on the restore goes on serially, and the reason is shown. Nothing is guessed: a
statement not recognised is a barrier, never a table's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from actions.mysql.sql_census import _CREATE, _DROP, _IDENT, _INSERT, _NAME_LIST, _NOISE, _QUALIFIED, _SOURCE, unquote
from actions.mysql.sql_split import _LEAD, Statement

SESSION, TABLE, BARRIER, UNSAFE, SKIP = "session", "table", "barrier", "unsafe", "skip"

_NEVER = re.compile(rb"/\*M?!9\d{5}(?:[^*]++|\*(?!/))*+\*/")  # e.g. mariadb-dump's sandbox line: a comment
_VERSIONED = re.compile(rb"/\*M?!\d*|\*/")
_WORD = re.compile(rb"[A-Za-z_]++")
_FK_CHECKS = re.compile(rb"FOREIGN_KEY_CHECKS\s*+=\s*+([^\s,*;]++)", re.IGNORECASE)
_AUTOCOMMIT = re.compile(rb"\bAUTOCOMMIT\s*+=\s*+(?:0|OFF|FALSE)\b", re.IGNORECASE)
_GLOBAL = re.compile(rb"\b(?:GLOBAL|PERSIST)\b|@@GLOBAL\.", re.IGNORECASE)
_READS = re.compile(rb"\bSELECT\b|LAST_INSERT_ID|ROW_COUNT|FOUND_ROWS", re.IGNORECASE)
_ASSIGNS = re.compile(rb":=|\bINTO\s*+@", re.IGNORECASE)
_REFERENCES = re.compile(rb"\bREFERENCES\b", re.IGNORECASE)
_LIKE = re.compile(rb"^\s*+(?:\(\s*+)?LIKE\b", re.IGNORECASE)
_RENAME = re.compile(rb"\bRENAME\b", re.IGNORECASE)
_ALTER = re.compile(rb"ALTER\s++(?:ONLINE\s++|IGNORE\s++)*+TABLE\s++" + _QUALIFIED, re.IGNORECASE)
_TRUNCATE = re.compile(rb"TRUNCATE\s++(?:TABLE\s++)?" + _QUALIFIED + rb"\s*+$", re.IGNORECASE)
_LOCK = re.compile(rb"LOCK\s++TABLES?\s++(.*)", re.IGNORECASE | re.DOTALL)
_LOCK_ITEM = re.compile(
    rb"\s*+" + _QUALIFIED + rb"(?:\s++(?:AS\s++)?" + _IDENT + rb")??\s++(?:READ|WRITE|LOW_PRIORITY)"
)
_TRIGGER = re.compile(
    rb"\bTRIGGER\s++(?:IF\s++NOT\s++EXISTS\s++)?" + _QUALIFIED + rb"\s++(?:BEFORE|AFTER)\s++(?:INSERT|UPDATE|DELETE)"
    rb"\s++ON\s++" + _QUALIFIED,
    re.IGNORECASE,
)
# mysqldump's stand-in for a view (the real one comes at the end): constants only, no table read.
_VIEW_STANDIN = re.compile(
    rb"CREATE\s++(?:OR\s++REPLACE\s++)?VIEW\s++" + _QUALIFIED + rb"\s++AS\s++SELECT\s++"
    rb"(?:(?:1|0|NULL)\s++AS\s++" + _IDENT + rb"\s*+,\s*+)*+(?:1|0|NULL)\s++AS\s++" + _IDENT + rb"\s*+",
    re.IGNORECASE,
)
_DROP_VIEW = re.compile(rb"DROP\s++VIEW\s++(?:IF\s++EXISTS\s++)?" + _QUALIFIED + rb"\s*+", re.IGNORECASE)
_TRANSACTION = {b"BEGIN", b"START", b"COMMIT", b"ROLLBACK", b"SAVEPOINT", b"RELEASE", b"XA", b"FLUSH"}
_HEAD = 600


@dataclass(slots=True)
class Route:
    kind: str
    table: str = ""
    reason: str = ""


class Router:
    """Routes statements in dump order; it keeps what the order so far implies (locks, checks)."""

    def __init__(self) -> None:
        self.fk_checks_off = False
        self.foreign_keys: list[str] = []  # tables the dump creates with a foreign key
        self.triggered: set[str] = set()  # tables the dump has put a trigger on
        self.locked: str = ""  # the table a LOCK TABLES holds on its connection

    def route(self, stmt: Statement, plain_values: bool = False) -> Route:
        """``plain_values``: the census found this INSERT's rows to be literals (saves a scan)."""
        found = self._classify(stmt, plain_values)
        if found.kind == UNSAFE:
            return found
        if self.locked and found.table != self.locked and found.kind != SESSION:
            return Route(UNSAFE, reason=f"it runs while LOCK TABLES holds `{self.locked}` (one session's lock)")
        if found.kind == TABLE and not self.fk_checks_off and self.foreign_keys:
            return Route(
                UNSAFE,
                reason=f"foreign-key checks are not disabled (SET FOREIGN_KEY_CHECKS=0) and `{self.foreign_keys[0]}` "
                "has a foreign key",
            )
        return found

    def _classify(self, stmt: Statement, plain_values: bool) -> Route:
        text = stmt.text
        head = _VERSIONED.sub(b" ", _NEVER.sub(b" ", text[:_HEAD]))
        head = head[_LEAD.match(head).end() :]
        m = _WORD.match(head)
        word = m.group().upper() if m else b""
        if word == b"SET":
            return self._set(text)
        if word == b"USE":
            return Route(SESSION)
        if word in (b"INSERT", b"REPLACE"):
            return self._insert(text, plain_values)
        if word in _TRANSACTION:
            return Route(UNSAFE, reason=f"it is {word.decode()}: transactions belong to one session")
        if word == b"LOCK":
            return self._lock(head)
        if word == b"UNLOCK":
            table, self.locked = self.locked, ""
            return Route(SKIP, table) if table else Route(SESSION)
        if word == b"CREATE":
            return self._create(text, head)
        if word == b"DROP":
            return self._drop(head)
        if word == b"ALTER":
            found = _ALTER.match(head)
            if found and not _REFERENCES.search(text) and not _RENAME.search(text):
                return Route(TABLE, _name(found.group(1)))
            return Route(BARRIER)
        if word == b"TRUNCATE":
            found = _TRUNCATE.match(head.rstrip())
            return Route(TABLE, _name(found.group(1))) if found else Route(BARRIER)
        if _ASSIGNS.search(_NOISE.sub(b"", text)):
            return Route(UNSAFE, reason="it sets a session variable from a query, which one session would see")
        return Route(BARRIER)

    def _set(self, text: bytes) -> Route:
        if _AUTOCOMMIT.search(text):
            return Route(UNSAFE, reason="it turns autocommit off: the transaction belongs to one session")
        if _GLOBAL.search(text):
            return Route(BARRIER)
        if _READS.search(_NOISE.sub(b"", text)):
            return Route(UNSAFE, reason="it sets a variable from a query, whose answer depends on the order")
        for value in _FK_CHECKS.findall(text):
            self.fk_checks_off = value.upper() in (b"0", b"OFF", b"FALSE")
        return Route(SESSION)

    def _insert(self, text: bytes, plain_values: bool) -> Route:
        m = _INSERT.match(text)
        if m is None:
            return Route(BARRIER)
        table = _name(m.group(1))
        source = _SOURCE.match(text, m.end())
        if not (source.group(1) or b"").upper().startswith((b"VALUE", b"SET")):
            return Route(BARRIER)  # INSERT ... SELECT reads other tables: after everything before it
        if not plain_values and _READS.search(text) and _READS.search(_NOISE.sub(b"", text)):
            return Route(BARRIER)
        if table in self.triggered:
            return Route(UNSAFE, reason=f"rows go into `{table}` after a trigger on it, which may write other tables")
        return Route(TABLE, table)

    def _lock(self, head: bytes) -> Route:
        if self.locked:
            return Route(UNSAFE, reason=f"LOCK TABLES while `{self.locked}` is still locked (one session's locks)")
        m = _LOCK.match(head)
        items = m.group(1).split(b",") if m else []
        names = [_LOCK_ITEM.match(item) for item in items]
        if len(names) != 1 or names[0] is None:
            return Route(UNSAFE, reason="LOCK TABLES spans several tables (one session's lock)")
        self.locked = _name(names[0].group(1))
        return Route(SKIP, self.locked)

    def _create(self, text: bytes, head: bytes) -> Route:
        trigger = _TRIGGER.search(head)
        if trigger:  # after its table's rows, on its connection; rows into it later go serial
            table = _name(trigger.group(2))
            self.triggered.add(table)
            return Route(TABLE, table)
        m = _CREATE.match(head)
        if m is None:
            view = _VIEW_STANDIN.fullmatch(head) if len(text) <= _HEAD else None
            return Route(TABLE, _name(view.group(1))) if view else Route(BARRIER)
        if m.group(1):
            return Route(UNSAFE, reason="it creates a TEMPORARY table, which only its own session sees")
        table = _name(m.group(2))
        rest = head[m.end() :]
        if _LIKE.match(rest) or _READS.search(_NOISE.sub(b"", text)):
            return Route(BARRIER)  # CREATE TABLE ... LIKE / AS SELECT reads another table
        if _REFERENCES.search(_NOISE.sub(b"", text)):
            self.foreign_keys.append(table)
        return Route(TABLE, table)

    def _drop(self, head: bytes) -> Route:
        m = _DROP.match(head)
        if m is None:
            view = _DROP_VIEW.fullmatch(head)
            return Route(TABLE, _name(view.group(1))) if view else Route(BARRIER)
        if re.match(rb"DROP\s++TEMPORARY", head, re.IGNORECASE):
            return Route(UNSAFE, reason="it drops a TEMPORARY table, which only its own session sees")
        names = _NAME_LIST.findall(m.group(1).split(b"/*")[0])
        names = [n for n in names if n.upper() not in (b"RESTRICT", b"CASCADE")]
        return Route(TABLE, _name(names[0])) if len(names) == 1 else Route(BARRIER)


def _name(raw: bytes) -> str:
    """One key per table: ``lower_case_table_names`` servers fold case, so fold it here too."""
    return unquote(raw).lower()
