"""Hosts only a bastion reaches (tests/bastion_support.py: the targets in their own network
namespace, the bastion's in another bridging them, no direct route): plan, check and a run go
through the bastion; one bastion connection serves a fan-out; a changed bastion key is refused
naming the bastion; an OpenSSH config's aliases with ProxyJump resolve as ``ssh`` would."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from bastion_support import BastionNet
from conftest import ssh_step, write_runbook
from netns_base import netns_usable
from report_support import validate

from actions.registry import KINDS
from console.engine import Actor, Engine
from console.engine.preflight import run_gate
from console.model.config import load_config
from console.model.plan import build_plan
from console.model.runbook import load_runbook

pytestmark = pytest.mark.sshd
TARGETS = ("t1", "t2", "t3")
ALICE = Actor("alice", "driver")


@pytest.fixture
def net(tmp_path, lab):
    reason = netns_usable()
    if reason:
        pytest.skip(reason)
    net = BastionNet(tmp_path / "net", lab.authorized_keys)
    try:
        net.bastion = net.start_bastion()
        net.targets = {name: net.start_target(name, 2201 + i) for i, name in enumerate(TARGETS)}
        yield net
    finally:
        net.close()


def known_hosts(tmp_path: Path, name: str, *sshds) -> Path:
    path = tmp_path / f"known_hosts_{name}"
    path.write_text("".join(s.known_hosts_line() for s in sshds))
    return path


def bastion_config(tmp_path: Path, lab, net, *, bastion_known: Path | None = None) -> Path:
    bastion_known = bastion_known or known_hosts(tmp_path, "bastion", net.bastion)
    targets_known = known_hosts(tmp_path, "targets", *net.targets.values())
    lines = [
        f'[environment]\nname = "behind"\nstate_dir = "{tmp_path / "state"}"\nrunbook = "{tmp_path / "rb.toml"}"\n',
        f'[hosts.bastion]\naddress = "{net.bastion.address}"\nport = {net.bastion.port}\nuser = "{lab.user}"',
        f'identity_file = "{lab.client_key}"\nknown_hosts = "{bastion_known}"\nconnect_timeout = 5\n',
    ]
    for name, sshd in net.targets.items():
        lines += [
            f'[hosts.{name}]\naddress = "{sshd.address}"\nport = {sshd.port}\nuser = "{lab.user}"',
            f'identity_file = "{lab.client_key}"\nknown_hosts = "{targets_known}"\njump = "bastion"',
            "connect_timeout = 5\n",
        ]
    lines.append(f"[groups]\napp = {json.dumps(list(TARGETS))}\n")
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines))
    return path


def warroom(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
    )


def gate_rows(stdout: str) -> dict[tuple[str, str], str]:
    rows = [re.split(r"\s{2,}", line, maxsplit=2) for line in stdout.splitlines()]
    return {(r[0], r[1]): r[2] for r in rows if len(r) == 3 and r[0] != "HOST"}


STEPS = ssh_step("where", "hostname -I; echo done-$(id -un)")


def test_plan_check_and_run_go_through_one_bastion_connection(tmp_path, lab, net):
    assert "unreachable" in net.direct_route() or "No route" in net.direct_route() or net.direct_route() == ""
    write_runbook(tmp_path / "rb.toml", STEPS)
    config = bastion_config(tmp_path, lab, net)

    plan = warroom("plan", "-c", str(config))
    assert plan.returncode == 0, plan.stderr
    assert re.search(rf"bastion\s+{lab.user}@{net.bastion.address}:2222\s+\(bastion for t1, t2, t3\)", plan.stdout)
    assert re.search(rf"(?m)^  t2\s+{lab.user}@{net.target_address}:2202 via bastion$", plan.stdout)

    before = len(net.bastion.logins())
    check = warroom("check", "-c", str(config))
    assert check.returncode == 0, check.stdout + check.stderr
    rows = gate_rows(check.stdout)
    bastion_row = rows[("bastion", "ssh bastion: reachable, host key verified, login")]
    assert bastion_row.startswith("ok: SSH-2.0-OpenSSH") and "bastion for t1, t2, t3" in bastion_row
    for name in TARGETS:
        assert "via bastion" in rows[(name, "ssh: reachable, host key verified, login")]
    assert len(net.bastion.logins()) - before == 1, "the gate opened more than one bastion connection"

    before = len(net.bastion.logins())
    run = warroom("run", "-c", str(config), "--headless", "--severity", "P0", "--trigger", "Something broke")
    assert run.returncode == 0, run.stdout + run.stderr
    # the run's own gate (its pool closed before the incident opens), then the engine's fan-out
    assert len(net.bastion.logins()) - before == 2, net.bastion.logins()
    for sshd in net.targets.values():  # each target saw the login come from the bastion's side
        assert any(f"from {net.bastion_inner} " in line for line in sshd.logins()), sshd.logins()
    [incident] = (tmp_path / "state" / "incidents").iterdir()
    for name in TARGETS:
        output = (incident / "outputs" / "where" / "1" / f"{name}.log").read_text()
        assert net.target_address in output and f"done-{lab.user}" in output

    report = warroom("report", incident.name, "-c", str(config), "--format", "md")
    assert report.returncode == 0, report.stderr
    assert f"{lab.user}@{net.target_address}:2201 via bastion" in report.stdout
    as_json = warroom("report", incident.name, "-c", str(config), "--format", "json")
    hosts = {h["name"]: h for h in validate(as_json.stdout)["hosts"]}  # against report.schema.json
    assert hosts["t3"]["via"] == ["bastion"] and hosts["bastion"]["via"] == []
    html = warroom("report", incident.name, "-c", str(config), "--format", "html")
    assert f"t2: {lab.user}@{net.target_address}:2202 via bastion" in html.stdout


def test_a_changed_bastion_key_is_refused_naming_the_bastion(tmp_path, lab, net):
    write_runbook(tmp_path / "rb.toml", STEPS)
    impostor = tmp_path / "impostor"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(impostor)], check=True)
    wrong = tmp_path / "known_hosts_wrong"
    key = " ".join(impostor.with_suffix(".pub").read_text().split()[:2])
    wrong.write_text(f"[{net.bastion.address}]:2222 {key}\n")
    config = bastion_config(tmp_path, lab, net, bastion_known=wrong)

    check = warroom("check", "-c", str(config))
    assert check.returncode == 1
    rows = gate_rows(check.stdout)
    bastion_row = rows[("bastion", "ssh bastion: reachable, host key verified, login")]
    assert bastion_row.startswith("FAIL: host bastion") and "host key CHANGED" in bastion_row
    t1 = rows[("t1", "ssh: reachable, host key verified, login")]
    assert "cannot reach its bastion: host bastion" in t1 and "CHANGED" in t1

    run = warroom("run", "-c", str(config), "--headless", "--severity", "P0", "--trigger", "Something broke")
    assert run.returncode == 1 and "nothing was opened" in run.stderr
    assert not any(sshd.logins() for sshd in net.targets.values()), "a target was reached despite the bastion"


def test_ssh_config_aliases_with_proxyjump(tmp_path, lab, net):
    """``address = "app-t1"`` resolved by ~/.ssh/config (HostName, Port, User, IdentityFile,
    UserKnownHostsFile) through ``ProxyJump jumpbox``, itself an alias; no [hosts] entry for it."""
    write_runbook(tmp_path / "rb.toml", ssh_step("where", "hostname -I", targets="app"))
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    bastion_known = known_hosts(tmp_path, "bastion", net.bastion)
    targets_known = known_hosts(tmp_path, "targets", *net.targets.values())
    (home / ".ssh" / "config").write_text(
        f"Host jumpbox\n  HostName {net.bastion.address}\n  Port 2222\n  User {lab.user}\n"
        f"  IdentityFile {lab.client_key}\n  UserKnownHostsFile {bastion_known}\n\n"
        f"Host app-*\n  HostName {net.target_address}\n  User {lab.user}\n  IdentityFile {lab.client_key}\n"
        f"  UserKnownHostsFile {targets_known}\n  ProxyJump jumpbox\n\n"
        "Host app-t1\n  Port 2201\n\nHost app-t2\n  Port 2202\n"
    )
    config = tmp_path / "config.toml"
    config.write_text(
        f'[environment]\nname = "aliases"\nstate_dir = "{tmp_path / "state"}"\nrunbook = "{tmp_path / "rb.toml"}"\n'
        "ssh_config = true\n\n"
        '[hosts.t1]\naddress = "app-t1"\n\n[hosts.t2]\naddress = "app-t2"\n\n[groups]\napp = ["t1", "t2"]\n'
    )
    env = {"HOME": str(home)}
    plan = warroom("plan", "-c", str(config), env=env)
    assert plan.returncode == 0, plan.stderr
    t1 = rf"t1\s+{lab.user}@{net.target_address}:2201 via jumpbox  \(ssh_config alias app-t1\)"
    jumpbox = rf"jumpbox\s+{lab.user}@{net.bastion.address}:2222\s+\(ssh_config alias jumpbox; bastion for t1, t2\)"
    assert re.search(t1, plan.stdout) and re.search(jumpbox, plan.stdout), plan.stdout

    check = warroom("check", "-c", str(config), env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "ok: SSH-2.0" in gate_rows(check.stdout)[("jumpbox", "ssh bastion: reachable, host key verified, login")]

    run = warroom("run", "-c", str(config), "--headless", "--severity", "P0", "--trigger", "Something broke", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    [incident] = (tmp_path / "state" / "incidents").iterdir()
    assert net.target_address in (incident / "outputs" / "where" / "1" / "t2.log").read_text()


async def test_hosts_behind_a_dead_bastion_share_its_one_failed_attempt(tmp_path, lab):
    """A bastion that accepts TCP and never speaks: the gate's rows for it and the four hosts
    behind it all come from one connection attempt (one connect timeout, not five in a row)."""
    silent = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    server = threading.Thread(target=lambda: _accept_all(silent, accepted), daemon=True)
    server.start()
    write_runbook(tmp_path / "rb.toml", ssh_step("where", "true"))
    lines = [
        f'[environment]\nname = "dead"\nrunbook = "{tmp_path / "rb.toml"}"\n',
        f'[hosts.bastion]\naddress = "127.0.0.1"\nport = {silent.getsockname()[1]}\nuser = "{lab.user}"',
        f'known_hosts = "{lab.known_hosts}"\nconnect_timeout = 2\n',
    ]
    for i in range(4):
        lines.append(f'[hosts.t{i}]\naddress = "10.255.0.{i + 1}"\nuser = "x"\njump = "bastion"')
        lines.append(f'known_hosts = "{lab.known_hosts}"\nconnect_timeout = 2\n')
    lines.append('[groups]\napp = ["t0", "t1", "t2", "t3"]\n')
    (tmp_path / "config.toml").write_text("\n".join(lines))
    config = load_config(tmp_path / "config.toml")
    plan = build_plan(load_runbook(config.runbook_ref(), KINDS), config)
    try:
        result = await run_gate(plan, config)
    finally:
        silent.close()
        for conn in accepted:
            conn.close()
    assert len(accepted) == 1, f"{len(accepted)} attempts on the dead bastion"
    rows = {line.host: line for line in result.lines}
    assert rows["bastion"].status == "fail" and "host bastion" in rows["bastion"].detail
    for i in range(4):
        detail = rows[f"t{i}"].detail
        assert detail.startswith(f"host t{i}: cannot reach its bastion: host bastion ("), detail


def _accept_all(server: socket.socket, accepted: list[socket.socket]) -> None:
    with contextlib.suppress(OSError):
        while True:
            accepted.append(server.accept()[0])


async def test_a_bastion_connection_lost_between_steps_is_reopened_and_journaled(tmp_path, lab, net):
    """The bastion's sshd session dies between two steps (the hosts behind it lose their tunnels
    with it): the next step reopens the bastion and the host, and journals both as warnings."""
    write_runbook(
        tmp_path / "rb.toml", ssh_step("one", "echo first", targets="t1") + ssh_step("two", "echo second", targets="t1")
    )
    config = load_config(bastion_config(tmp_path, lab, net))
    plan = build_plan(load_runbook(config.runbook_ref(), KINDS), config)
    engine = Engine.open(tmp_path / "state", plan, ALICE, severity="P0", trigger="Something broke", config=config)
    engine.take_seat(ALICE)
    try:
        assert await engine.run_step(ALICE, "one") == "succeeded"
        sessions = subprocess.run(["pgrep", "-P", str(_sshd_pid(net.bastion))], capture_output=True, text=True)
        for pid in sessions.stdout.split():  # the bastion's per-connection sshd: the link dies with it
            os.kill(int(pid), signal.SIGTERM)
        for _ in range(200):
            if engine.connections._conns["t1"].is_closed():
                break
            await asyncio.sleep(0.05)
        assert await engine.run_step(ALICE, "two") == "succeeded"
    finally:
        await engine.aclose()
    warnings = [
        r["data"] for r in map(json.loads, engine.journal.path.read_text().splitlines()) if r["type"] == "step.warning"
    ]
    assert {(w["step"], w["host"]) for w in warnings} == {("two", "bastion"), ("two", "t1")}
    assert all("was lost since its last use; reconnected" in w["message"] for w in warnings)
    assert len(net.bastion.logins()) == 2


def _sshd_pid(sshd) -> int:
    """The listening sshd inside its namespace (``ip netns exec`` execs it: same pid)."""
    return sshd.process.pid
