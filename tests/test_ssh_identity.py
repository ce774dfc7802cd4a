"""How warroom logs in, against real sshd hosts on loopback: no OpenSSH config behind the user's
back (and aliases only when asked), an ssh-agent's key, a host certificate signed by a CA in
known_hosts, an encrypted identity file's passphrase from a secret, bastion loops refused at load,
and a connection lost between steps reopened (journaled)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncssh
import pytest
from conftest import ssh_step, write_config, write_runbook
from sshd import _spawn_sshd, _wait_ready

from actions.registry import KINDS
from console.engine import Actor, Engine
from console.model.config import load_config
from console.model.plan import build_plan
from console.model.runbook import load_runbook

pytestmark = pytest.mark.sshd
ALICE = Actor("alice", "driver")
SSH_CHECK = "ssh: reachable, host key verified, login"


def warroom(*args: str, env: dict[str, str] | None = None, drop: tuple[str, ...] = ()):
    environ = {k: v for k, v in os.environ.items() if k not in drop} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args], capture_output=True, text=True, timeout=120, env=environ
    )


def host_config(tmp_path: Path, lab, host, *, extra_env: str = "", **keys: str) -> Path:
    """A one-host config; ``keys`` replace or remove (value "") the host's keys."""
    values = {
        "address": '"127.0.0.1"',
        "port": str(host.port),
        "user": f'"{lab.user}"',
        "identity_file": f'"{lab.client_key}"',
        "known_hosts": f'"{lab.known_hosts}"',
        "connect_timeout": "5",
    } | keys
    body = "\n".join(f"{k} = {v}" for k, v in values.items() if v)
    (tmp_path / "rb.toml").exists() or write_runbook(tmp_path / "rb.toml", ssh_step("hello", "echo hello-$(id -un)"))
    path = tmp_path / "config.toml"
    path.write_text(
        f'[environment]\nname = "t"\nstate_dir = "{tmp_path / "state"}"\nrunbook = "{tmp_path / "rb.toml"}"\n'
        f'{extra_env}\n[hosts.h1]\n{body}\n\n[groups]\napp = ["h1"]\n'
    )
    return path


def ssh_row(stdout: str, host: str = "h1") -> str:
    for line in stdout.splitlines():
        if line.startswith(host + " ") and SSH_CHECK in line:
            return line.split(SSH_CHECK, 1)[1].strip()
    raise AssertionError(stdout)


def test_no_openssh_config_is_read_unless_asked(tmp_path, lab):
    host = lab.start("h1")
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text("Host 127.0.0.1\n  HostName 127.0.0.2\n")
    config = host_config(tmp_path, lab, host)

    async def asyncssh_default() -> str:  # the file redirects a client that reads it by default
        try:
            conn = await asyncssh.connect(
                "127.0.0.1", port=host.port, username=lab.user, client_keys=[str(lab.client_key)],
                known_hosts=str(lab.known_hosts), connect_timeout=5,
            )  # fmt: skip
        except OSError as exc:
            return f"refused: {exc}"
        conn.close()
        return "connected"

    saved = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    try:
        assert asyncio.run(asyncssh_default()).startswith("refused")
    finally:
        os.environ["HOME"] = saved or "/root"

    check = warroom("check", "-c", str(config), env={"HOME": str(home)})
    assert check.returncode == 0, check.stdout + check.stderr
    assert ssh_row(check.stdout).startswith("ok: SSH-2.0") and f"@127.0.0.1:{host.port}" in ssh_row(check.stdout)

    on = host_config(tmp_path, lab, host, extra_env="ssh_config = true\n")
    plan = warroom("plan", "-c", str(on), env={"HOME": str(home)})
    assert f"h1  {lab.user}@127.0.0.2:{host.port}  (ssh_config alias 127.0.0.1)" in plan.stdout
    check = warroom("check", "-c", str(on), env={"HOME": str(home)})
    assert check.returncode == 1 and "cannot connect" in ssh_row(check.stdout)


