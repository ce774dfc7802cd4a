"""The mysql kind restores tables over several connections: the same rows and schema as serially."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from mysql_dump import HEADER
from mysql_multidump import write_multidump
from mysql_support import ALICE, SOCKET, Db, mysql_step, place, rig

pytest_plugins = ["mysql_fixtures"]
pytestmark = [
    pytest.mark.sshd,
    pytest.mark.skipif(not Path(SOCKET).exists(), reason="MariaDB not running: run ./scripts/setup-services"),
]


def snapshot(db: Db) -> dict:
    """Every table's rows (checksummed) and the schema: tables, views, triggers, routines."""
    tables = [r[0] for r in db.query("SHOW FULL TABLES WHERE Table_type = 'BASE TABLE'")]
    found = {"tables": {}, "views": {}, "triggers": {}, "routines": {}}
    for t in sorted(tables):
        create = db.query(f"SHOW CREATE TABLE `{t}`")[0][1]
        found["tables"][t] = (create, db.query(f"CHECKSUM TABLE `{t}` EXTENDED")[0][1])
    for v, _ in db.query("SHOW FULL TABLES WHERE Table_type = 'VIEW'"):
        found["views"][v] = db.query(f"SHOW CREATE VIEW `{v}`")[0][1]
    for name, event, table, body in db.query(
        "SELECT TRIGGER_NAME, EVENT_MANIPULATION, EVENT_OBJECT_TABLE, "
        "ACTION_STATEMENT FROM information_schema.TRIGGERS "
        "WHERE TRIGGER_SCHEMA = DATABASE()"
    ):
        found["triggers"][name] = (event, table, body)
    for name, body in db.query(
        "SELECT ROUTINE_NAME, ROUTINE_DEFINITION FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()"
    ):
        found["routines"][name] = body
    return found


async def restore(tmp_path, lab, db, monkeypatch, dump: Path, **params) -> tuple:
    db.reset()
    r = await rig(tmp_path, lab, db, monkeypatch, mysql_step(safety_dump=False, **params))
    place(dump, r.backups, "backup_file.sql")
    try:
        assert await r.engine.run_step(ALICE, "restore", confirm="restore") == "succeeded", r.result("restore")
        return r.facts("restore"), r.output("restore")
    finally:
        await r.engine.aclose()


async def test_parallel_restore_gives_the_same_rows_and_schema_as_serial(tmp_path, lab, db, monkeypatch):
    dump = write_multidump(tmp_path / "multi.sql", 3_000_000, tables=9)
    steps = mysql_step("serial", safety_dump=False, parallel=1) + mysql_step("restore", safety_dump=False)
    db.reset()
    r = await rig(tmp_path, lab, db, monkeypatch, steps)
    place(dump.sql, r.backups, "backup_file.sql")
    try:
        assert await r.engine.run_step(ALICE, "serial", confirm="restore") == "succeeded", r.result("serial")
        assert "in parallel" not in r.output("serial")
        serial = snapshot(db)
        assert (
            set(dump.counts) <= set(serial["tables"]) and serial["views"] and serial["triggers"] and serial["routines"]
        )
        db.reset()
        assert await r.engine.run_step(ALICE, "restore", confirm="restore") == "succeeded", r.result("restore")
        facts, out = r.facts("restore"), r.output("restore")
        assert facts["statements"] == r.facts("serial")["statements"]  # every statement counted once
    finally:
        await r.engine.aclose()
    assert "restored 10 tables over 4 connections in parallel" in out  # parallel = 4 is the default
    assert "serially" not in out
    stats = facts["restore_stats"]
    assert stats["parallel"] == 4 and all(n >= 2 for n in stats["tables_per_connection"])
    assert facts["verified"] is True
    assert {t: v["rows"] for t, v in facts["verification"]["tables"].items()} == dump.counts
    assert snapshot(db) == serial
    assert db.query("SELECT COUNT(*) FROM t0_t1")[0][0] == dump.counts["t1"]
    db.query("INSERT INTO t1 (id, parent_id, note, amount) VALUES (0, 1, 'x', 1)")  # the trigger works
    assert db.query("SELECT what FROM audit")[0][0] == "t1 row 0; added"


UNSAFE = {
    "foreign-key checks on": (
        lambda data: data.replace(b"FOREIGN_KEY_CHECKS=0", b"FOREIGN_KEY_CHECKS=1"),
        "foreign-key checks are not disabled (SET FOREIGN_KEY_CHECKS=0) and `t1` has a foreign key",
    ),
    "a lock spanning tables": (
        lambda data: data.replace(b"LOCK TABLES `t3` WRITE;", b"LOCK TABLES `t3` WRITE, `t2` READ;"),
        "LOCK TABLES spans several tables (one session's lock)",
    ),
    "an explicit transaction": (
        lambda data: data.replace(b"LOCK TABLES `t2` WRITE;", b"START TRANSACTION;\nLOCK TABLES `t2` WRITE;"),
        "it is START: transactions belong to one session",
    ),
}


@pytest.mark.parametrize("case", list(UNSAFE))
async def test_a_dump_that_cannot_be_split_is_restored_serially_and_says_why(tmp_path, lab, db, monkeypatch, case):
    edit, reason = UNSAFE[case]
    dump = write_multidump(tmp_path / "multi.sql", 1_000_000, tables=8)
    dump.sql.write_bytes(edit(dump.sql.read_bytes()))
    facts, out = await restore(tmp_path, lab, db, monkeypatch, dump.sql, parallel=4)
    assert f"on: {reason}" in out
    assert "restoring serially from statement" in out
    assert facts["restore_stats"]["serial_from"]["reason"] == reason
    assert "in parallel" not in out
    assert facts["verified"] is True
    assert {t: v["rows"] for t, v in facts["verification"]["tables"].items()} == dump.counts


async def test_cancel_mid_restore_stops_every_worker(tmp_path, lab, db, monkeypatch):
    dump = write_multidump(tmp_path / "multi.sql", 40_000_000, tables=8)
    db.reset()
    r = await rig(tmp_path, lab, db, monkeypatch, mysql_step(safety_dump=False, parallel=4))
    place(dump.sql, r.backups, "backup_file.sql")
    query = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = %s AND COMMAND = 'Query'"
    try:
        task = r.engine.start_step(ALICE, "restore", confirm="restore")
        busiest, deadline = 0, time.monotonic() + 60
        while busiest < 3 and time.monotonic() < deadline and not task.done():
            busiest = max(busiest, db.query(query, db.user)[0][0])
            await asyncio.sleep(0.02)
        assert busiest >= 3, "the restore never had three statements running at once"
        started = time.monotonic()
        r.engine.cancel_step(ALICE, "restore")
        await asyncio.wait_for(task, 30)
        assert time.monotonic() - started < 5
        assert r.engine.state.steps["restore"].status == "cancelled"
        result = r.result("restore")
        assert "partially restored" in result["error"] and result["facts"]["restored"] is False
        sessions = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = %s"
        deadline = time.monotonic() + 5
        while db.query(sessions, db.user)[0][0] and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert db.query(sessions, db.user)[0][0] == 0  # every worker's session is gone, none left inserting
    finally:
        await r.engine.aclose()


def test_header_is_mysqldumps():
    assert b"FOREIGN_KEY_CHECKS=0" in HEADER  # the unsafe cases above edit it
