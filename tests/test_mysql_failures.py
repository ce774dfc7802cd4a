"""Restores that fail or are cancelled: each says exactly what state the database is in."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

import pytest
from mysql_dump import HEADER, TRAILER, esc
from mysql_support import ALICE, SOCKET, mysql_step, place, rig, small_dump

# db and big_dump: one of each for the whole session, shared by the mysql test modules.
pytest_plugins = ["mysql_fixtures"]
pytestmark = [
    pytest.mark.sshd,
    pytest.mark.skipif(not Path(SOCKET).exists(), reason="MariaDB not running: run ./scripts/setup-services"),
]


@pytest.mark.parametrize("fmt", ["sql", "sql.gz"])
async def test_truncated_dump_fails_before_touching_the_database(tmp_path, lab, db, monkeypatch, big_dump, fmt):
    db.reset()
    data = big_dump[fmt].read_bytes()
    cut = tmp_path / f"cut.{fmt}"
    cut.write_bytes(data[: len(data) * 3 // 5])
    r = await rig(tmp_path, lab, db, monkeypatch, mysql_step(safety_dump=False))
    place(cut, r.backups, f"backup_file.{fmt}")
    try:
        assert await r.engine.run_step(ALICE, "restore", confirm="restore") == "failed"
        error = r.result("restore")["error"]
        facts = r.facts("restore")
        assert facts["restored"] is False and facts["database_state"] == "untouched"
        assert "nothing was restored, the database was not touched" in error
        failed = facts["failed_at"]
        assert f"statement {failed['statement']} (line {failed['line']})" in error
        assert failed["statement"] > 10
        if fmt == "sql.gz":
            assert "the compressed data is broken: Compressed file ended" in error
        else:
            assert "the dump ends inside a quoted string" in error or "ends before this statement's ';'" in error
        assert db.query("SELECT name FROM customers WHERE id = 1")[0][0] == "damaged by v1.0.0"
        assert "POINT OF NO RETURN" not in r.output("restore")
    finally:
        await r.engine.aclose()


async def test_truncated_dump_without_precheck_is_reported_partially_restored(tmp_path, lab, db, monkeypatch):
    db.reset()
    dump = small_dump(tmp_path / "small.sql")
    data = dump.sql.read_bytes()
    cut_at = data.index(b"INSERT INTO `attachments`") + 5000
    cut = tmp_path / "cut.sql"
    cut.write_bytes(data[:cut_at])
    r = await rig(tmp_path, lab, db, monkeypatch, mysql_step(safety_dump=False, precheck=False))
    place(cut, r.backups, "backup_file.sql")
    try:
        assert await r.engine.run_step(ALICE, "restore", confirm="restore") == "failed"
        error = r.result("restore")["error"]
        facts = r.facts("restore")
        assert facts["restored"] is False and facts["database_state"] == "partially restored"
        assert "NOT restored" in error and "partially restored" in error
        assert f"statement {facts['failed_at']['statement']} " in error
        assert "restored" not in {k for k, v in facts.items() if v is True}
    finally:
        await r.engine.aclose()


async def test_a_mariadb_dump_cut_between_statements_is_refused_behind_its_sandbox_line(tmp_path, lab, db, monkeypatch):
    """mariadb-dump since 10.11.8 opens with its sandbox line; its header must still be seen, or
    a dump cut off between two statements would pass for a whole one."""
    db.reset()
    data = small_dump(tmp_path / "small.sql").sql.read_bytes()
    cut = tmp_path / "cut.sql"
    sandbox = b"/*M!999999\\- enable the sandbox mode */ \n"
    cut.write_bytes(sandbox + data[: data.index(b"INSERT INTO `attachments`")])
    r = await rig(tmp_path, lab, db, monkeypatch, mysql_step(safety_dump=False))
    place(cut, r.backups, "backup_file.sql")
    try:
        assert await r.engine.run_step(ALICE, "restore", confirm="restore") == "failed"
        error = r.result("restore")["error"]
        assert "without mysqldump's closing '-- Dump completed' line: it was cut off" in error
        assert r.facts("restore")["database_state"] == "untouched"
        assert db.query("SELECT name FROM customers WHERE id = 1")[0][0] == "damaged by v1.0.0"
    finally:
        await r.engine.aclose()


async def test_bad_statement_stops_the_restore_at_that_statement(tmp_path, lab, db, monkeypatch):
    """A refused INSERT in the middle of a pipelined run: nothing after it is applied."""
    db.reset()
    rows = [b"(%d,%s)" % (i, esc("x" * 900)) for i in range(1, 30_001)]
    inserts = [b"INSERT INTO `t` VALUES " + b",".join(rows[i : i + 100]) + b";\n" for i in range(0, 30_000, 100)]
    bad = 150  # of 300 INSERTs of ~90 KB: a batch of 8 MB is in flight behind it
    inserts[bad] = inserts[bad].replace(b"INSERT INTO `t` VALUES", b"INSERT INTO `t` VALUES (1,'duplicate'),", 1)
    text = HEADER + b"DROP TABLE IF EXISTS `t`;\nCREATE TABLE `t` (id INT PRIMARY KEY, v TEXT);\n"
    text += b"".join(inserts) + TRAILER
    (tmp_path / "bad.sql").write_bytes(text)
    r = await rig(tmp_path, lab, db, monkeypatch, mysql_step(safety_dump=False))
    place(tmp_path / "bad.sql", r.backups, "backup_file.sql")
    try:
        assert await r.engine.run_step(ALICE, "restore", confirm="restore") == "failed"
        error = r.result("restore")["error"]
        facts = r.facts("restore")
        number = 7 + 2 + bad + 1  # the header's 7 SETs, DROP, CREATE, then the INSERTs
        line = text[: text.index(b"VALUES (1,'duplicate')")].count(b"\n") + 1
        assert facts["failed_at"]["statement"] == number
        assert f"statement {number} (line {line})" in error and "Duplicate entry '1'" in error
        assert facts["restored"] is False and facts["database_state"] == "partially restored"
        assert db.query("SELECT COUNT(*) FROM t")[0][0] == bad * 100
    finally:
        await r.engine.aclose()


async def test_syntax_error_names_statement_and_line(tmp_path, lab, db, monkeypatch):
    db.reset()
    dump = small_dump(tmp_path / "small.sql", extra=b"CREATE TABLE broken (id INT PRIMARY KEY,);\n")
    lines = dump.sql.read_bytes().split(b"\n")
    line = next(i for i, t in enumerate(lines, 1) if t.startswith(b"CREATE TABLE broken"))
    r = await rig(tmp_path, lab, db, monkeypatch, mysql_step(safety_dump=False))
    place(dump.sql, r.backups, "backup_file.sql")
    try:
        assert await r.engine.run_step(ALICE, "restore", confirm="restore") == "failed"
        error = r.result("restore")["error"]
        assert f"(line {line}) failed: You have an error in your SQL syntax" in error
        assert "error 1064" in error and "it starts 'CREATE TABLE broken" in error
        assert r.facts("restore")["failed_at"]["line"] == line
    finally:
        await r.engine.aclose()


async def test_wrong_password_is_a_clear_error_and_no_password_anywhere(tmp_path, lab, db, monkeypatch):
    wrong = f"wrong-{secrets.token_hex(8)}"
    dump = small_dump(tmp_path / "small.sql")
    r = await rig(tmp_path, lab, db, monkeypatch, mysql_step(), password=wrong)
    place(dump.sql, r.backups, "backup_file.sql")
    try:
        assert await r.engine.run_step(ALICE, "restore", confirm="restore") == "failed"
        error = r.result("restore")["error"]
        assert error.startswith("step restore on h1: the database at 127.0.0.1:3306 (via SSH from h1) refused user")
        assert f"user {db.user!r} for database {db.name!r}: access denied" in error
        assert r.facts("restore")["database_state"] == "untouched"
        assert "****" not in error and "****" not in r.output("restore")  # nothing had to be masked
    finally:
        await r.engine.aclose()
    for path in (tmp_path / "state").rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert wrong.encode() not in content, path
            assert db.password.encode() not in content, path


async def test_cancel_stops_the_restore_and_says_what_state_the_database_is_in(
    tmp_path, lab, db, monkeypatch, big_dump
):
    db.reset()
    r = await rig(tmp_path, lab, db, monkeypatch, mysql_step(safety_dump=False))
    place(big_dump["sql"], r.backups, "backup_file.sql")
    seen = asyncio.Event()
    r.engine.subscribe(lambda e: seen.set() if getattr(e, "label", "") == "restore" and e.done > 5e6 else None)
    try:
        task = r.engine.start_step(ALICE, "restore", confirm="restore")
        await asyncio.wait_for(seen.wait(), 30)
        started = time.monotonic()
        r.engine.cancel_step(ALICE, "restore")
        await asyncio.wait_for(task, 30)
        assert time.monotonic() - started < 5
        assert r.engine.state.steps["restore"].status == "cancelled"
        result = r.result("restore")
        assert "partially restored" in result["error"]
        assert result["facts"]["restored"] is False
        query = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = %s"
        deadline = time.monotonic() + 5
        while db.query(query, db.user)[0][0] and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert db.query(query, db.user)[0][0] == 0  # the restore's session is gone, not left inserting
    finally:
        await r.engine.aclose()