def test_a_key_held_by_ssh_agent_logs_in(tmp_path, lab):
    host = lab.start("h1")
    home = tmp_path / "home"
    home.mkdir()  # no ~/.ssh/id_*: the agent is the only key
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            assert time.monotonic() < deadline and agent.poll() is None, "ssh-agent did not start"
            time.sleep(0.02)
        env = {"SSH_AUTH_SOCK": str(sock), "HOME": str(home)}
        subprocess.run(["ssh-add", str(lab.client_key)], env={**os.environ, **env}, check=True, capture_output=True)
        config = host_config(tmp_path, lab, host, identity_file="")
        check = warroom("check", "-c", str(config), env=env)
        assert check.returncode == 0, check.stdout + check.stderr
        run = warroom(
            "run", "-c", str(config), "--headless", "--severity", "P0", "--trigger", "Something broke", env=env
        )
        assert run.returncode == 0, run.stdout + run.stderr
    finally:
        agent.terminate()
        agent.wait(timeout=5)
    without = warroom("check", "-c", str(config), env={"HOME": str(home)}, drop=("SSH_AUTH_SOCK",))
    assert without.returncode == 1
    assert "authentication refused for user" in ssh_row(without.stdout) and "agent" in ssh_row(without.stdout)


def _restart_with_certificate(host, cert: Path) -> None:
    host.stop()
    with host.config.open("a") as f:
        f.write(f'HostCertificate "{cert}"\n')
    pid_file = host.config.with_name("sshd.pid")
    pid_file.unlink(missing_ok=True)
    host.process = _spawn_sshd(host.config, host.log)
    failure = _wait_ready(host.process, host.port, pid_file)
    assert failure is None, failure


def _ca(tmp_path: Path, name: str) -> tuple[Path, str]:
    key = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
    return key, " ".join(key.with_suffix(".pub").read_text().split()[:2])


def test_a_host_certificate_signed_by_a_ca_in_known_hosts(tmp_path, lab):
    host = lab.start("h1", known=False)
    ca, ca_pub = _ca(tmp_path, "ca")
    subprocess.run(
        ["ssh-keygen", "-q", "-s", str(ca), "-I", "h1", "-h", "-n", "127.0.0.1", str(host.host_key) + ".pub"],
        check=True,
        capture_output=True,
    )
    _restart_with_certificate(host, Path(str(host.host_key) + "-cert.pub"))
    known = tmp_path / "known_hosts_ca"
    known.write_text(f"@cert-authority [127.0.0.1]:{host.port} {ca_pub}\n")  # no key of the host itself
    config = host_config(tmp_path, lab, host, known_hosts=f'"{known}"')
    check = warroom("check", "-c", str(config))
    assert check.returncode == 0, check.stdout + check.stderr

    _, other_pub = _ca(tmp_path, "other-ca")
    known.write_text(f"@cert-authority [127.0.0.1]:{host.port} {other_pub}\n")
    check = warroom("check", "-c", str(config))
    assert check.returncode == 1
    assert "not signed by the @cert-authority there) CHANGED" in ssh_row(check.stdout)


