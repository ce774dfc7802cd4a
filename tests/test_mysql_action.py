"""The mysql step kind against a real MariaDB, through real sshd hosts (SFTP and SSH tunnel).

A mysqldump-style dump of more than 50 MB (extended INSERTs, strings full of quotes, escapes,
semicolons and comment markers, binary BLOBs, a trigger and a function in DELIMITER blocks, a
view) is generated once per session and restored in each format a team keeps: .sql, .sql.gz
and a Laravel-backup .zip with db-dumps/. The database and its user (with a password) are made
by root over the unix socket; warroom connects over TCP like in production.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import random
import secrets
import shutil
import textwrap
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest
from conftest import write_config, write_runbook

from actions import registry
from actions.mysql.sql_census import Census, count_rows
from actions.mysql.sql_split import DumpError, split
from actions.registry import KINDS
from console.engine import Actor, Engine
from console.model.config import load_config
from console.model.errors import RunbookError
from console.model.plan import build_plan
from console.model.runbook import load_runbook

SOCKET = "/run/mysqld/mysqld.sock"
pytestmark = [
    pytest.mark.sshd,
    pytest.mark.skipif(not Path(SOCKET).exists(), reason="MariaDB not running: run ./scripts/setup-services"),
]
ALICE = Actor("alice", "driver")
BIG = 52 * 1000 * 1000
PASSWORD_ENV = "WR_TEST_DB_PASSWORD"

# ----- the dump --------------------------------------------------------------------------------

_ESCAPES = {0: b"\\0", 10: b"\\n", 13: b"\\r", 26: b"\\Z", 39: b"\\'", 34: b'\\"', 92: b"\\\\"}
TRICKY = [
    "it's",
    'say "hi"',
    "semi;colon;",
    "-- not a comment",
    "/* not a comment */",
    "# not a comment",
    "back\\slash\\",
    "new\nline\r\n",
    "),(",
    ");\n",
    "DELIMITER ;;",
    "émoji 😀",
    "*/ */",
    "'; DROP TABLE customers; --",
    "\\'",
    "''",
    "`tick`",
    "$$",
    "\x1a ctrl-z \x00 nul",
]
HEADER = b"""-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64)
--
-- Host: localhost    Database: salonmanager
-- ------------------------------------------------------
-- Server version	10.11.6-MariaDB-0+deb12u1

