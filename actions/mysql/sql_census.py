"""What a dump does to the database, counted from its own statements while they stream past.

The rows each table should hold afterwards are the dump's own evidence, independent of what the
server reports, so verification can compare the restored tables against them. The census also
refuses a dump that would write into another database than the one being restored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from actions.mysql.sql_split import DumpError, Statement

_IDENT = rb"(?:`(?:[^`]|``)++`|[A-Za-z0-9_$]++)"
_QUALIFIED = rb"(" + _IDENT + rb"(?:\s*+\.\s*+" + _IDENT + rb")?)"
_INSERT = re.compile(
    rb"(?:INSERT|REPLACE)\s++(?:(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|IGNORE)\s++)*+(?:INTO\s++)?" + _QUALIFIED,
    re.IGNORECASE,
)
# After the table: an optional column list, then how the rows come.
_SOURCE = re.compile(rb"\s*+(?:\((?:[^()`]|" + _IDENT + rb")*+\)\s*+)?(VALUES?\b|SET\b)?", re.IGNORECASE)
_UPSERT = re.compile(rb"\bON\s++DUPLICATE\s++KEY\s++UPDATE\b", re.IGNORECASE)
_CREATE = re.compile(
    rb"CREATE\s++(?:OR\s++REPLACE\s++)?(TEMPORARY\s++)?TABLE\s++(?:IF\s++NOT\s++EXISTS\s++)?" + _QUALIFIED,
    re.IGNORECASE,
)
_DROP = re.compile(rb"DROP\s++(?:TEMPORARY\s++)?TABLE\s++(?:IF\s++EXISTS\s++)?(.*)", re.IGNORECASE | re.DOTALL)
_TRUNCATE = re.compile(rb"TRUNCATE\s++(?:TABLE\s++)?" + _QUALIFIED, re.IGNORECASE)
_DELETE = re.compile(rb"DELETE\s++(?:LOW_PRIORITY\s++|QUICK\s++|IGNORE\s++)*+FROM\s++" + _QUALIFIED, re.IGNORECASE)
_USE = re.compile(rb"USE\s++(" + _IDENT + rb")\s*+$", re.IGNORECASE)
_CREATE_DB = re.compile(rb"CREATE\s++(?:DATABASE|SCHEMA)\s++(?:IF\s++NOT\s++EXISTS\s++)?(" + _IDENT + rb")", re.I)
_NAME_LIST = re.compile(_QUALIFIED)
# Strings and comments inside a VALUES list, removed before its parentheses are counted.
_NOISE = re.compile(
    rb"'(?:[^'\\]++|\\.)*+'|\"(?:[^\"\\]++|\\.)*+\"|/\*(?:[^*]++|\*(?!/))*+\*/|#[^\n]*+|--[\x00-\x20][^\n]*+",
    re.DOTALL,
)
_QUOTES = re.compile(rb"`[^`]*+`|" + _NOISE.pattern, re.DOTALL)  # and quoted names: the splitter's ``quoted``
_NESTED = re.compile(rb"\([^()]*+\(")
_PARENS = re.compile(rb"[()]")

HEADERS = (b"-- MySQL dump", b"-- MariaDB dump", b"-- warroom safety dump")
TRAILER = b"-- Dump completed"
# mariadb-dump since 10.5.25/10.6.18/10.11.8 opens with this line, before its "-- MariaDB dump".
_SANDBOX = re.compile(rb"/\*M?!999999\\- enable the sandbox mode \*/[ \t]*+\r?\n")


def dump_header(head: bytes) -> bool:
    """Whether a dump's first bytes are mysqldump's (or mariadb-dump's, or warroom's) header."""
    head = head.lstrip(b"\xef\xbb\xbf")
    sandbox = _SANDBOX.match(head)
    return head[sandbox.end() if sandbox else 0 :].startswith(HEADERS)


def unquote(name: bytes) -> str:
    """The table name of ``db.`t``` or ```t```, without database and quotes."""
    last = re.findall(_IDENT, name)[-1]
    if last.startswith(b"`"):
        last = last[1:-1].replace(b"``", b"`")
    return last.decode("utf-8", "replace")


def count_rows(values: bytes) -> int | None:
    """Top-level ``(...)`` groups of an extended INSERT's VALUES list (None: not countable)."""
    return _count(values)[0]


