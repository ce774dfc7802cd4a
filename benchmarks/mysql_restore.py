"""Restoring a 200 MB dump through warroom's mysql step, side by side with ``mysql db < dump.sql``.

The dump is tests/mysql_dump.py's generator (extended INSERTs with tricky strings, BLOBs,
a trigger and a function in DELIMITER blocks) at ``--size`` bytes. Both restore into the same
MariaDB (127.0.0.1:3306 over TCP, same user), the database dropped and created again before
every run:

- **mariadb**: ``mariadb -h 127.0.0.1 -u USER DB < dump.sql`` (password through MYSQL_PWD).
- **warroom**: a runbook step of kind mysql, run by the real engine against a real sshd host
  whose backup directory holds the dump: found and read through the SSH exec channel, sent
  through the SSH tunnel (``via_ssh``, the default) or directly (``--direct``), then verified
  (row counts).
  Reported as the whole step and as the restore phase alone (the facts' ``restore_seconds``).

    .venv/bin/python benchmarks/mysql_restore.py [--size 210000000] [--runs 5] [--direct] [--stats]

Needs MariaDB (root on /run/mysqld/mysqld.sock), ``mariadb`` and /usr/sbin/sshd
(./scripts/setup-services). Target: warroom / mariadb <= 1.15.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import pymysql  # noqa: E402
from conftest import write_config  # noqa: E402
from mysql_dump import write_dump  # noqa: E402
from mysql_support import SOCKET, database_extra, mysql_step, write_mysql_runbook  # noqa: E402
from sshd import SSHLab  # noqa: E402

from actions.registry import KINDS  # noqa: E402
from console.engine import Actor, Engine  # noqa: E402
from console.model.config import load_config  # noqa: E402
from console.model.plan import build_plan  # noqa: E402
from console.model.runbook import load_runbook  # noqa: E402

ALICE = Actor("bench", "driver")


def admin(sql: str, *args) -> None:
    conn = pymysql.connect(unix_socket=SOCKET, user="root", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args or None)
    finally:
        conn.close()


def reset(name: str, settle: float) -> None:
    """Drop and create the database, then wait (at most ``settle`` s) for InnoDB to flush what the last run
    left dirty."""
    admin(f"DROP DATABASE IF EXISTS `{name}`")
    admin(f"CREATE DATABASE `{name}`")
    conn = pymysql.connect(unix_socket=SOCKET, user="root", autocommit=True)
    try:
        with conn.cursor() as cur:
            deadline, last = time.monotonic() + settle, None
            while time.monotonic() < deadline:
                cur.execute("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'")
                dirty = int(cur.fetchone()[1])
                if dirty < 50 or dirty == last:
                    break
                last = dirty
                time.sleep(1)
    finally:
        conn.close()


def mariadb_client(dump: Path, name: str, user: str, password: str, settle: float) -> float:
    reset(name, settle)
    env = {**os.environ, "MYSQL_PWD": password}
    started = time.perf_counter()
    with dump.open("rb") as src:
        subprocess.run(["mariadb", "-h", "127.0.0.1", "-P", "3306", "-u", user, name], stdin=src, env=env, check=True)
    return time.perf_counter() - started


async def warroom(
    base: Path,
    lab: SSHLab,
    name: str,
    user: str,
    run: int,
    label: str,
    params: dict,
    keep: bool = False,
    settle: float = 60.0,
) -> tuple:
    """One restore by the real engine; ``(step wall time, restore phase, restore_stats or facts)``."""
    if not keep:
        reset(name, settle)
    work = base / f"run{run}-{label.replace(' ', '-')}"
    work.mkdir()
    host = lab.hosts["h1"]
    extra = database_extra(host.root, name, user, "BENCH_DB_PASSWORD")
    config = load_config(write_config(work / "config.toml", lab, ["h1"], extra=extra))
    runbook = load_runbook(write_mysql_runbook(work / "runbook.toml", mysql_step(**params)), KINDS)
    engine = Engine.open(
        work / "state", build_plan(runbook, config), ALICE, severity="P0", trigger="bench", config=config
    )
    engine.take_seat(ALICE)
    try:
        started = time.perf_counter()
        status = await engine.run_step(ALICE, "restore", confirm="restore")
        wall = time.perf_counter() - started
        result = engine.state.steps["restore"].attempt.results["h1"]
        if status != "succeeded":
            raise SystemExit(f"warroom restore failed: {result.get('error')}")
        facts = result["facts"]
        return wall, facts["restore_seconds"], facts if keep else facts["restore_stats"]
    finally:
        await engine.aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=210_000_000, help="dump size in bytes (default 210 MB)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--direct", action="store_true", help="also run with via_ssh = false")
    parser.add_argument("--stats", action="store_true", help="print each run's restore_stats fact")
    parser.add_argument(
        "--safety-dump", action="store_true", help="then time the whole step with a safety dump of the restored data"
    )
    parser.add_argument("--dir", default=None, help="where to write the dump (default: a temp dir)")
    parser.add_argument(
        "--settle", type=float, default=60.0, help="longest wait for InnoDB to flush before each run (seconds)"
    )
    args = parser.parse_args()
    token = secrets.token_hex(3)
    name = user = f"wr_bench_{token}"
    password = secrets.token_urlsafe(16)
    os.environ["BENCH_DB_PASSWORD"] = password
    admin("CREATE USER %s@'%%' IDENTIFIED BY %s", user, password)
    admin(f"GRANT ALL ON `{name}`.* TO %s@'%%'", user)
    try:
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp, SSHLab(Path(tmp) / "lab") as lab:
            base = Path(tmp)
            host = lab.start("h1")
            backups = host.root / "storage" / "app" / "backups"
            backups.mkdir(parents=True)
            started = time.perf_counter()
            dump = write_dump(backups / "backup_file.sql", args.size)
            rows = sum(dump.counts.values())
            print(f"dump: {dump.size / 1e6:.1f} MB, {rows} rows, made in {time.perf_counter() - started:.1f} s")
            variants = {"SSH tunnel": {"safety_dump": False}}
            if args.direct:
                variants["direct TCP"] = {"safety_dump": False, "via_ssh": False}
            baseline: list[float] = []
            steps: dict[str, list[float]] = {k: [] for k in variants}
            phases: dict[str, list[float]] = {k: [] for k in variants}
            for i in range(args.runs):
                baseline.append(mariadb_client(dump.sql, name, user, password, args.settle))
                line = f"run {i + 1}: mariadb {baseline[-1]:6.2f}s"
                for label, params in variants.items():
                    wall, phase, stats = asyncio.run(
                        warroom(base, lab, name, user, len(baseline), label, params, settle=args.settle)
                    )
                    steps[label].append(wall)
                    phases[label].append(phase)
                    line += f" | warroom {label}: step {wall:6.2f}s, restore {phase:6.2f}s"
                    if args.stats:
                        line += f" {stats}"
                print(line, flush=True)
            report(baseline, steps, phases)
            if args.safety_dump:
                safety_dump(base, lab, name, user)
    finally:
        admin(f"DROP DATABASE IF EXISTS `{name}`")
        admin("DROP USER IF EXISTS %s@'%%'", user)


def safety_dump(base: Path, lab: SSHLab, name: str, user: str) -> None:
    """Restore once more over the restored database, with the safety dump taken first."""
    wall, phase, facts = asyncio.run(warroom(base, lab, name, user, 999, "safety", {}, keep=True))
    safety = facts["safety_dump"]
    print(
        f"\nwith a safety dump of the restored database first: step {wall:.2f}s, of which safety dump "
        f"{safety['seconds']:.2f}s ({safety['rows']} rows, {safety['sql_bytes'] / 1e6:.1f} MB of SQL, "
        f"{safety['bytes'] / 1e6:.1f} MB gzipped on the host), restore {phase:.2f}s"
    )


def report(baseline: list[float], steps: dict[str, list[float]], phases: dict[str, list[float]]) -> None:
    """Medians, minima and the median of each run's own ratio (robust to a busy machine)."""
    base = statistics.median(baseline)
    print()
    print(f"{'':34} {'median':>8} {'min':>8} {'ratio (medians)':>16} {'ratio (per run, median)':>24}")
    print(f"{'mariadb < dump.sql':34} {base:7.2f}s {min(baseline):7.2f}s {'1.00x':>16}")
    for label in steps:
        for what, values in (("whole step", steps[label]), ("restore phase", phases[label])):
            paired = statistics.median(v / b for v, b in zip(values, baseline, strict=True))
            ratio = statistics.median(values) / base
            print(
                f"{'warroom ' + label + ', ' + what:34} {statistics.median(values):7.2f}s {min(values):7.2f}s "
                f"{ratio:15.2f}x {paired:23.2f}x"
            )


if __name__ == "__main__":
    main()
