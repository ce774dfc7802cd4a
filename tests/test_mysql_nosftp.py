"""The mysql kind on a host whose sshd has no sftp subsystem (hardened hosts often have none).

Everything goes through the exec channel: finding the backup, reading it (a zip, so reads seek),
the safety dump written back, verify. Paths with quotes, spaces and ``$(...)`` stay paths.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import stat
import subprocess
import threading
import zipfile
from pathlib import Path

import asyncssh
import pytest
from mysql_support import ALICE, SOCKET, assert_restored, mysql_step, place, rig, small_dump

from actions.mysql.hostfiles import HostFiles
from console.model.errors import ActionError

pytest_plugins = ["mysql_fixtures"]
pytestmark = [
    pytest.mark.sshd,
    pytest.mark.skipif(not Path(SOCKET).exists(), reason="MariaDB not running: run ./scripts/setup-services"),
]

HOSTILE_DIR = "storage/it's $(touch pwned); `touch pwned2` dir"


def sftp_refused(lab, host) -> str:
    """The real OpenSSH sftp client against the host: its error when the subsystem is refused."""
    *options, login, _command = lab.ssh_argv(host, "")[1:]
    options[options.index("-p")] = "-P"
    result = subprocess.run(["sftp", *options, "-b", "/dev/null", login], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0, result
    return result.stderr


async def test_find_restore_and_verify_on_a_host_without_sftp(tmp_path, lab, db, monkeypatch):
    host = lab.start("h1", sftp=False)
    assert "subsystem request failed" in sftp_refused(lab, host)
    db.reset()
    dump = small_dump(tmp_path / "small.sql")
    steps = mysql_step("find", operation="find-backup", backup_dir=HOSTILE_DIR)
    steps += mysql_step(backup_dir=HOSTILE_DIR)
    steps += mysql_step("check", operation="verify", backup_dir=HOSTILE_DIR)
    steps += mysql_step("named", operation="find-backup", backup=f"{HOSTILE_DIR}/missing 'one'.sql.gz")
    r = await rig(tmp_path, lab, db, monkeypatch, steps)
    backups = r.host_root / HOSTILE_DIR
    backups.mkdir(parents=True)
    name = "2025-01-10 02'00 backup.zip"
    with zipfile.ZipFile(backups / name, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("salonmanager/storage/app/public/logo.txt", "files of the app\n" * 1000)
        z.writestr("db-dumps/mysql-salonmanager.sql.gz", gzip.compress(dump.sql.read_bytes()))
    place(dump.sql, backups, "older.sql", age_minutes=90)
    (backups / "newest-but-broken.zip").write_bytes(b"PK\x03\x04 cut off")
    try:
        assert await r.engine.run_step(ALICE, "find") == "succeeded", r.result("find")
        found = r.facts("find")["backup"]
        assert found["name"] == name and found["member"] == "db-dumps/mysql-salonmanager.sql.gz"
        assert found["size"] == (backups / name).stat().st_size
        out = r.output("find")
        assert "3 candidate backup(s)" in out and "skipped" in out and "newest-but-broken.zip" in out

        assert await r.engine.run_step(ALICE, "restore", confirm="restore") == "succeeded", r.result("restore")
        facts = r.facts("restore")
        assert facts["restored"] is True and facts["verified"] is True
        assert facts["rows_in_dump"] == sum(dump.counts.values())
        assert await r.engine.run_step(ALICE, "check") == "succeeded", r.result("check")
        assert r.facts("check")["verified"] is True
        assert_restored(db, dump)  # (adds a row to check the trigger: after the verify)
        safety = Path(facts["safety_dump"]["path"])
        assert safety.parent == backups / "warroom-safety" and safety.is_file()
        assert stat.S_IMODE(safety.stat().st_mode) == 0o600  # the whole database: owner-only
        assert facts["safety_dump"]["bytes"] == safety.stat().st_size
        assert gzip.decompress(safety.read_bytes()).startswith(b"-- warroom safety dump of")
        assert not list(safety.parent.glob("*.part"))

        assert await r.engine.run_step(ALICE, "named") == "failed"
        error = r.result("named")["error"]
        missing = backups / "missing 'one'.sql.gz"
        assert error == f"step named on h1: backup {missing} does not exist"
    finally:
        await r.engine.aclose()
    assert not list(r.host_root.rglob("pwned*")) and not list(Path.home().glob("pwned*"))


async def test_unreadable_places_are_one_line_naming_host_and_path(tmp_path, lab, db, monkeypatch):
    lab.start("h1", sftp=False)
    steps = mysql_step("find", operation="find-backup", backup_dir="no/such/dir")
    steps += mysql_step("file", operation="find-backup", backup_dir="a-file.sql")
    steps += mysql_step("dir", operation="find-backup", backup="storage/app/backups/subdir.sql")
    steps += mysql_step("dump-fails", safety_dump_dir="a-file.sql/safety")
    r = await rig(tmp_path, lab, db, monkeypatch, steps)
    db.reset()
    (r.host_root / "a-file.sql").write_text("-- not a directory\n")
    (r.backups / "subdir.sql").mkdir()  # a directory named like a dump is not a candidate
    try:
        assert await r.engine.run_step(ALICE, "find") == "failed"
        assert (
            r.result("find")["error"] == f"step find on h1: backup directory {r.host_root}/no/such/dir does not exist"
        )
        assert await r.engine.run_step(ALICE, "file") == "failed"
        assert r.result("file")["error"].endswith(f"{r.host_root}/a-file.sql is not a directory")
        assert await r.engine.run_step(ALICE, "dir") == "failed"
        assert r.result("dir")["error"] == f"step dir on h1: backup {r.backups}/subdir.sql is not a regular file"
        place(small_dump(tmp_path / "small.sql").sql, r.backups, "backup.sql")
        assert await r.engine.run_step(ALICE, "dump-fails", confirm="restore") == "failed"
        error = r.result("dump-fails")["error"]
        assert error.startswith(
            f"step dump-fails on h1: cannot write the safety dump to {r.host_root}/a-file.sql/safety:"
        )
        assert "Not a directory" in error and error.endswith("nothing was restored, the database was not touched")
        assert "\n" not in error
        assert db.query("SELECT name FROM customers WHERE id = 1")[0][0] == "damaged by v1.0.0"
    finally:
        await r.engine.aclose()


async def test_remote_file_reads_seeks_and_names_what_it_cannot_read(tmp_path, lab):
    """Reads at any offset return the host's bytes exactly, whatever the SSH packets' sizes."""
    host = lab.start("h1", sftp=False)
    data = os.urandom(3_000_000)
    path = host.root / "blob it's.bin"
    path.write_bytes(data)
    conn = await asyncssh.connect(
        "127.0.0.1", port=host.port, username=lab.user, client_keys=[str(lab.client_key)],
        known_hosts=str(lab.known_hosts),
    )  # fmt: skip
    files = HostFiles(conn, "h1", "step t on h1", threading.Event())
    try:
        entry = await files.stat(str(path))
        assert entry.size == len(data) and abs(entry.mtime - path.stat().st_mtime) < 1

        def reads() -> list[bytes]:
            raw = files.reader(str(path), entry.size)
            got = [raw.read(1_500_000)]  # one stream, read on
            raw.seek(-4096, 2)
            got.append(raw.read(4096))  # the tail: a second stream
            raw.seek(10)
            got.append(raw.read(100))
            raw.seek(len(data) - 10)
            got.append(raw.read(1 << 20))  # at the end: what there is
            got.append(raw.read(10))  # then nothing
            raw.close()
            return got

        got = await asyncio.to_thread(reads)
        assert got == [data[:1_500_000], data[-4096:], data[10:110], data[-10:], b""]

        def missing() -> bytes:
            return files.reader(str(host.root / "gone.sql"), 10).read(10)

        with pytest.raises(ActionError) as caught:
            await asyncio.to_thread(missing)
        assert str(caught.value).startswith(f"step t on h1: cannot read {host.root}/gone.sql on h1: tail: cannot open")
        assert "No such file or directory" in str(caught.value)
    finally:
        files.close()
        conn.close()
        await conn.wait_closed()
