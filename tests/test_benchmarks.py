"""Every benchmark in benchmarks/ still runs: once each, at a tiny size, as the README runs it.

The figures are not checked (a smoke run on a busy machine measures nothing); what is checked is
that each script ends well and prints the lines its report is made of. A file added to
benchmarks/ without a tiny size here fails the coverage test, so none is forgotten.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
MYSQL_SOCKET = Path("/run/mysqld/mysqld.sock")
DOCKER_SOCKET = Path("/var/run/docker.sock")
SSHD = Path("/usr/sbin/sshd")
MYLOADER = Path("/usr/bin/myloader")  # Debian's mydumper package

# script: (its tiny-size arguments, lines its report must contain, what it needs)
SMOKE: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[Path, ...]]] = {
    "ansible_fanout.py": (
        ("--hosts", "2"),
        (
            "command: 'uptime' on 2 hosts",
            "ansible -f N ad hoc (baseline)",
            "warroom ssh kind (step)",
            "warroom ansible kind (step)",
            "x ad hoc",
        ),
        (SSHD,),
    ),
    "bastion_fanout.py": (
        ("--hosts", "2", "--runs", "1"),
        ("2 hosts behind one bastion", "ssh -J per host", "warroom fan-out step", "warroom / ssh"),
        (SSHD,),
    ),
    "compose_status.py": (
        ("--containers", "2", "--runs", "1"),
        ("2 containers in one compose project", "docker ps --filter (local CLI)", "warroom docker status step"),
        (SSHD, DOCKER_SOCKET),
    ),
    "drill_first_paint.py": (
        ("--runs", "1"),
        ("bare Textual app", "warroom drill: first paint", "warroom run: first paint", "x bare"),
        (SSHD,),
    ),
    "journal_append.py": (
        ("--events", "20", "--rounds", "1"),
        ("baseline write+fsync", "warroom journal", "with a secret mask"),
        (),
    ),
    "mysql_restore.py": (
        ("--size", "200000", "--runs", "1", "--settle", "0"),
        (
            "dump:",
            "run 1: mariadb",
            "mariadb < dump.sql",
            "myloader (mydumper's format)",
            "warroom parallel 4, whole step",
            "warroom serial, whole step",
        ),
        (SSHD, MYSQL_SOCKET, MYLOADER),
    ),
    "ssh_sessions.py": (
        ("--observers", "1", "--changes", "1", "--connects", "1", "--profile"),
        (
            "ssh connect to first paint",
            "tick to each observer",
            "CPU per tick",
            "CPU when idle",
            "PSS per ssh session",
            "driver's key to its repaint",
            "== shared views",
            "== a console per session",
            "shared / own:",
            "profile of one observer's console: 3 s idle",
            "profile of one observer's console: changes",
        ),
        (SSHD,),
    ),
    "web_viewers.py": (
        ("--viewers", "5", "--notes", "3", "--gap", "0.2"),
        (
            "web viewers on loopback",
            "driver note round trip, no viewer",
            "driver note round trip, 5 viewers",
            "ratio (with / without viewers)",
            "update to each viewer",
            "viewers with every update: 5/5",
        ),
        (SSHD,),
    ),
    "stream_console.py": (
        ("--lines", "2000", "--runs", "1"),
        ("seq 1 2000 on 1 host(s)", "ssh wall (baseline)", "console / ssh", "RSS growth"),
        (SSHD,),
    ),
}


def test_every_benchmark_has_a_smoke_run():
    scripts = {p.name for p in BENCHMARKS.iterdir() if p.is_file() and p.name != "README.md"}
    assert scripts == set(SMOKE), "give each file in benchmarks/ a tiny size in tests/test_benchmarks.py SMOKE"


@pytest.mark.parametrize("script", sorted(SMOKE))
def test_benchmark_runs_at_a_tiny_size(script: str):
    args, expected, needs = SMOKE[script]
    missing = [str(p) for p in needs if not p.exists()]
    if missing or (SSHD in needs and not shutil.which("ssh")):
        pytest.skip(f"needs {', '.join(missing) or 'ssh'}: run ./scripts/setup-services")
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    for line in expected:
        assert line in result.stdout, f"{script} printed no {line!r}:\n{result.stdout}"
