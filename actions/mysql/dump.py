"""The safety dump: the database as it is now, written before a restore replaces it.

Made with pymysql alone, so neither the host nor the warroom machine needs ``mysqldump``. The
server formats each row as SQL (``QUOTE``, ``HEX``, ``BIN``) so Python only joins rows into
extended INSERTs; everything is read inside one consistent snapshot. Tables, rows, views,
triggers and routines are kept (not events), in a file warroom's own restore reads back.
"""

from __future__ import annotations

import re
import time
from typing import Any, BinaryIO

from actions.mysql.hostfiles import Stopped
from actions.mysql.restore import Reporter

STATEMENT_BYTES = 1 << 20
_BINARY = {
    "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "geometry", "point", "linestring",
    "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection",
}  # fmt: skip
_DEFINER = re.compile(r"DEFINER\s*=\s*(`(?:[^`]|``)*`@`(?:[^`]|``)*`|'[^']*'@'[^']*'|\S+@\S+)")
_NUMERIC = {"tinyint", "smallint", "mediumint", "int", "bigint", "decimal", "float", "double", "year"}


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _expression(column: str, data_type: str) -> str:
    """SQL that renders one column of a row as a literal, NULL included."""
    c = _ident(column)
    if data_type in _NUMERIC:
        return f"IFNULL({c}, 'NULL')"
    if data_type == "bit":
        return f"IFNULL(CONCAT('b''', BIN({c}), ''''), 'NULL')"
    if data_type in _BINARY:
        return f"IF({c} IS NULL, 'NULL', IF(LENGTH({c}) = 0, '''''', CONCAT('0x', HEX({c}))))"
    return f"CONVERT(QUOTE({c}) USING utf8mb4)"


def definers_as_current_user(create: str, replaced: set[str]) -> str:
    """``DEFINER=CURRENT_USER``: whoever restores the safety dump can recreate the object.

    Keeping ``root@localhost`` would make the restore fail for the app's own user halfway
    through; the definers replaced are reported (they change whose privileges a view uses).
    """

    def swap(match: re.Match[str]) -> str:
        replaced.add(match.group(1).replace("`", ""))
        return "DEFINER=CURRENT_USER"

    return _DEFINER.sub(swap, create, count=1)


def dump(conn: Any, out: BinaryIO, database: str, reporter: Reporter) -> dict[str, Any]:
    """Write the whole database to ``out``; returns tables, rows and bytes written."""
    written = 0
    definers: set[str] = set()

    def emit(text: str) -> None:
        nonlocal written
        data = text.encode("utf-8", "surrogateescape")
        out.write(data)
        written += len(data)

    taken = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    with conn.cursor() as cur:
        cur.execute("SET SESSION time_zone = '+00:00'")
        cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        cur.execute(
            "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s ORDER BY 1",
            (database,),
        )
        objects = [(str(n), str(t)) for n, t in cur.fetchall()]
    emit(
        f"-- warroom safety dump of `{database}` taken {taken} UTC\n"
        "/*!40101 SET NAMES utf8mb4 */;\n/*!40103 SET TIME_ZONE='+00:00' */;\n"
        "/*!40014 SET UNIQUE_CHECKS=0 */;\n/*!40014 SET FOREIGN_KEY_CHECKS=0 */;\n"
        "/*!40101 SET SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;\n\n"
    )
    tables = rows = 0
    for name, kind in objects:
        if kind == "BASE TABLE":
            rows += _table(conn, name, database, emit, reporter)
            tables += 1
    views = [name for name, kind in objects if kind == "VIEW"]
    for name in _view_order(conn, views):
        with conn.cursor() as cur:
            cur.execute(f"SHOW CREATE VIEW {_ident(name)}")
            create = definers_as_current_user(cur.fetchone()[1], definers)
        emit(f"DROP TABLE IF EXISTS {_ident(name)};\nDROP VIEW IF EXISTS {_ident(name)};\n{create};\n\n")
    _triggers_and_routines(conn, database, emit, definers)
    emit(f"-- Dump completed on {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())}\n")
    with conn.cursor() as cur:
        cur.execute("COMMIT")
        cur.execute("SELECT CURRENT_USER()")
        me = str(cur.fetchone()[0])
    others = sorted(d for d in definers if d != me)
    if others:
        reporter.line(f"safety dump: objects defined by {', '.join(others)} are recreated as the restoring user")
    return {"tables": tables, "views": len(views), "rows": rows, "sql_bytes": written, "definers_replaced": others}


