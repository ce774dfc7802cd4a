"""Each step kind's preflight against the real thing: a mysql login through the step's own SSH tunnel
(real MariaDB) and its backups read over exec on a host without SFTP, the Docker engine's ping
through the forwarded socket (real dockerd), an http step's tunnel target, a dead host bounded in
time — and only a driver may journal the gate, once, before the first step."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import asyncssh
import pytest
from conftest import ALICE, OLIVE, ssh_step, write_config, write_runbook
from mysql_support import PASSWORD_ENV, database_extra, mysql_step, write_mysql_runbook
from sshd import _spawn_sshd, _wait_ready

from actions.registry import KINDS
from console.engine.preflight import SSH_CHECK, run_gate
from console.engine.preflight_table import GateResult, Line
from console.model.config import load_config
from console.model.errors import CommandRefused
from console.model.plan import build_plan
from console.model.runbook import load_runbook

pytestmark = pytest.mark.sshd
pytest_plugins = ["mysql_fixtures"]


def plan_for(tmp_path: Path, lab, steps: str, hosts=("h1",), extra: str = ""):
    config = load_config(write_config(tmp_path / "config.toml", lab, list(hosts), extra=extra))
    runbook = load_runbook(write_mysql_runbook(tmp_path / "runbook.toml", steps), KINDS)
    return build_plan(runbook, config), config


def rows(result: GateResult) -> dict[tuple[str, str], Line]:
    return {(line.host, line.check): line for line in result.lines}


def login_check(db, host: str = "h1") -> str:
    return f"database login {db.user}@127.0.0.1:3306/{db.name} (via SSH from {host})"


def test_a_failing_database_login_refuses_the_run_before_the_database_or_a_host_is_touched(tmp_path, lab, db):
    db.reset()
    host = lab.start("h1")
    (host.root / "storage" / "app" / "backups").mkdir(parents=True)
    cfg = write_config(tmp_path / "config.toml", lab, ["h1"], extra=database_extra(host.root, db.name, db.user))
    steps = ssh_step("maintenance", 'touch "$HOSTDIR/maintenance"') + mysql_step(safety_dump=False)
    rb = write_mysql_runbook(tmp_path / "runbook.toml", steps)
    wrong = "not-the-password-4711"
    result = subprocess.run(
        [sys.executable, "-m", "console.cli", "run", "-c", str(cfg), "--runbook", str(rb), "--headless"],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ | {PASSWORD_ENV: wrong},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    table = result.stdout.splitlines()
    login = next(line for line in table if login_check(db) in line)
    assert "FAIL: preflight on h1: the database at 127.0.0.1:3306 (via SSH from h1) refused user" in login
    assert "access denied" in login and "(needed by step restore)" in login
    backups = f"mysql backup dir {host.root}/storage/app/backups readable"
    assert any(backups in line and "ok: readable" in line for line in table)
    assert wrong not in result.stdout + result.stderr
    assert not (tmp_path / "state" / "incidents").exists() or not any((tmp_path / "state" / "incidents").iterdir())
    assert sorted(p.name for p in host.root.iterdir()) == ["storage"]  # no maintenance file
    assert db.query("SELECT name FROM customers ORDER BY id") == [("damaged by v1.0.0",), ("also damaged",)]


async def test_mysql_checks_pass_and_read_the_backups_without_sftp(tmp_path, lab, db, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, db.password)
    host = lab.start("h1")
    (host.root / "storage" / "app" / "backups").mkdir(parents=True)
    _without_sftp(host)
    target_of = {"known_hosts": str(lab.known_hosts), "client_keys": [str(lab.client_key)], "username": lab.user}
    async with asyncssh.connect("127.0.0.1", host.port, **target_of) as conn:
        with pytest.raises(asyncssh.ChannelOpenError):  # the host really offers no SFTP now
            await conn.start_sftp_client()
    steps = mysql_step("find", operation="find-backup") + mysql_step("direct", operation="preflight", via_ssh=False)
    steps += mysql_step("elsewhere", operation="verify", backup_dir="/nonexistent/backups")
    plan, config = plan_for(tmp_path, lab, steps, extra=database_extra(host.root, db.name, db.user))
    result = await run_gate(plan, config)
    found = rows(result)
    backups = found[("h1", f"mysql backup dir {host.root}/storage/app/backups readable")]
    assert backups.status == "ok" and backups.steps == ("find",)
    login = found[("h1", login_check(db))]
    assert login.status == "ok" and "MariaDB" in login.detail and f"as {db.user}@" in login.detail
    assert login.steps == ("find", "elsewhere")  # one check for every step that needs it on the host
    direct = found[("warroom", f"database login {db.user}@127.0.0.1:3306/{db.name} (direct)")]
    assert direct.status == "ok"
    missing = found[("h1", "mysql backup dir /nonexistent/backups readable")]
    assert missing.status == "fail" and "backup directory /nonexistent/backups does not exist" in missing.detail
    secret = found[("warroom", "secret database.password (env:WR_TEST_DB_PASSWORD)")]
    assert secret.status == "ok" and secret.steps == ("find", "direct", "elsewhere")
    assert db.password not in repr(result)


def _without_sftp(host) -> None:
    """Restart the host's sshd on the same port with its sftp subsystem left out."""
    host.stop()
    text = host.config.read_text()
    host.config.write_text("\n".join(line for line in text.splitlines() if "sftp" not in line) + "\n")
    host.process = _spawn_sshd(host.config, host.log)
    assert _wait_ready(host.process, host.port, host.config.parent / "sshd.pid") is None


