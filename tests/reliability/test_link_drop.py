"""Link drop mid-command and a host that never speaks SSH: a step ends by its own clock, never as a
success. A cut link must not hold a step past its timeout (the remote stop cannot be confirmed), and
the journal must say the outcome is unknown rather than that the remote process was stopped."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest
from conftest import ssh_step, write_runbook
from netns_base import netns_usable
from netns_support import NetnsHost, SilentListener

from actions.registry import KINDS
from console.engine import Actor, Engine
from console.model.config import load_config
from console.model.plan import build_plan
from console.model.runbook import load_runbook

pytestmark = pytest.mark.sshd
ALICE = Actor("alice", "driver")
STEP_TIMEOUT = float(os.environ.get("WARROOM_RELY_LINK_TIMEOUT", "8"))
CONNECT_TIMEOUT = 3.0


def host_config(tmp_path: Path, address: str, port: int, lab, known_hosts: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[environment]\nname = "rely"\nstate_dir = "{tmp_path / "state"}"\nrunbook = "salonmanager"\n\n'
        f'[hosts.h1]\naddress = "{address}"\nport = {port}\nuser = "{lab.user}"\n'
        f'identity_file = "{lab.client_key}"\nknown_hosts = "{known_hosts}"\nconnect_timeout = {CONNECT_TIMEOUT}\n\n'
        '[groups]\napp = ["h1"]\n'
    )
    return path


def open_engine(tmp_path: Path, config: Path, steps: str) -> Engine:
    plan = build_plan(load_runbook(write_runbook(tmp_path / "runbook.toml", steps), KINDS), load_config(config))
    engine = Engine.open(
        tmp_path / "state", plan, ALICE, severity="P0", trigger="link drop", config=load_config(config)
    )
    engine.take_seat(ALICE)
    return engine


def finished(engine: Engine, step: str) -> dict:
    records = [json.loads(line) for line in engine.journal.path.read_text().splitlines()]
    [record] = [r for r in records if r["type"] == "step.finished" and r["data"]["step"] == step]
    return record["data"]


@pytest.fixture
def netns_host(tmp_path, lab):
    reason = netns_usable()
    if reason:
        pytest.skip(reason)
    host = NetnsHost(tmp_path / "nshost", lab.authorized_keys, lab.user)
    yield host
    host.close()


async def test_a_cut_link_ends_the_step_at_its_timeout_with_an_unknown_outcome(tmp_path, lab, netns_host):
    known = tmp_path / "known_hosts"
    known.write_text(netns_host.known_hosts_line())
    config = host_config(tmp_path, netns_host.address, netns_host.port, lab, known)
    engine = open_engine(tmp_path, config, ssh_step("slow", "echo running; sleep 120", timeout=int(STEP_TIMEOUT)))
    try:
        started = time.monotonic()
        task = engine.start_step(ALICE, "slow")
        deadline = time.monotonic() + 10
        while "h1" not in engine.state.steps["slow"].attempt.remote:
            assert time.monotonic() < deadline, "the command never started on the namespaced host"
            await asyncio.sleep(0.02)
        netns_host.cut()
        await asyncio.wait_for(task, STEP_TIMEOUT * 3)
        elapsed = time.monotonic() - started
    finally:
        await engine.aclose()
    print(f"FIGURE link_drop_step_end: {elapsed:.2f}s for a {STEP_TIMEOUT:.0f}s timeout")
    assert abs(elapsed - STEP_TIMEOUT) <= STEP_TIMEOUT * 0.1, f"ended after {elapsed:.2f}s"
    data = finished(engine, "slow")
    assert data["outcome"] == "timed_out" and "outcome unknown" in data["error"]
    result = engine.state.steps["slow"].attempt.results["h1"]
    assert result["status"] == "timed_out"
    assert "outcome unknown" in result["error"] and "remote process group stopped" not in result["error"]


async def test_a_host_that_never_sends_a_banner_fails_at_the_connect_timeout(tmp_path, lab):
    listener = SilentListener()
    config = host_config(tmp_path, "127.0.0.1", listener.port, lab, lab.known_hosts)
    engine = open_engine(tmp_path, config, ssh_step("probe", "true", timeout=60))
    try:
        started = time.monotonic()
        status = await asyncio.wait_for(engine.run_step(ALICE, "probe"), 30)
        elapsed = time.monotonic() - started
    finally:
        await engine.aclose()
        listener.close()
    print(f"FIGURE silent_banner_fail: {elapsed:.2f}s for a {CONNECT_TIMEOUT:.0f}s connect timeout")
    assert listener.accepted, "the client never reached the silent listener"
    assert status == "failed"
    assert abs(elapsed - CONNECT_TIMEOUT) <= CONNECT_TIMEOUT * 0.1, f"failed after {elapsed:.2f}s"
    error = engine.state.steps["probe"].attempt.results["h1"]["error"]
    assert "cannot connect" in error and "\n" not in error
