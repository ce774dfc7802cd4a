"""The mysql tests' database, engine rig and backup helpers (the dump itself is mysql_dump.py).

The database and its user (with a password) are made by root over the unix socket; warroom
connects over TCP like in production. The session fixtures ``db`` and ``big_dump`` are in
mysql_fixtures.py.
"""

from __future__ import annotations

import json
import os
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pymysql
from conftest import declare, write_config, write_runbook
from mysql_dump import ODD_TEXT, TRAILER, TRICKY, TRIGGER_TEXT, Dump, write_dump

from actions.registry import KINDS
from console.engine import Actor, Engine
from console.model.config import load_config
from console.model.plan import build_plan
from console.model.runbook import load_runbook

SOCKET = "/run/mysqld/mysqld.sock"
ALICE = Actor("alice", "driver")
PASSWORD_ENV = "WR_TEST_DB_PASSWORD"


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


DB_TARGET = "{{ database.user }}@{{ database.host }}:{{ database.port }}/{{ database.name }}"
"""A mysql step's ``database``, from the variables :data:`MYSQL_VARIABLES` declares."""

MYSQL_VARIABLES = declare(
    app__root="path",
    database__host=("string", "127.0.0.1"),
    database__port=("integer", 3306),
    database__name="string",
    database__user="string",
    database__password="secret",
    database__dump_file=("path", "storage/app/backups/backup_file.sql"),
)
"""What the mysql tests' runbooks declare; :func:`database_extra` gives the values."""


def write_mysql_runbook(path: Path, steps: str) -> Path:
    return write_runbook(path, steps, variables=MYSQL_VARIABLES)


def mysql_step(step_id: str = "restore", **params) -> str:
    params.setdefault("operation", "restore")
    params.setdefault("database", DB_TARGET)
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
        run_on = "{"one" if destructive else "all"}"
        params = {{ {body} }}
        """
    )


def database_extra(root: Path, name: str, user: str, password_env: str = PASSWORD_ENV) -> str:
    """The config's ``[vars.app]`` and ``[vars.database]`` for a restore on host h1 into the local MariaDB over TCP."""
    return f"""
        [vars.app]
        root = "{root}"

        [vars.database]
        host = "127.0.0.1"
        port = 3306
        name = "{name}"
        user = "{user}"
        password = "env:{password_env}"
        """


async def rig(tmp_path: Path, lab, db: Db, monkeypatch, steps: str, *, password: str | None = None) -> Rig:
    monkeypatch.setenv(PASSWORD_ENV, db.password if password is None else password)
    host = lab.hosts.get("h1") or lab.start("h1")  # a test may start h1 its own way (no sftp)
    config = load_config(
        write_config(tmp_path / "config.toml", lab, ["h1"], extra=database_extra(host.root, db.name, db.user))
    )
    runbook = load_runbook(write_mysql_runbook(tmp_path / "runbook.toml", steps), KINDS)
    engine = Engine.open(
        tmp_path / "state", build_plan(runbook, config), ALICE, severity="P0", trigger="test", config=config
    )
    engine.take_seat(ALICE)
    backups = host.root / "storage" / "app" / "backups"
    backups.mkdir(parents=True)
    return Rig(engine, backups, host.root)


def place(src: Path, backups: Path, name: str, age_minutes: float = 5) -> Path:
    """Put a backup on the host (a hard link: instant, and a regular file on the host)."""
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
