"""The mysql step kind against a real MariaDB, through real sshd hosts (exec channel and SSH tunnel).

A mysqldump-style dump of more than 50 MB is generated once per session (mysql_dump.py) and
restored in each format a team keeps: .sql, .sql.gz and a Laravel-backup .zip with db-dumps/;
then finding a backup, the safety dump, the RPO, preflight and verify.
"""

from __future__ import annotations

import gzip
import os
import shutil
import time
import zipfile
from pathlib import Path

import pytest
from mysql_dump import Dump
from mysql_support import ALICE, SOCKET, Db, Rig, assert_restored, mysql_step, place, rig, small_dump

from actions.registry import KINDS
from console.engine import Engine
from console.model.config import load_config
from console.model.plan import build_plan
from console.model.runbook import load_runbook

# db and big_dump: one of each for the whole session, shared by the mysql test modules.
pytest_plugins = ["mysql_fixtures"]
pytestmark = [
    pytest.mark.sshd,
    pytest.mark.skipif(not Path(SOCKET).exists(), reason="MariaDB not running: run ./scripts/setup-services"),
]


# ----- restore in each format --------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["sql", "sql.gz", "zip"])
async def test_restore_each_format_and_verify_counts(tmp_path, lab, db, monkeypatch, big_dump, fmt):
    db.reset()
    r = await rig(tmp_path, lab, db, monkeypatch, mysql_step(safety_dump=False))
    name = "2025-01-10-02-00-00.zip" if fmt == "zip" else f"backup_file.{fmt}"
    place(big_dump[fmt], r.backups, name)
    progress = []
    r.engine.subscribe(lambda e: progress.append(e) if type(e).__name__ == "Progress" else None)
    try:
        assert await r.engine.run_step(ALICE, "restore", confirm="restore") == "succeeded", r.result("restore")
        dump: Dump = big_dump["dump"]
        facts = r.facts("restore")
        assert facts["restored"] is True and facts["verified"] is True
        assert facts["database_state"] == "restored"
        assert facts["backup"]["name"] == name and facts["backup"]["format"] == fmt
        assert facts["backup"]["size"] == big_dump[fmt].stat().st_size
        if fmt == "zip":
            assert facts["backup"]["member"] == "db-dumps/mysql-salonmanager.sql"
        assert facts["sql_bytes"] == dump.size
        assert facts["verification"]["extra_tables"] == ["v100_new_feature"]
        assert {t: v["rows"] for t, v in facts["verification"]["tables"].items()} == dump.counts
        assert facts["precheck"]["method"] == ("mysqldump header and closing line" if fmt == "sql" else "full read")
        restore_progress = [p for p in progress if p.label == "restore"]
        assert len(restore_progress) >= 3 and restore_progress[-1].done == restore_progress[-1].total
        assert all(p.unit == "bytes" for p in restore_progress)
        assert_restored(db, dump)
        assert "POINT OF NO RETURN" in r.output("restore")
        warnings = [x["data"]["message"] for x in r.journal() if x["type"] == "step.warning"]
        assert any(w.startswith("POINT OF NO RETURN") for w in warnings)
        assert any("v100_new_feature" in w for w in warnings)
    finally:
        await r.engine.aclose()