async def test_docker_engine_is_pinged_the_way_the_step_reaches_it(tmp_path, lab):
    steps = (
        "\n[[phases.steps]]\nid = 'status'\ntitle = 'Status'\nkind = 'docker'\ntargets = 'app'\n"
        "params = { operation = 'status', project = 'shop' }\n"
        "\n[[phases.steps]]\nid = 'stop'\ntitle = 'Stop'\nkind = 'docker'\ntargets = 'app'\n"
        "params = { operation = 'stop', project = 'shop', socket = '/nonexistent/docker.sock' }\n"
        "\n[[phases.steps]]\nid = 'down'\ntitle = 'Down'\nkind = 'docker'\ntargets = 'app'\ncwd = '/nonexistent/app'\n"
        "params = { operation = 'compose', project = 'shop', compose = 'down', file = 'compose.yml', verify = false }\n"
    )
    plan, config = plan_for(tmp_path, lab, steps)
    result = await run_gate(plan, config)
    found = rows(result)
    compose = found[("h1", "cwd /nonexistent/app")]  # and no engine check of its own: it does not verify
    assert compose.status == "fail" and compose.steps == ("down",)
    assert [line.steps for line in result.lines if line.check.startswith("docker engine")] == [("status",), ("stop",)]
    assert found[("h1", "docker engine unix:///var/run/docker.sock (over SSH)")].status == "ok"
    missing = found[("h1", "docker engine unix:///nonexistent/docker.sock (over SSH)")]
    assert missing.status == "fail" and "there is no /nonexistent/docker.sock on the host" in missing.detail


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


async def test_http_targets_through_the_tunnel_and_from_the_warroom_machine(tmp_path, lab):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    Thread(target=server.serve_forever, daemon=True).start()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # nothing listens here once the socket closes
    live = server.server_address[1]

    def http(step_id: str, port: int, targets: str = "app") -> str:
        on = f"targets = '{targets}'\n" if targets else ""
        return (
            f"\n[[phases.steps]]\nid = '{step_id}'\ntitle = 'Health'\nkind = 'http'\n{on}"
            f"params = {{ url = 'http://127.0.0.1:{port}/health' }}\n"
        )

    try:
        steps = http("up", live) + http("down", closed) + http("local", live, targets="")
        plan, config = plan_for(tmp_path, lab, steps)
        found = rows(await run_gate(plan, config))
    finally:
        server.shutdown()
        server.server_close()
    assert found[("h1", f"http target 127.0.0.1:{live} (through SSH)")].detail == "reachable from h1"
    down = found[("h1", f"http target 127.0.0.1:{closed} (through SSH)")]
    assert down.status == "warn" and "the app may be down" in down.detail  # a rollback must not wait for it
    assert found[("warroom", f"http target 127.0.0.1:{live}")].status == "ok"


