"""Restoring a 200 MB dump through warroom's mysql step, side by side with ``mysql db < dump.sql``.

The data is tests/mysql_multidump.py's generator (``--tables`` tables, eight by default, of uneven
sizes, foreign keys, a trigger writing into another table, a view, a function; extended INSERTs
with tricky strings) at ``--size`` bytes, loaded once into a source database and dumped from
there by ``mariadb-dump`` (the dump restored) and by ``mydumper`` (myloader's own format). With
``--tables 0`` the dump is tests/mysql_dump.py's four-table one, as generated. All restore into
the same MariaDB (127.0.0.1:3306 over TCP, same user), the database dropped and created again
before every run:

- **mariadb**: ``mariadb -h 127.0.0.1 -u USER DB < dump.sql`` (password through MYSQL_PWD).
- **myloader**: ``myloader -d DIR -B DB -t N`` from mydumper's dump of the same data (one file per
  table, triggers and routines included), N = ``--parallel``.
- **warroom**: a runbook step of kind mysql, run by the real engine against a real sshd host
  whose backup directory holds the dump: found and read through the SSH exec channel, sent
  through the SSH tunnel (``via_ssh``, the default) or directly (``--direct``), then verified
  (row counts).
  Reported as the whole step and as the restore phase alone (the facts' ``restore_seconds``),
  with ``parallel = N`` (``--parallel``, 4 like the step's default) and ``parallel = 1`` (serial).

Every other run restores with warroom first and the clients after, so a shared machine getting
busier or quieter during a run favours neither side; the ratios are paired per run.

    .venv/bin/python benchmarks/mysql_restore.py [--size 210000000] [--runs 5] [--direct] [--stats]

Needs MariaDB (root on /run/mysqld/mysqld.sock), ``mariadb``, ``mariadb-dump``, ``mydumper`` and
/usr/sbin/sshd (./scripts/setup-services). Targets: warroom parallel / mariadb <= 0.75, serial
<= 1.15.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
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
from mysql_multidump import write_multidump  # noqa: E402
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


def make_dumps(backups: Path, base: Path, args, name: str, user: str, password: str) -> tuple[Path, Path | None]:
    """The dump the restores read and mydumper's directory of the same data (None: no mydumper)."""
    started = time.perf_counter()
    sql = backups / "backup_file.sql"
    if not args.tables:
        dump = write_dump(sql, args.size)
        print(
            f"dump: {dump.size / 1e6:.1f} MB, {sum(dump.counts.values())} rows, 4 tables, made in "
            f"{time.perf_counter() - started:.1f} s"
        )
        return sql, None
    made = write_multidump(base / "generated.sql", args.size, tables=args.tables)
    source = f"{name}_src"
    admin(f"DROP DATABASE IF EXISTS `{source}`")
    admin(f"CREATE DATABASE `{source}`")
    admin(f"GRANT ALL ON `{source}`.* TO %s@'%%'", user)  # its DEFINERs must be a user the restores may name
    tcp = ["-h", "127.0.0.1", "-P", "3306", "-u", user]
    env = {**os.environ, "MYSQL_PWD": password}
    try:
        with made.sql.open("rb") as src:
            subprocess.run(["mariadb", *tcp, source], stdin=src, env=env, check=True)
        made.sql.unlink()
        with sql.open("wb") as out:
            subprocess.run(
                ["mariadb-dump", *tcp, "--single-transaction", "--routines", "--triggers", source],
                stdout=out,
                env=env,
                check=True,
            )
        mydumper = None
        if shutil.which("mydumper"):
            mydumper = base / "mydumper"
            subprocess.run(
                ["mydumper", *tcp, "-p", password, "-B", source, "-o", str(mydumper), "-G", "-R", "-k", "-v", "1"],
                check=True,
            )
    finally:
        admin(f"DROP DATABASE IF EXISTS `{source}`")
    rows = sum(made.counts.values())
    print(
        f"dump: {sql.stat().st_size / 1e6:.1f} MB (mariadb-dump), {rows} rows in {args.tables} tables "
        f"(+ audit, a view, a trigger, a function), made in {time.perf_counter() - started:.1f} s"
    )
    return sql, mydumper