async def test_safety_dump_then_restore_it_back(tmp_path, lab, db, monkeypatch):
    """The safety dump lands on the host, is announced before the point of no return, and restores."""
    db.reset()
    db.query("CREATE TABLE `odd ``name` (id INT PRIMARY KEY, b VARBINARY(20), f DOUBLE, t TEXT, bits BIT(5))")
    db.query("INSERT INTO `odd ``name` VALUES (1, X'00FF27', 0.1, 'it''s; -- x', b'10101'), (2, '', NULL, NULL, 0)")
    db.query("CREATE VIEW recent AS SELECT id FROM customers")
    before = {t: db.query(f"SELECT * FROM `{t.replace('`', '``')}` ORDER BY 1") for t in ("customers", "odd `name")}
    back = "storage/app/backups/warroom-safety/PLACEHOLDER"
    steps = mysql_step() + mysql_step("back", backup=back, safety_dump=False)
    dump = small_dump(tmp_path / "small.sql")
    r = await rig(tmp_path, lab, db, monkeypatch, steps)
    place(dump.sql, r.backups, "backup_file.sql")
    try:
        assert await r.engine.run_step(ALICE, "restore", confirm="restore") == "succeeded", r.result("restore")
        facts = r.facts("restore")
        safety = facts["safety_dump"]
        assert safety["on"] == "h1" and safety["tables"] == 3 and safety["views"] == 1
        path = Path(safety["path"])
        assert path.parent == r.backups / "warroom-safety" and path.name.startswith(db.name)
        assert path.exists() and not list(path.parent.glob("*.part"))
        journal = [x for x in r.journal() if x["type"] == "step.warning"]
        assert str(path) in journal[0]["data"]["message"] and "POINT OF NO RETURN" in journal[0]["data"]["message"]
        assert_restored(db, dump)
    finally:
        await r.engine.aclose()
    # restore the safety dump itself: the database is as it was before
    text = (tmp_path / "runbook.toml").read_text().replace("PLACEHOLDER", path.name)
    (tmp_path / "runbook.toml").write_text(text)
    shutil.rmtree(tmp_path / "state")
    r2 = await rig_again(tmp_path, db, monkeypatch)
    try:
        assert await r2.engine.run_step(ALICE, "back", confirm="restore") == "succeeded", r2.result("back")
        assert r2.facts("back")["backup"]["format"] == "sql.gz"
        after = {t: db.query(f"SELECT * FROM `{t.replace('`', '``')}` ORDER BY 1") for t in ("customers", "odd `name")}
        assert after == before
        assert db.query("SELECT COUNT(*) FROM recent")[0][0] == 2
        # like mysqldump's, the safety dump replaces the tables it has and leaves newer ones (reported)
        assert r2.facts("back")["verification"]["extra_tables"] == ["appointments", "attachments", "odd_rows"]
    finally:
        await r2.engine.aclose()


async def rig_again(tmp_path: Path, db: Db, monkeypatch) -> Rig:
    """A second engine on the same config and (edited) runbook files."""
    config = load_config(tmp_path / "config.toml")
    runbook = load_runbook(tmp_path / "runbook.toml", KINDS)
    engine = Engine.open(
        tmp_path / "state", build_plan(runbook, config), ALICE, severity="P0", trigger="test", config=config
    )
    engine.take_seat(ALICE)
    root_dir = Path(config.model.vars["app"]["root"])
    return Rig(engine, root_dir / "storage" / "app" / "backups", root_dir)


async def test_find_backup_picks_the_newest_usable_one(tmp_path, lab, db, monkeypatch):
    dump = small_dump(tmp_path / "small.sql")
    steps = mysql_step("find", operation="find-backup") + mysql_step("find-again", operation="find-backup")
    r = await rig(tmp_path, lab, db, monkeypatch, steps)
    place(dump.sql, r.backups, "old.sql", age_minutes=300)
    gz = r.backups / "newer.sql.gz"
    gz.write_bytes(gzip.compress(dump.sql.read_bytes(), 1))
    os.utime(gz, (time.time() - 120, time.time() - 120))
    with zipfile.ZipFile(r.backups / "newest-files-only.zip", "w") as z:
        z.writestr("storage/app/public/a.txt", "no database in here")
    (r.backups / "notes.txt").write_text("not a backup")
    (r.backups / "dangling.sql").symlink_to(tmp_path / "gone.sql")
    (r.backups / "warroom-safety-x.sql").write_text("-- ours, never picked\n")
    try:
        assert await r.engine.run_step(ALICE, "find") == "succeeded", r.result("find")
        facts = r.facts("find")["backup"]
        assert facts["name"] == "newer.sql.gz" and facts["format"] == "sql.gz"
        assert facts["size"] == gz.stat().st_size
        assert 100 <= facts["age_seconds"] <= 200 and facts["age"] == "2 min"
        out = r.output("find")
        assert "skipped" in out and "newest-files-only.zip" in out and "no db-dumps/" in out
        # a link to a newer dump elsewhere ("latest.sql -> ...") is judged by the file it points to
        elsewhere = tmp_path / "elsewhere.sql"
        shutil.copyfile(dump.sql, elsewhere)  # a copy: a hard link would share old.sql's mtime
        (r.backups / "latest.sql").symlink_to(elsewhere)
        assert await r.engine.run_step(ALICE, "find-again") == "succeeded", r.result("find-again")
        assert r.facts("find-again")["backup"]["name"] == "latest.sql"
        assert r.facts("find-again")["backup"]["size"] == dump.size
    finally:
        await r.engine.aclose()