/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
"""
TABLES = {
    "customers": """CREATE TABLE `customers` (
  `id` int(11) NOT NULL,
  `name` varchar(100) NOT NULL,
  `email` varchar(100) NOT NULL,
  `notes` text DEFAULT NULL,
  `balance` decimal(10,2) NOT NULL,
  `created_at` datetime NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
    "appointments": """CREATE TABLE `appointments` (
  `id` int(11) NOT NULL,
  `customer_id` int(11) NOT NULL,
  `starts_at` datetime NOT NULL,
  `service` varchar(200) NOT NULL,
  `status` enum('booked','done','cancelled') NOT NULL,
  PRIMARY KEY (`id`),
  KEY `customer` (`customer_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    "attachments": """CREATE TABLE `attachments` (
  `id` int(11) NOT NULL,
  `data` blob NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    "odd_rows": """CREATE TABLE `odd_rows` (
  `id` int(11) NOT NULL,
  `txt` text NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
}
# Not mysqldump's style but legal SQL a hand-edited dump has: raw newlines in strings, doubled
# quotes, double-quoted strings, comments between rows, nested parentheses.
ODD_ROWS = b"""INSERT INTO `odd_rows` (`id`, `txt`) VALUES
(1, 'line one
line two; still the string'),   -- a comment with a quote ' and a ;
(2, 'it''s doubled'), /* block ; ' comment */ (3, "double \\" quoted; string"),
# hash comment ; '
(4, CONCAT('nested(', 'parens)')),
(5, 'tail');
"""
ODD_TEXT = {
    1: "line one\nline two; still the string",
    2: "it's doubled",
    3: 'double " quoted; string',
    4: "nested(parens)",
    5: "tail",
}
TRIGGER_TEXT = "n/a;; it's -- set by trigger"
ROUTINES = b"""/*!50003 SET @saved_sql_mode       = @@sql_mode */ ;
/*!50003 SET sql_mode              = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION' */ ;
DELIMITER ;;
/*!50003 CREATE*/ /*!50017 DEFINER=CURRENT_USER*/ /*!50003 TRIGGER `customers_bi` BEFORE INSERT ON `customers`
FOR EACH ROW BEGIN
  IF NEW.notes IS NULL THEN SET NEW.notes = 'n/a;; it''s -- set by trigger'; END IF;
END */;;
DELIMITER ;
/*!50003 SET sql_mode              = @saved_sql_mode */ ;
/*!50003 DROP FUNCTION IF EXISTS `greeting` */;
DELIMITER $$
CREATE DEFINER=CURRENT_USER FUNCTION `greeting`(n VARCHAR(50)) RETURNS varchar(100) CHARSET utf8mb4
    DETERMINISTIC
BEGIN
  -- a comment ; inside the body
  RETURN CONCAT('Hello; ', n, ' /* not a comment */');
END $$
DELIMITER ;
/*!50001 DROP VIEW IF EXISTS `big_spenders` */;
/*!50001 CREATE VIEW `big_spenders` AS SELECT `id`, `name` FROM `customers` WHERE `balance` > 9000 */;
"""
TRAILER = b"""/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;
/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;

-- Dump completed on 2025-01-10  2:00:00
"""


def esc(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return b"'" + b"".join(_ESCAPES.get(c, bytes((c,))) for c in raw) + b"'"


@dataclass
class Dump:
    sql: Path
    counts: dict[str, int]
    blobs: dict[int, bytes]
    size: int


def _inserts(table: str, rows, limit: int = 1_000_000):
    batch, size = [], 0
    for row in rows:
        batch.append(row)
        size += len(row) + 1
        if size >= limit:
            yield b"INSERT INTO `" + table.encode() + b"` VALUES " + b",".join(batch) + b";\n"
            batch, size = [], 0
    if batch:
        yield b"INSERT INTO `" + table.encode() + b"` VALUES " + b",".join(batch) + b";\n"


def write_dump(path: Path, size: int, *, seed: int = 7) -> Dump:
    """A mysqldump-style dump of about ``size`` bytes; returns the rows each table gets."""
    rnd = random.Random(seed)
    words = ["alpha", "beta", "salon", "haircut", "colour", "monday", "friday", "promo", "styling", "wash"]
    tails = []
    for i in range(997):
        note = TRICKY[i % len(TRICKY)] if i % 3 == 0 else " ".join(rnd.choices(words, k=rnd.randint(3, 20)))
        tails.append(
            b"%s,%s,%s,%d.%02d,'2024-%02d-%02d 10:%02d:00'"
            % (
                esc(f"Customer {i}"),
                esc(f"c{i}@example.test"),
                esc(note),
                rnd.randint(0, 9999),
                rnd.randint(0, 99),
                rnd.randint(1, 12),
                rnd.randint(1, 28),
                rnd.randint(0, 59),
            )
        )
    services = [esc(s) for s in ("cut; wash", "colour 'deluxe'", 'beard "trim"', "perm -- long", "nails # 2")]
    n_customers = int(size * 0.75) // (sum(map(len, tails)) // len(tails) + 9)
    n_appointments = int(size * 0.2) // (sum(map(len, services)) // len(services) + 47)
    blobs = {i: rnd.randbytes(rnd.randint(16, 400)) for i in range(1, 2001)}
    with path.open("wb") as f:
        f.write(HEADER)
        for name, create in TABLES.items():
            f.write(b"\n--\n-- Table structure for table `%s`\n--\n\n" % name.encode())
            f.write(b"DROP TABLE IF EXISTS `%s`;\n%s;\n" % (name.encode(), create.encode()))
        f.write(b"\nLOCK TABLES `customers` WRITE;\n/*!40000 ALTER TABLE `customers` DISABLE KEYS */;\n")
        f.writelines(_inserts("customers", (b"(%d,%s)" % (i, tails[i % 997]) for i in range(1, n_customers + 1))))
        f.write(b"/*!40000 ALTER TABLE `customers` ENABLE KEYS */;\nUNLOCK TABLES;\n")
        rows = (
            b"(%d,%d,'2025-01-%02d 09:00:00',%s,'%s')"
            % (i, i % n_customers + 1, i % 28 + 1, services[i % 5], (b"booked", b"done", b"cancelled")[i % 3])
            for i in range(1, n_appointments + 1)
        )
        f.writelines(_inserts("appointments", rows))
        f.writelines(_inserts("attachments", (b"(%d,%s)" % (i, esc(b)) for i, b in blobs.items()), 200_000))
        f.write(ODD_ROWS)
        f.write(ROUTINES)
        f.write(TRAILER)
    counts = {"customers": n_customers, "appointments": n_appointments, "attachments": len(blobs), "odd_rows": 5}
    return Dump(path, counts, blobs, path.stat().st_size)


@pytest.fixture(scope="session")
def big_dump(tmp_path_factory) -> dict[str, Path | Dump]:
    """The >50 MB dump in every format, made once per session."""
    base = tmp_path_factory.mktemp("dumps")
    dump = write_dump(base / "big.sql", BIG)
    assert dump.size >= 50 * 1000 * 1000
    gz = base / "big.sql.gz"
    with dump.sql.open("rb") as src, gzip.open(gz, "wb", compresslevel=1) as out:
        shutil.copyfileobj(src, out, 1 << 20)
    archive = base / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("salonmanager/storage/app/public/logo.txt", "files of the app\n")
        z.write(dump.sql, "db-dumps/mysql-salonmanager.sql")
    return {"dump": dump, "sql": dump.sql, "sql.gz": gz, "zip": archive}


# ----- the database ----------------------------------------------------------------------------


def root() -> pymysql.Connection:
    return pymysql.connect(unix_socket=SOCKET, user="root", autocommit=True)


@dataclass
class Db:
    name: str
    user: str
    password: str

    def query(self, sql: str, *args) -> list[tuple]:
        conn = root()
        try:
            with conn.cursor() as cur:
                cur.execute(f"USE `{self.name}`")
                cur.execute(sql, args or None)
                return list(cur.fetchall())
        finally:
            conn.close()

    def reset(self) -> None:
        """An app database as the bad deploy left it: wrong rows, a table the dump does not know."""
        conn = root()
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{self.name}`")
                cur.execute(f"CREATE DATABASE `{self.name}`")
                cur.execute(f"USE `{self.name}`")
                cur.execute("CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(100))")
                cur.execute("INSERT INTO customers VALUES (1, 'damaged by v1.0.0'), (2, 'also damaged')")
                cur.execute("CREATE TABLE v100_new_feature (id INT PRIMARY KEY)")
        finally:
            conn.close()


@pytest.fixture(scope="session")
def db() -> Db:
    token = secrets.token_hex(4)
    found = Db(f"wr_mysql_{token}", f"wr_mysql_{token}", f"pw-{secrets.token_urlsafe(12)}'\";")
    conn = root()
    with conn.cursor() as cur:
        cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (found.user, found.password))
        cur.execute(f"GRANT ALL ON `{found.name}`.* TO %s@'%%'", (found.user,))
    conn.close()
    yield found
    conn = root()
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{found.name}`")
        cur.execute("DROP USER IF EXISTS %s@'%%'", (found.user,))
    conn.close()


# ----- the engine ------------------------------------------------------------------------------


@dataclass
class Rig:
    engine: Engine
    backups: Path
    host_root: Path

    def result(self, step: str) -> dict:
        return self.engine.state.steps[step].attempt.results["h1"]

    def facts(self, step: str) -> dict:
        return self.result(step).get("facts", {})

    def output(self, step: str, attempt: int = 1) -> str:
        return self.engine.output_path(step, attempt, "h1").read_text()

    def journal(self) -> list[dict]:
        return [json.loads(line) for line in self.engine.journal.path.read_text().splitlines()]


def mysql_step(step_id: str = "restore", **params) -> str:
    params.setdefault("operation", "restore")
    body = ", ".join(f"{k} = {json.dumps(v)}" for k, v in params.items())
    destructive = params["operation"] == "restore"
    return textwrap.dedent(
        f"""
        [[phases.steps]]
        id = "{step_id}"
        title = "Database {step_id}"
        kind = "mysql"
        targets = "app"
        cwd = "{{{{ app.root }}}}"
        timeout = 120
        destructive = {str(destructive).lower()}
        confirm = "{"restore" if destructive else ""}"
        params = {{ {body} }}
        """
    )


async def rig(tmp_path: Path, lab, db: Db, monkeypatch, steps: str, *, password: str | None = None) -> Rig:
    monkeypatch.setenv(PASSWORD_ENV, db.password if password is None else password)
    host = lab.start("h1")
    extra = f"""
        [app]
        root = "{host.root}"

        [database]
        host = "127.0.0.1"
        port = 3306
        name = "{db.name}"
        user = "{db.user}"
        password = "env:{PASSWORD_ENV}"
        """
    config = load_config(write_config(tmp_path / "config.toml", lab, ["h1"], extra=extra))
    runbook = load_runbook(write_runbook(tmp_path / "runbook.toml", steps), KINDS)
    engine = Engine.open(
        tmp_path / "state", build_plan(runbook, config), ALICE, severity="P0", trigger="test", config=config
    )
    engine.take_seat(ALICE)
    backups = host.root / "storage" / "app" / "backups"
    backups.mkdir(parents=True)
    return Rig(engine, backups, host.root)


def place(src: Path, backups: Path, name: str, age_minutes: float = 5) -> Path:
    """Put a backup on the host (a hard link: instant, and a regular file over SFTP)."""
    dest = backups / name
    os.link(src, dest)
    stamp = time.time() - age_minutes * 60
    os.utime(dest, (stamp, stamp))
    return dest


def small_dump(path: Path, *, extra: bytes = b"", trailer: bool = True) -> Dump:
    dump = write_dump(path, 200_000, seed=3)
    if extra or not trailer:
        data = dump.sql.read_bytes().replace(TRAILER, extra + (TRAILER if trailer else b""))
        dump.sql.write_bytes(data)
    return dump


def assert_restored(db: Db, dump: Dump) -> None:
    for table, rows in dump.counts.items():
        assert db.query(f"SELECT COUNT(*) FROM `{table}`")[0][0] == rows, table
    notes = dict(db.query("SELECT id, notes FROM customers WHERE id <= %s", len(TRICKY) * 3))
    for i in range(0, len(TRICKY) * 3, 3):
        if i:
            assert notes[i] == TRICKY[(i % 997) % len(TRICKY)], i
    blobs = dict(db.query("SELECT id, data FROM attachments WHERE id <= 50"))
    assert all(blobs[i] == dump.blobs[i] for i in range(1, 51))
    assert dict(db.query("SELECT id, txt FROM odd_rows")) == ODD_TEXT
    assert db.query("SELECT greeting('Ann')")[0][0] == "Hello; Ann /* not a comment */"
    assert db.query("SELECT COUNT(*) FROM big_spenders")[0][0] > 0
    db.query("INSERT INTO customers (id, name, email, notes, balance, created_at) VALUES (0, 'x', 'y', NULL, 1, NOW())")
    assert db.query("SELECT notes FROM customers WHERE id = 0")[0][0] == TRIGGER_TEXT


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
    root_dir = Path(config.model.app.root)
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


# ----- plan and static checks ------------------------------------------------------------------


def planned(step_toml: str, tmp_path: Path, lab) -> list[str]:
    host = lab.start("h1")
    extra = '[app]\nroot = "/srv/salon"\n\n[database]\nname = "salon"\nuser = "app"\npassword = "env:X"\n'
    config = load_config(write_config(tmp_path / "config.toml", lab, ["h1"], extra=extra))
    plan = build_plan(load_runbook(write_runbook(tmp_path / "runbook.toml", step_toml), KINDS), config)
    step = next(iter(plan.steps.values()))
    assert host.name in step.hosts
    return [f"{c.host}$ {c.text}" for c in registry.create("mysql").plan(step)]


def test_plan_says_exactly_what_a_restore_does(tmp_path, lab):
    target = "{{ database.user }}@{{ database.host }}:{{ database.port }}/{{ database.name }}"
    lines = planned(mysql_step(database=target, rpo_minutes=60, on_old_backup="block"), tmp_path, lab)
    text = "\n".join(lines)
    assert "h1$ find the newest backup in /srv/salon/storage/app/backups on h1 over SFTP" in text
    assert "RPO of 60 min; if older: stop (block)" in text
    assert "safety dump of the current database to h1:/srv/salon/storage/app/backups/warroom-safety/" in text
    assert "POINT OF NO RETURN: restore the dump into app@127.0.0.1:3306/salon through an SSH tunnel from h1" in text
    assert "verify: every table of the dump present" in text
    assert lines.index(next(x for x in lines if "safety dump" in x)) < lines.index(
        next(x for x in lines if "POINT OF NO RETURN" in x)
    )


def test_plan_without_safety_dump_says_so(tmp_path, lab):
    step = mysql_step(safety_dump=False, via_ssh=False, backup="{{ database.dump_file }}")
    lines = planned(step, tmp_path, lab)
    assert any("NO safety dump" in x for x in lines)
    assert any("use backup /srv/salon/storage/app/backups/backup_file.sql on h1" in x for x in lines)
    assert any("directly from the warroom machine" in x for x in lines)


@pytest.mark.parametrize(
    ("params", "destructive", "problem"),
    [
        ({"operation": "restore", "speed": 3}, True, "unknown parameter"),
        ({"operation": "restore"}, False, "destructive = true"),
        ({"operation": "drop-everything"}, False, "give operation = one of"),
        ({"operation": "find-backup", "rpo_minutes": "60"}, False, "expected int"),
        ({"operation": "find-backup", "on_old_backup": "ignore"}, False, 'expected "warn" or "block"'),
        ({"operation": "verify", "database": "nonsense"}, False, "expected user@host:port/name"),
    ],
)
def test_bad_params_are_refused_when_the_runbook_loads(tmp_path, params, destructive, problem):
    body = ", ".join(f"{k} = {json.dumps(v)}" for k, v in params.items())
    step = f"""
        [[phases.steps]]
        id = "db"
        title = "Database"
        kind = "mysql"
        targets = "app"
        destructive = {str(destructive).lower()}
        confirm = "restore"
        params = {{ {body} }}
        """
    with pytest.raises(RunbookError) as info:
        load_runbook(write_runbook(tmp_path / "runbook.toml", step), KINDS)
    assert problem in str(info.value)
    assert "params" in str(info.value) or "destructive" in str(info.value)


# ----- the splitter and the census, on their own ---------------------------------------------------

TRICKY_DUMP = rb"""-- MariaDB dump
/*!40101 SET NAMES utf8mb4 */;
# hash comment ; with 'quote
INSERT INTO `t` VALUES (1,'it\'s; -- no'),(2,"a\"b;"),(3,'/* x */'),(4,'#;'); -- trailing ; 'x
/* plain ; comment */ SELECT 1 - -1, 5--3, 2/3;
DELIMITER ;;
/*!50003 CREATE*/ /*!50003 TRIGGER x BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = ';;'; SET @b = 1; END */;;
DELIMITER ;
DELIMITER //
CREATE PROCEDURE p() BEGIN SELECT '//'; SELECT 1/2; END//
DELIMITER ;
SELECT `we;ird``x`;
-- Dump completed
"""


def test_splitter_is_the_same_whatever_the_chunk_boundaries():
    whole = [(s.number, s.line, s.text) for s in split([TRICKY_DUMP])]
    assert [t for _, _, t in whole] == [
        b"/*!40101 SET NAMES utf8mb4 */",
        b"INSERT INTO `t` VALUES (1,'it\\'s; -- no'),(2,\"a\\\"b;\"),(3,'/* x */'),(4,'#;')",
        b"SELECT 1 - -1, 5--3, 2/3",
        b"/*!50003 CREATE*/ /*!50003 TRIGGER x BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = ';;'; "
        b"SET @b = 1; END */",
        b"CREATE PROCEDURE p() BEGIN SELECT '//'; SELECT 1/2; END",
        b"SELECT `we;ird``x`",
    ]
    assert [line for _, line, _ in whole] == [2, 4, 5, 7, 10, 12]
    for size in (1, 2, 3, 5, 8, 13, 64):
        chunks = [TRICKY_DUMP[i : i + size] for i in range(0, len(TRICKY_DUMP), size)]
        assert [(s.number, s.line, s.text) for s in split(chunks)] == whole, size


@pytest.mark.parametrize(
    ("text", "number", "reason"),
    [
        (b"SELECT 1;\nINSERT INTO t VALUES ('abc", 2, "ends inside a quoted string opened on line 2"),
        (b"SELECT 1;\nSELECT 2;\nINSERT INTO t VALUES (1),(2)", 3, "ends before this statement's ';'"),
        (b"SELECT 1;\n/*!40101 SET x=1 */;\nSELECT /* open", 3, "ends inside a comment"),
        (b"SELECT 1;\nDELIMITER ;;\nSELECT 2;", 2, "ends before this statement's ';;'"),
    ],
)
def test_torn_dumps_name_statement_and_reason(text, number, reason):
    with pytest.raises(DumpError) as info:
        list(split([text]))
    assert info.value.number == number and reason in str(info.value)


def test_census_counts_rows_per_table_and_refuses_other_databases():
    text = b"""CREATE TABLE `a` (x int);
INSERT INTO `a` VALUES (1),(2),('x(y'),(POINT(1,2));
INSERT IGNORE INTO a (`x`,y) VALUES (1,'a'),(2,'b');
INSERT INTO `b` SET x=1;
CREATE TABLE b (y int);
INSERT INTO b SELECT * FROM a;
DROP TABLE IF EXISTS `zz`, `c`;
CREATE TABLE d (id int primary key, n int);
INSERT INTO d VALUES (1, 1), (2, 2) ON DUPLICATE KEY UPDATE n = VALUES(n) + 1;
CREATE TABLE e (id int);
INSERT INTO e WITH x AS (SELECT 1) SELECT * FROM x;
INSERT INTO `db`.`e` VALUE (1), (2);
"""
    census = Census("db")
    for stmt in split([text]):
        census.see(stmt)
    assert census.tables == {"a": 6, "b": None, "d": None, "e": None}
    assert count_rows(b" (1,'a),(b'),(2,\"c)\"),(3, CONCAT('(', ')'))") == 3
    with pytest.raises(DumpError) as info:
        for stmt in split([b"SELECT 1;\nUSE `production`;\n"]):
            census.see(stmt)
    assert info.value.number == 2 and "writes into database 'production', not 'db'" in str(info.value)


async def test_a_restore_refuses_more_than_one_host(tmp_path, lab, db, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, db.password)
    extra = f'[app]\nroot = "/srv"\n[database]\nname = "{db.name}"\nuser = "u"\npassword = "env:{PASSWORD_ENV}"\n'
    config = load_config(write_config(tmp_path / "config.toml", lab, ["h1", "h2"], extra=extra))
    plan = build_plan(load_runbook(write_runbook(tmp_path / "runbook.toml", mysql_step()), KINDS), config)
    lines = registry.create("mysql").plan(plan.steps["restore"])
    assert [c.host for c in lines] == ["h1", "h2"]
    assert all("refused: a restore runs on one host" in c.text for c in lines)
    engine = Engine.open(tmp_path / "state", plan, ALICE, severity="P0", trigger="test", config=config)
    engine.take_seat(ALICE)
    try:
        assert await engine.run_step(ALICE, "restore", confirm="restore") == "failed"
        assert 'runs on exactly one host (the database is shared), not 2 (h1, h2); set run_on = "one"' in (
            engine.state.steps["restore"].attempt.error
        )
    finally:
        await engine.aclose()