def _table(conn: Any, name: str, database: str, emit, reporter: Reporter) -> int:
    import pymysql.cursors

    with conn.cursor() as cur:
        cur.execute(f"SHOW CREATE TABLE {_ident(name)}")
        create = cur.fetchone()[1]
        cur.execute(
            "SELECT COLUMN_NAME, DATA_TYPE, IS_GENERATED FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (database, name),
        )
        columns = [(str(c), str(t).lower()) for c, t, generated in cur.fetchall() if generated != "ALWAYS"]
    emit(f"DROP TABLE IF EXISTS {_ident(name)};\n{create};\n")
    if not columns:
        return 0
    head = f"INSERT INTO {_ident(name)} ({', '.join(_ident(c) for c, _ in columns)}) VALUES "
    row_sql = "CONCAT('(', " + ", ',', ".join(_expression(c, t) for c, t in columns) + ", ')')"
    count = 0
    batch: list[str] = []
    size = 0
    with conn.cursor(pymysql.cursors.SSCursor) as cur:
        cur.execute(f"SELECT {row_sql} FROM {_ident(name)}")
        for (row,) in cur:
            batch.append(row)
            size += len(row) + 1
            count += 1
            if size >= STATEMENT_BYTES:
                emit(head + ",".join(batch) + ";\n")
                batch, size = [], 0
                if reporter.stop.is_set():
                    raise Stopped()
    if batch:
        emit(head + ",".join(batch) + ";\n")
    emit("\n")
    reporter.line(f"safety dump: `{name}` {count} rows")
    return count


def _view_order(conn: Any, views: list[str]) -> list[str]:
    """Views that use other views come after them."""
    texts: dict[str, str] = {}
    for name in views:
        with conn.cursor() as cur:
            cur.execute(f"SHOW CREATE VIEW {_ident(name)}")
            texts[name] = cur.fetchone()[1]
    ordered: list[str] = []
    pending = list(views)
    while pending:
        ready = [v for v in pending if not any(o != v and o in pending and _ident(o) in texts[v] for o in pending)]
        for v in ready or pending[:1]:
            ordered.append(v)
            pending.remove(v)
    return ordered


def _triggers_and_routines(conn: Any, database: str, emit, definers: set[str]) -> None:
    with conn.cursor() as cur:
        cur.execute("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s", (database,))
        triggers = [str(r[0]) for r in cur.fetchall()]
        cur.execute(
            "SELECT ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s",
            (database,),
        )
        routines = [(str(n), str(t)) for n, t in cur.fetchall()]
        bodies: list[str] = []
        for name in triggers:
            cur.execute(f"SHOW CREATE TRIGGER {_ident(name)}")
            body = definers_as_current_user(cur.fetchone()[2], definers)
            bodies.append(f"DROP TRIGGER IF EXISTS {_ident(name)};;\n{body};;\n")
        for name, kind in routines:
            cur.execute(f"SHOW CREATE {kind} {_ident(name)}")
            body = cur.fetchone()[2]
            if body is None:
                raise PermissionError(f"no privilege to read the definition of {kind.lower()} {name}")
            body = definers_as_current_user(body, definers)
            bodies.append(f"DROP {kind} IF EXISTS {_ident(name)};;\n{body};;\n")
    if bodies:
        emit("DELIMITER ;;\n" + "".join(bodies) + "DELIMITER ;\n")


def sanitize_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)