async def test_zip_with_a_gzipped_dump_inside(tmp_path, lab, db, monkeypatch):
    db.reset()
    dump = small_dump(tmp_path / "small.sql")
    r = await rig(tmp_path, lab, db, monkeypatch, mysql_step(safety_dump=False))
    with zipfile.ZipFile(r.backups / "2025-01-10-02-00-00.zip", "w", zipfile.ZIP_STORED) as z:
        z.writestr("db-dumps/mysql-salonmanager.sql.gz", gzip.compress(dump.sql.read_bytes()))
    try:
        assert await r.engine.run_step(ALICE, "restore", confirm="restore") == "succeeded", r.result("restore")
        assert r.facts("restore")["backup"]["member"] == "db-dumps/mysql-salonmanager.sql.gz"
        assert_restored(db, dump)
    finally:
        await r.engine.aclose()


@pytest.mark.parametrize("setting", ["warn", "block"])
async def test_old_backup_warns_or_blocks(tmp_path, lab, db, monkeypatch, setting):
    db.reset()
    dump = small_dump(tmp_path / "small.sql")
    step = mysql_step(rpo_minutes=60, on_old_backup=setting, safety_dump=False)
    r = await rig(tmp_path, lab, db, monkeypatch, step)
    place(dump.sql, r.backups, "backup_file.sql", age_minutes=3 * 60 + 5)
    try:
        status = await r.engine.run_step(ALICE, "restore", confirm="restore")
        facts = r.facts("restore")
        assert facts["within_rpo"] is False and facts["rpo_minutes"] == 60
        warnings = [x["data"]["message"] for x in r.journal() if x["type"] == "step.warning"]
        if setting == "warn":
            assert status == "succeeded"
            assert any("3 h 05 min old, older than the RPO of 60 min" in w for w in warnings)
            assert facts["restored"] is True
        else:
            assert status == "failed"
            error = r.result("restore")["error"]
            assert "older than the RPO of 60 min" in error and "nothing was touched" in error
            assert facts["restored"] is False and facts["database_state"] == "untouched"
            assert not any("POINT OF NO RETURN" in w for w in warnings)
            assert db.query("SELECT name FROM customers WHERE id = 1")[0][0] == "damaged by v1.0.0"
    finally:
        await r.engine.aclose()


@pytest.mark.parametrize("via_ssh", [True, False])
async def test_preflight(tmp_path, lab, db, monkeypatch, via_ssh):
    db.reset()
    r = await rig(tmp_path, lab, db, monkeypatch, mysql_step("pre", operation="preflight", via_ssh=via_ssh))
    try:
        assert await r.engine.run_step(ALICE, "pre") == "succeeded", r.result("pre")
        facts = r.facts("pre")
        assert "MariaDB" in facts["server_version"] and facts["tables"] == 2
        assert facts["via"] == ("via SSH from h1" if via_ssh else "direct")
        assert facts["user"].startswith(db.user + "@")
    finally:
        await r.engine.aclose()


async def test_verify_operation_finds_a_row_count_mismatch(tmp_path, lab, db, monkeypatch):
    db.reset()
    dump = small_dump(tmp_path / "small.sql")
    steps = mysql_step(safety_dump=False) + mysql_step("check", operation="verify")
    steps += mysql_step("check-again", operation="verify")
    r = await rig(tmp_path, lab, db, monkeypatch, steps)
    place(dump.sql, r.backups, "backup_file.sql")
    try:
        assert await r.engine.run_step(ALICE, "restore", confirm="restore") == "succeeded"
        assert await r.engine.run_step(ALICE, "check") == "succeeded"
        assert r.facts("check")["verified"] is True
        db.query("DELETE FROM appointments WHERE id <= 3")
        assert await r.engine.run_step(ALICE, "check-again") == "failed"
        error = r.result("check-again")["error"]
        want = dump.counts["appointments"]
        assert f"table `appointments` has {want - 3} rows, the dump inserted {want}" in error
    finally:
        await r.engine.aclose()