def myloader(directory: Path, name: str, user: str, password: str, threads: int, settle: float) -> float:
    reset(name, settle)
    started = time.perf_counter()
    subprocess.run(
        [
            "myloader",
            "-d",
            str(directory),
            "-B",
            name,
            "-t",
            str(threads),
            "-o",
            "-h",
            "127.0.0.1",
            "-P",
            "3306",
            "-u",
            user,
            "-p",
            password,
            "-v",
            "1",
        ],
        check=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=210_000_000, help="dump size in bytes (default 210 MB)")
    parser.add_argument("--tables", type=int, default=8, help="tables in the dump (0: tests/mysql_dump.py's four)")
    parser.add_argument("--parallel", type=int, default=4, help="the step's parallel and myloader's threads")
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
            dump, mydumped = make_dumps(backups, base, args, name, user, password)
            variants = {
                f"parallel {args.parallel}": {"safety_dump": False, "parallel": args.parallel},
                "serial": {"safety_dump": False, "parallel": 1},
            }
            if args.direct:
                variants[f"direct, parallel {args.parallel}"] = {
                    "safety_dump": False,
                    "via_ssh": False,
                    "parallel": args.parallel,
                }
            baseline: list[float] = []
            loader: list[float] = []
            steps: dict[str, list[float]] = {k: [] for k in variants}
            phases: dict[str, list[float]] = {k: [] for k in variants}
            for i in range(args.runs):
                parts: dict[str, str] = {}

                def client(i: int = i, parts: dict = parts) -> None:
                    baseline.append(mariadb_client(dump, name, user, password, args.settle))
                    parts["mariadb"] = f"mariadb {baseline[-1]:6.2f}s"
                    if mydumped:
                        loader.append(myloader(mydumped, name, user, password, args.parallel, args.settle))
                        parts["myloader"] = f"myloader {loader[-1]:6.2f}s"

                def ours(i: int = i, parts: dict = parts) -> None:
                    for label, params in variants.items():
                        wall, phase, stats = asyncio.run(
                            warroom(base, lab, name, user, i + 1, label, params, settle=args.settle)
                        )
                        steps[label].append(wall)
                        phases[label].append(phase)
                        parts[label] = f"warroom {label}: step {wall:6.2f}s, restore {phase:6.2f}s"
                        if args.stats:
                            parts[label] += f" {stats}"

                # Every other run the other way round, so a machine getting busier or quieter
                # during a run does not favour one side.
                for part in (client, ours) if i % 2 == 0 else (ours, client):
                    part()
                order = ["mariadb", "myloader", *variants]
                print(f"run {i + 1}: " + " | ".join(parts[k] for k in order if k in parts), flush=True)
            report(baseline, steps, phases, loader)
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


def report(
    baseline: list[float], steps: dict[str, list[float]], phases: dict[str, list[float]], loader: list[float]
) -> None:
    """Medians, minima and the median of each run's own ratio (robust to a busy machine)."""
    base = statistics.median(baseline)
    print()
    print(f"{'':44} {'median':>8} {'min':>8} {'ratio (medians)':>16} {'ratio (per run, median)':>24}")
    print(f"{'mariadb < dump.sql':44} {base:7.2f}s {min(baseline):7.2f}s {'1.00x':>16}")
    rows = [("myloader (mydumper's format)", loader)] if loader else []
    for label in steps:
        rows += [(f"warroom {label}, whole step", steps[label]), (f"warroom {label}, restore phase", phases[label])]
    for title, values in rows:
        paired = statistics.median(v / b for v, b in zip(values, baseline, strict=True))
        ratio = statistics.median(values) / base
        print(f"{title:44} {statistics.median(values):7.2f}s {min(values):7.2f}s {ratio:15.2f}x {paired:23.2f}x")


if __name__ == "__main__":
    main()