def test_an_encrypted_identity_file_takes_its_passphrase_from_a_secret(tmp_path, lab):
    host = lab.start("h1")
    key = tmp_path / "encrypted_key"
    passphrase = "correct-horse-battery-9"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-f", str(key)], check=True)
    with lab.authorized_keys.open("a") as f:
        f.write(key.with_suffix(".pub").read_text())
    env = {"WR_TEST_KEY_PASS": passphrase}

    bare = host_config(tmp_path, lab, host, identity_file=f'"{key}"')
    check = warroom("check", "-c", str(bare), env=env)
    assert check.returncode == 1
    assert f'{key} is encrypted: set hosts.h1.passphrase = "env:NAME"' in ssh_row(check.stdout)

    config = host_config(tmp_path, lab, host, identity_file=f'"{key}"', passphrase='"env:WR_TEST_KEY_PASS"')
    wrong = warroom("check", "-c", str(config), env={"WR_TEST_KEY_PASS": "not-it"})
    assert wrong.returncode == 1 and f"hosts.h1.passphrase does not decrypt identity file {key}" in wrong.stdout
    unset = warroom("check", "-c", str(config), drop=("WR_TEST_KEY_PASS",))
    assert unset.returncode == 1 and "secret hosts.h1.passphrase (env:WR_TEST_KEY_PASS)  FAIL" in unset.stdout

    check = warroom("check", "-c", str(config), env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    run = warroom("run", "-c", str(config), "--headless", "--severity", "P0", "--trigger", "Something broke", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    [incident] = (tmp_path / "state" / "incidents").iterdir()
    for path in incident.rglob("*"):
        if path.is_file():
            assert passphrase not in path.read_text(errors="replace"), path
    assert passphrase not in run.stdout + run.stderr + check.stdout


def test_a_bastion_loop_is_refused_at_load_naming_the_line(tmp_path, lab):
    write_runbook(tmp_path / "rb.toml", ssh_step("hello", "true"))
    config = tmp_path / "config.toml"
    config.write_text(
        f'[environment]\nname = "t"\nrunbook = "{tmp_path / "rb.toml"}"\n\n'
        '[hosts.a]\naddress = "10.0.0.1"\nuser = "x"\njump = "b"\n\n'
        '[hosts.b]\naddress = "10.0.0.2"\nuser = "x"\njump = "c"\n\n'
        '[hosts.c]\naddress = "10.0.0.3"\nuser = "x"\njump = "a"\n\n[groups]\napp = ["a"]\n'
    )
    plan = warroom("plan", "-c", str(config))
    assert plan.returncode != 0 and "Traceback" not in plan.stderr
    assert "config.toml:8: hosts.a.jump: the bastion chain loops: a -> b -> c -> a" in plan.stderr, plan.stderr
    config.write_text(config.read_text().replace('jump = "a"', 'jump = "nowhere"'))
    plan = warroom("plan", "-c", str(config))
    assert "hosts.c.jump: host 'nowhere' is not defined in [hosts]" in plan.stderr, plan.stderr


async def test_a_connection_lost_between_steps_is_reopened_and_journaled(tmp_path, lab):
    config = load_config(write_config(tmp_path / "config.toml", lab, ["h1"]))
    steps = ssh_step("one", "echo first") + ssh_step("two", "echo second")
    runbook = load_runbook(write_runbook(tmp_path / "runbook.toml", steps), KINDS)
    engine = Engine.open(
        tmp_path / "state", build_plan(runbook, config), ALICE, severity="P0", trigger="t", config=config
    )
    engine.take_seat(ALICE)
    try:
        assert await engine.run_step(ALICE, "one") == "succeeded"
        host = lab.hosts["h1"]
        sessions = subprocess.run(["pgrep", "-P", str(host.process.pid)], capture_output=True, text=True).stdout
        host.stop()
        for pid in sessions.split():  # the connection's own sshd processes: the link dies with them
            os.kill(int(pid), signal.SIGTERM)
        pid_file = host.config.with_name("sshd.pid")
        pid_file.unlink(missing_ok=True)
        host.process = _spawn_sshd(host.config, host.log)
        assert _wait_ready(host.process, host.port, pid_file) is None
        deadline = time.monotonic() + 10
        while not engine.connections._conns["h1"].is_closed():
            assert time.monotonic() < deadline, "the client never noticed the lost connection"
            await asyncio.sleep(0.05)
        assert await engine.run_step(ALICE, "two") == "succeeded"
    finally:
        await engine.aclose()
    records = [json.loads(line) for line in engine.journal.path.read_text().splitlines()]
    [warning] = [r["data"] for r in records if r["type"] == "step.warning"]
    assert warning["step"] == "two" and warning["host"] == "h1"
    assert "was lost since its last use; reconnected" in warning["message"]