async def test_a_host_that_never_answers_costs_one_bounded_check(tmp_path, lab):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts TCP, never speaks SSH
    lab.start("h1")
    config_path = write_config(tmp_path / "config.toml", lab, ["h1"])
    port = silent.getsockname()[1]
    extra = f'\n[hosts.dead]\naddress = "127.0.0.1"\nport = {port}\nuser = "root"\nconnect_timeout = 1\n'
    extra += f'known_hosts = "{lab.known_hosts}"\n'
    text = (
        config_path.read_text()
        .replace("[groups]", extra + "\n[groups]")
        .replace('app = ["h1"]', 'app = ["h1", "dead"]')
    )
    config_path.write_text(text)
    runbook = load_runbook(write_runbook(tmp_path / "runbook.toml", ssh_step("s", "true", extra='cwd = "/"\n')), KINDS)
    config = load_config(config_path)
    started = time.monotonic()
    try:
        result = await asyncio.wait_for(run_gate(build_plan(runbook, config), config, timeout=2), 30)
    finally:
        silent.close()
    assert time.monotonic() - started < 10
    found = rows(result)
    assert found[("h1", SSH_CHECK)].status == "ok" and found[("h1", "cwd /")].status == "ok"
    assert found[("dead", SSH_CHECK)].status == "fail" and "dead" in found[("dead", SSH_CHECK)].detail
    assert found[("dead", "cwd /")].status == "skip"


async def test_only_a_driver_journals_the_gate_and_only_before_the_first_step(engine):
    gate = GateResult((Line("h1", SSH_CHECK, "ok", "OpenSSH"),), ("h1",))
    with pytest.raises(CommandRefused, match="observers watch only"):
        engine.record_preflight(OLIVE, gate)
    engine.record_preflight(ALICE, gate)
    assert engine.journal.path.read_text().count('"preflight.passed"') == 1
    engine.take_seat(ALICE)
    await engine.run_step(ALICE, "restore", confirm="restore")  # fails (no such host), but it ran
    with pytest.raises(CommandRefused, match="before the first step"):
        engine.record_preflight(ALICE, gate)


async def test_notification_channels_are_warnings_never_a_refusal(tmp_path, lab, monkeypatch):
    monkeypatch.delenv("WR_GATE_SLACK_UNSET", raising=False)

    def notify(step_id: str, channel: str) -> str:
        return (
            f"\n[[phases.steps]]\nid = '{step_id}'\ntitle = 'Tell'\nkind = 'notify'\n"
            f"params = {{ channel = '{channel}', template = 'rollback of {{incident_id}} started' }}\n"
        )

    extra = '\n[notify.slack]\nwebhook_url = "env:WR_GATE_SLACK_UNSET"\n'
    steps = ssh_step("s", "true") + notify("slack", "slack") + notify("status", "statuspage")
    plan, config = plan_for(tmp_path, lab, steps, extra=extra)
    result = await run_gate(plan, config)
    found = rows(result)
    slack, status = found[("warroom", "notify channel slack")], found[("warroom", "notify channel statuspage")]
    assert slack.status == "warn" and "WR_GATE_SLACK_UNSET is not set" in slack.detail
    assert status.status == "warn" and "'statuspage' is not configured" in status.detail
    assert result.passed and len(result.warnings) == 2