def _count(values: bytes, quoted: int = -1) -> tuple[int | None, bool]:
    """``count_rows`` and whether the rows are plain literals (no parentheses inside a row: no
    function call, no subquery), which the parallel restore may send on the table's connection.

    ``quoted`` (``Statement.quoted`` less the prefix's): the splitter found no nested parenthesis
    and this many ``(`` inside quotes and comments, so the rows are counted without a scan."""
    if quoted >= 0 and b"duplicate" not in values.lower():
        return values.count(b"(") - quoted, True
    flat = _NOISE.sub(b"", values)
    if b"duplicate" in flat.lower() and _UPSERT.search(flat):
        return None, False  # ON DUPLICATE KEY UPDATE: some rows update others
    if not _NESTED.search(flat):
        return flat.count(b"("), True
    depth = rows = 0
    for m in _PARENS.finditer(flat):
        if m.group() == b"(":
            rows += depth == 0
            depth += 1
        else:
            depth -= 1
    return rows, False


@dataclass
class Census:
    """Tables a dump creates and the rows it inserts into each (None: not countable)."""

    database: str = ""
    tables: dict[str, int | None] = field(default_factory=dict)
    statements: int = 0
    rows: int = 0
    plain_values: bool = False
    """Whether the statement seen last was an INSERT of literal rows only (see ``_count``)."""

    def see(self, stmt: Statement) -> None:
        """Account for one statement; a switch to another database raises :class:`DumpError`."""
        self.statements += 1
        self.plain_values = False
        text = stmt.text
        head = text[:16].lstrip().upper()
        if head.startswith((b"INSERT", b"REPLACE")):
            self._insert(stmt)
        elif head.startswith(b"CREATE"):
            self._create(stmt)
        elif head.startswith(b"DROP"):
            m = _DROP.match(text)
            if m:
                for name in _NAME_LIST.findall(m.group(1)):
                    self.tables.pop(unquote(name), None)
        elif head.startswith(b"TRUNCATE"):
            m = _TRUNCATE.match(text)
            if m and unquote(m.group(1)) in self.tables:
                self.tables[unquote(m.group(1))] = 0
        elif head.startswith(b"DELETE"):
            m = _DELETE.match(text)
            if m and unquote(m.group(1)) in self.tables:
                self.tables[unquote(m.group(1))] = None
        elif head.startswith(b"USE"):
            m = _USE.match(text)
            if m and self.database and unquote(m.group(1)) != self.database:
                raise DumpError(stmt.number, stmt.line, self._elsewhere(unquote(m.group(1))))

    def _insert(self, stmt: Statement) -> None:
        m = _INSERT.match(stmt.text)
        if m is None:
            return
        table = unquote(m.group(1))
        self._check_qualified(stmt, m.group(1))
        source = _SOURCE.match(stmt.text, m.end())
        kind = (source.group(1) or b"").upper()
        if kind.startswith(b"VALUE"):
            quoted = stmt.quoted
            if quoted > 0:  # less those in the prefix (a quoted table or column name, a comment)
                prefix = stmt.text[: source.end()]
                quoted -= prefix.count(b"(") - _QUOTES.sub(b"", prefix).count(b"(")
            rows, self.plain_values = _count(stmt.text[source.end() :], quoted)
        elif kind == b"SET":
            rows = 1
        else:
            rows = None  # INSERT ... SELECT (or WITH ...): only the server knows
        known = self.tables.get(table, 0)
        self.tables[table] = None if known is None or rows is None else known + rows
        self.rows += rows or 0

    def _create(self, stmt: Statement) -> None:
        m = _CREATE.match(stmt.text)
        if m:
            if not m.group(1):
                self._check_qualified(stmt, m.group(2))
                self.tables[unquote(m.group(2))] = 0
            return
        m = _CREATE_DB.match(stmt.text)
        if m and self.database and unquote(m.group(1)) != self.database:
            raise DumpError(stmt.number, stmt.line, self._elsewhere(unquote(m.group(1))))

    def _check_qualified(self, stmt: Statement, name: bytes) -> None:
        parts = re.findall(_IDENT, name)
        if len(parts) == 2 and self.database:
            db = unquote(parts[0])
            if db != self.database:
                raise DumpError(stmt.number, stmt.line, self._elsewhere(db))

    def _elsewhere(self, other: str) -> str:
        return (
            f"the dump writes into database {other!r}, not {self.database!r} which this step restores; "
            "refusing (restore it with its own step, or edit the dump)"
        )
