"""SSH steps against real OpenSSH servers on loopback: fan-out, failure, timeout, cancel, host keys."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from conftest import declare, ssh_step, write_config, write_runbook

from actions.registry import KINDS
from console.engine import Actor, Engine
from console.model.config import load_config
from console.model.plan import build_plan
from console.model.runbook import load_runbook

pytestmark = pytest.mark.sshd
ALICE = Actor("alice", "driver")


def open_engine(tmp_path: Path, lab, hosts: list[str], steps: str, *, variables: str = "", **config_kw) -> Engine:
    config = load_config(write_config(tmp_path / "config.toml", lab, hosts, **config_kw))
    runbook = load_runbook(write_runbook(tmp_path / "runbook.toml", steps, variables=variables), KINDS)
    engine = Engine.open(
        tmp_path / "state", build_plan(runbook, config), ALICE, severity="P0", trigger="test", config=config
    )
    engine.take_seat(ALICE)
    return engine


def journal(engine: Engine) -> list[dict]:
    return [json.loads(line) for line in engine.journal.path.read_text().splitlines()]


def remote_alive(marker: str) -> bool:
    return subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 0


async def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_fan_out_to_three_hosts_with_per_host_output(tmp_path, lab):
    steps = ssh_step("hello", 'echo "host dir $HOSTDIR"', "echo to-stderr >&2", 'touch "$HOSTDIR/ran"')
    engine = open_engine(tmp_path, lab, ["h1", "h2", "h3"], steps)
    try:
        assert await engine.run_step(ALICE, "hello") == "succeeded"
        attempt = engine.state.steps["hello"].attempt
        for name in ("h1", "h2", "h3"):
            host = lab.hosts[name]
            text = engine.output_path("hello", 1, name).read_text()
            assert f"host dir {host.root}" in text
            assert "to-stderr" in text
            assert "warroom-pid" not in text
            assert (host.root / "ran").exists()
            assert attempt.results[name]["exit_code"] == 0
            assert attempt.results[name]["bytes"] == len(text.encode())
        finished = [r for r in journal(engine) if r["type"] == "step.host_finished"]
        assert sorted(r["data"]["host"] for r in finished) == ["h1", "h2", "h3"]
    finally:
        await engine.aclose()


async def test_failing_host_fails_the_step_and_keeps_per_host_exit_codes(tmp_path, lab):
    steps = ssh_step("maybe", 'if [ -e "$HOSTDIR/broken" ]; then echo boom; exit 3; fi', "echo fine")
    engine = open_engine(tmp_path, lab, ["h1", "h2", "h3"], steps)
    (lab.hosts["h2"].root / "broken").touch()
    try:
        assert await engine.run_step(ALICE, "maybe") == "failed"
        results = engine.state.steps["maybe"].attempt.results
        assert {h: r["exit_code"] for h, r in results.items()} == {"h1": 0, "h2": 3, "h3": 0}
        assert "h2: exit code 3" in engine.state.steps["maybe"].attempt.error
        (lab.hosts["h2"].root / "broken").unlink()
        assert await engine.run_step(ALICE, "maybe", retry=True) == "succeeded"
        assert len(engine.state.steps["maybe"].attempts) == 2
    finally:
        await engine.aclose()


async def test_timeout_stops_the_remote_process(tmp_path, lab):
    marker = f"warroom-timeout-{uuid.uuid4().hex[:8]}"
    steps = ssh_step("slow", f"sleep 120 && echo {marker}", "echo never", timeout=1)
    engine = open_engine(tmp_path, lab, ["h1"], steps)
    try:
        started = time.monotonic()
        assert await engine.run_step(ALICE, "slow") == "timed_out"
        assert time.monotonic() - started < 8
        result = engine.state.steps["slow"].attempt.results["h1"]
        assert result["status"] == "timed_out"
        assert "remote process group stopped" in result["error"]
        await wait_for(lambda: not remote_alive(marker), 5)
    finally:
        await engine.aclose()


async def test_cancel_kills_the_remote_command_on_every_host(tmp_path, lab):
    marker = f"warroom-cancel-{uuid.uuid4().hex[:8]}"
    token = str(uuid.uuid4().int)[:9]  # this test's own sleeps: other runs on the machine may sleep 300 too
    sleeps = f"sleep 30[01]\\.{token}"
    # a child of the shell, then a grandchild in the background: both must die
    steps = ssh_step(
        "long", f"(sleep 300.{token}; echo {marker}-bg) &", f"sleep 301.{token} && echo {marker}", timeout=600
    )
    engine = open_engine(tmp_path, lab, ["h1", "h2"], steps)
    try:
        task = engine.start_step(ALICE, "long")
        await wait_for(
            lambda: (
                subprocess.run(["pgrep", "-fc", sleeps], capture_output=True).stdout.strip()
                not in (b"", b"0", b"1", b"2", b"3")
            )
        )
        engine.cancel_step(ALICE, "long")
        await asyncio.wait_for(task, 15)
        assert engine.state.steps["long"].status == "cancelled"
        await wait_for(lambda: not remote_alive(sleeps), 5)
        types = [r["type"] for r in journal(engine)]
        assert types.index("step.cancel_requested") < types.index("step.finished")
    finally:
        await engine.aclose()


async def test_changed_host_key_is_refused(tmp_path, lab):
    host = lab.start("h1")
    bad = lab.write_unknown_key_known_hosts(host, tmp_path / "bad_known_hosts")
    engine = open_engine(tmp_path, lab, ["h1"], ssh_step("s", "touch $HOSTDIR/should-not-exist"), known_hosts=bad)
    try:
        assert await engine.run_step(ALICE, "s") == "failed"
        error = engine.state.steps["s"].attempt.results["h1"]["error"]
        assert "host key CHANGED" in error and str(bad) in error
        assert not (host.root / "should-not-exist").exists()
    finally:
        await engine.aclose()


async def test_unknown_host_key_is_refused(tmp_path, lab):
    host = lab.start("h9", known=False)
    engine = open_engine(tmp_path, lab, ["h9"], ssh_step("s", "touch $HOSTDIR/should-not-exist"))
    try:
        assert await engine.run_step(ALICE, "s") == "failed"
        error = engine.state.steps["s"].attempt.results["h9"]["error"]
        assert "host key unknown" in error
        assert not (host.root / "should-not-exist").exists()
    finally:
        await engine.aclose()


async def test_connection_is_reused_across_steps(tmp_path, lab):
    steps = ssh_step("one", 'echo "conn $SSH_CONNECTION"') + ssh_step("two", 'echo "conn $SSH_CONNECTION"')
    engine = open_engine(tmp_path, lab, ["h1"], steps)
    try:
        assert await engine.run_step(ALICE, "one") == "succeeded"
        assert await engine.run_step(ALICE, "two") == "succeeded"
        first = engine.output_path("one", 1, "h1").read_text().strip()
        second = engine.output_path("two", 1, "h1").read_text().strip()
        assert first.startswith("conn 127.0.0.1 ")
        assert first == second  # same client port: the same SSH connection
    finally:
        await engine.aclose()


async def test_secret_reaches_the_command_but_never_the_output_or_journal(tmp_path, lab, monkeypatch):
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    monkeypatch.setenv("TEST_DB_PASSWORD", secret)
    extra = """
        [vars.database]
        password = "env:TEST_DB_PASSWORD"
        """
    steps = ssh_step(
        "pw",
        'echo "password is $MYSQL_PWD"',
        '[ "$MYSQL_PWD" = "$EXPECTED" ] || [ -z "$EXPECTED" ]',
        'test -n "$MYSQL_PWD"',
        extra='secret_env = { MYSQL_PWD = "database.password" }\n',
    )
    engine = open_engine(tmp_path, lab, ["h1"], steps, extra=extra, variables=declare(database__password="secret"))
    try:
        assert await engine.run_step(ALICE, "pw") == "succeeded"
        output = engine.output_path("pw", 1, "h1").read_text()
        assert "password is ********" in output
        assert secret not in output
        assert secret not in engine.journal.path.read_text()
    finally:
        await engine.aclose()


async def test_output_streams_to_subscribers_in_batches(tmp_path, lab):
    engine = open_engine(tmp_path, lab, ["h1"], ssh_step("many", "seq 1 20000"))
    batches = []
    engine.subscribe(lambda e: batches.append(e) if hasattr(e, "lines") else None)
    try:
        assert await engine.run_step(ALICE, "many") == "succeeded"
        lines = [line for b in batches for line in b.lines]
        assert lines == [str(i) for i in range(1, 20001)]
        assert len(batches) < 200  # batched, not one event per line
    finally:
        await engine.aclose()
