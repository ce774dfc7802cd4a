"""``warroom drill``: the sandbox, its SSH and HTTP servers, the stand-in commands and the score.

No mocks: the drill runs as a real subprocess, the embedded SSH server is checked with the real
OpenSSH client, and the stand-ins are the scripts the sandbox runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from datetime import timedelta
from io import StringIO
from pathlib import Path

import asyncssh
import pytest
import tomli_w
from conftest import ssh_step, write_runbook

from actions.registry import KINDS
from console.drill import data
from console.drill.drillconfig import drill_config, drill_password
from console.drill.httpserver import HealthServer
from console.drill.run import DrillOptions, run_drill
from console.drill.sandbox import Sandbox, build_sandbox
from console.drill.sshserver import DrillHost
from console.engine import Actor, Engine
from console.model.clock import iso, parse_iso
from console.model.config import load_config
from console.model.errors import InputError
from console.model.journal import read_records
from console.model.plan import build_plan
from console.model.runbook import load_runbook
from console.model.score import phase_scores, render_score
from console.model.state import fold

PHASES = (
    "Immediate Response",
    "Database Rollback",
    "Application Rollback",
    "Service Restoration",
    "Post-Rollback Verification",
)
LATER_THAN_DB_RESTORE = (
    "restore-file-storage",
    "revert-git-tag",
    "restart-services-docker",
    "disable-maintenance-mode",
)
needs_ssh_client = pytest.mark.skipif(
    not Path("/usr/bin/ssh").exists(), reason="OpenSSH client not installed: run ./scripts/test"
)


def warroom(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args], capture_output=True, text=True, timeout=60, check=False
    )


def journal(root: Path) -> tuple[Path, list[dict]]:
    [directory] = (root / "warroom" / "incidents").iterdir()
    path = directory / "journal.jsonl"
    return path, read_records(path)[0]


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for a reaper that is not PID 1's business counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):  # gone, or going while we read
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def gone_within(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


def standin(box: Sandbox, *argv: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None):
    path = f"{box.bin}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
    return subprocess.run(
        list(argv),
        cwd=cwd,
        env={"PATH": path, "HOME": str(box.home), **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    return build_sandbox(tmp_path / "sandbox", db_password=drill_password())


@contextlib.asynccontextmanager
async def serving(box: Sandbox, *, kill_on_close: bool = True) -> AsyncIterator[DrillHost]:
    host = DrillHost(box, kill_on_close=kill_on_close)
    await host.start()
    try:
        yield host
    finally:
        await host.close()


async def ssh(box: Sandbox, host: DrillHost, *args: str, key: Path | None = None, program: str = "ssh"):
    """The real OpenSSH client against the drill host: ``(exit code, stdout, stderr)``."""
    port = ["-P" if program == "sftp" else "-p", str(host.port)]
    options = [
        "-F", "/dev/null",
        *port,
        "-i", str(key or box.client_key),
        "-o", "IdentitiesOnly=yes",
        "-o", "IdentityAgent=none",
        "-o", "BatchMode=yes",
        "-o", f"UserKnownHostsFile={box.known_hosts}",
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "StrictHostKeyChecking=yes",
    ]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        program,
        *options,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    return proc.returncode, out.decode(), err.decode()


# ----- the drill end to end -------------------------------------------------------------------


@pytest.fixture(scope="module")
def drilled(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str], float]:
    root = tmp_path_factory.mktemp("drill") / "sandbox"
    started = time.monotonic()
    result = warroom("drill", "--headless", "--dir", str(root), "--keep")
    return root, result, time.monotonic() - started


def test_drill_headless_rolls_the_sandbox_back_and_scores_every_phase(drilled):
    root, result, seconds = drilled
    assert result.returncode == 0, result.stdout + result.stderr
    box = Sandbox(root)
    assert box.head_tag() == "v0.9.0"
    assert box.maintenance() is None
    assert box.services() == {"salonmanager-backend": "up", "salonmanager-frontend": "up"}
    assert box.running_version() == "v0.9.0"
    assert box.row_counts() == data.row_counts()
    storage = box.backend / "storage" / "app"
    for name, content in data.storage_files().items():
        assert (storage / name).read_bytes() == content, name
    assert "artisan backup:restore" in (box.state / "db_restored_from").read_text()
    assert (box.frontend / "build" / "web" / "index.html").read_text().count("0.9.0") == 1
    score = [line for line in result.stdout.splitlines() if re.match(r"\s+Phase \d ", line)]
    assert [re.match(r"\s+Phase (\d) (.+?)  ", line).groups() for line in score] == [
        (str(n), title) for n, title in enumerate(PHASES, start=1)
    ]
    assert all("within window" in line for line in score), score
    assert "RTO 15 min (P0): met" in result.stdout
    path, records = journal(root)
    verified = warroom("journal", "verify", str(path))
    assert verified.returncode == 0, verified.stderr
    assert "chain intact" in verified.stdout
    state = fold(records)
    assert state.status == "closed" and state.outcome == "resolved"
    assert not state.open_checks()
    assert {t.note for t in state.ticks.values()} == {"ticked by the drill"}
    assert all(s.status == "succeeded" for s in state.steps.values() if state.plan.steps[s.id].automated)
    print(f"warroom drill --headless: {seconds:.2f} s end to end")


def test_score_is_a_pure_function_of_the_journal(drilled):
    root, _, _ = drilled
    _, records = journal(root)
    scores = phase_scores(fold(records))
    assert [s.verdict for s in scores] == ["within window"] * 5
    assert all(s.complete and s.start is not None and s.end is not None for s in scores)
    for earlier, later in itertools.pairwise(scores):
        assert earlier.start <= later.start
    # The same journal, with the database restore finishing 20 minutes in: phase 2 overran.
    restore = next(
        r for r in records if r["type"] == "step.finished" and r["data"]["step"] == "restore-database-artisan"
    )
    twenty_minutes_in = iso(parse_iso(fold(records[:1]).opened_at) + timedelta(minutes=20))
    late = [{**r, "ts": twenty_minutes_in} if r is restore else r for r in records]
    scores = phase_scores(fold(late))
    assert scores[1].verdict == "over window by 5:00"
    assert not scores[1].within_window and scores[0].within_window
    assert "over window by 5:00" in "\n".join(render_score(fold(late)))


def test_rehearsed_failure_stops_the_drill_at_that_step(tmp_path):
    root = tmp_path / "sandbox"
    result = warroom("drill", "--headless", "--fail", "restore-database-artisan", "--dir", str(root), "--keep")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "drill: rehearsed failure of restore-database-artisan" in result.stdout
    assert "✗ restore-database-artisan failed" in result.stdout
    assert re.search(r"Phase 2 Database Rollback .* failed: restore-database-artisan", result.stdout)
    assert re.search(r"Phase 3 Application Rollback .* not started", result.stdout)
    _, records = journal(root)
    started = [r["data"]["step"] for r in records if r["type"] == "step.started"]
    assert started[-1] == "restore-database-artisan"
    assert not set(LATER_THAN_DB_RESTORE) & set(started)
    box = Sandbox(root)
    assert box.head_tag() == "v1.0.0"  # nothing after the failure ran
    assert box.maintenance() == "Emergency maintenance in progress"
    assert set(box.services().values()) == {"down"}
    assert box.row_counts()["appointments"] < data.row_counts()["appointments"]
    assert "backup:restore" not in (box.logs / "commands.log").read_text()


def test_unknown_fail_step_is_one_line_naming_the_steps(tmp_path):
    result = warroom("drill", "--headless", "--fail", "nonsense", "--dir", str(tmp_path / "never"))
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert "--fail nonsense" in line and "restore-database-artisan" in line and "disable-maintenance-mode" in line
    assert not (tmp_path / "never").exists()


def test_drill_rehearses_the_systemd_variant_without_leaking_the_password(tmp_path):
    root = tmp_path / "sandbox"
    out = StringIO()
    options = DrillOptions(headless=True, directory=root, keep=True, variants={"deploy_mode": "systemd"})
    assert run_drill(options, out=out) == 0, out.getvalue()
    box = Sandbox(root)
    assert box.row_counts() == data.row_counts()
    assert box.services() == {"salonmanager-backend": "up", "salonmanager-frontend": "up"}
    path, records = journal(root)
    started = [r["data"]["step"] for r in records if r["type"] == "step.started"]
    assert "restore-database-artisan" in started and "verify-logs-systemd" in started
    assert "verify-compose-status" not in started
    password = drill_password()
    for file in path.parent.rglob("*"):
        if file.is_file():
            assert password not in file.read_text(errors="replace"), file


# ----- the embedded SSH server ----------------------------------------------------------------


@needs_ssh_client
async def test_ssh_server_runs_commands_in_the_sandbox_with_its_pinned_host_key(box):
    async with serving(box) as host:
        assert re.fullmatch(rf"\[127\.0\.0\.1\]:{host.port} ssh-ed25519 \S+\n", box.known_hosts.read_text())
        code, out, err = await ssh(box, host, "deploy@127.0.0.1", 'pwd; command -v php; echo "$MYSQL_PWD"; exit 3')
        assert code == 3, err
        assert out.splitlines() == [str(box.home), str(box.bin / "php"), ""]


@needs_ssh_client
async def test_ssh_server_refuses_other_keys_passwords_forwarding_shells_and_sftp(box, tmp_path):
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    async with serving(box) as host:
        code, _, err = await ssh(box, host, "deploy@127.0.0.1", "true", key=stranger)
        assert code == 255 and "Permission denied (publickey)" in err
        code, _, err = await ssh(box, host, "root@127.0.0.1", "true")
        assert code == 255 and "Permission denied (publickey)" in err
        password = ("-o", "PasswordAuthentication=yes", "-o", "PreferredAuthentications=password", "-v")
        code, _, err = await ssh(box, host, *password, "deploy@127.0.0.1", "true")
        assert code == 255 and "Authentications that can continue: publickey\n" in err.replace("\r", "")
        assert "Permission denied (publickey)" in err
        with pytest.raises(asyncssh.PermissionDenied):
            await asyncssh.connect(
                "127.0.0.1",
                host.port,
                username="deploy",
                password="guess",
                client_keys=None,
                agent_path=None,
                known_hosts=str(box.known_hosts),
                preferred_auth="password,keyboard-interactive",
            )
        code, _, err = await ssh(box, host, "-W", "127.0.0.1:22", "deploy@127.0.0.1")
        assert code == 255 and "administratively prohibited" in err
        code, _, err = await ssh(
            box, host, "-o", "ExitOnForwardFailure=yes", "-R", "127.0.0.1:0:127.0.0.1:22", "deploy@127.0.0.1", "true"
        )
        assert code == 255 and "forwarding failed" in err
        code, _, err = await ssh(box, host, "-T", "deploy@127.0.0.1")
        assert code == 255 and "shell request failed" in err
        code, _, err = await ssh(box, host, "-b", "/dev/null", "deploy@127.0.0.1", program="sftp")
        assert code == 255 and "subsystem request failed" in err


@needs_ssh_client
async def test_closing_the_channel_kills_the_command_group(box):
    async with serving(box) as host:
        client = await asyncio.create_subprocess_exec(
            "ssh", "-F", "/dev/null", "-p", str(host.port), "-i", str(box.client_key),
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={box.known_hosts}", "-o", "StrictHostKeyChecking=yes",
            "deploy@127.0.0.1", "sleep 60 & echo $$ $!; wait",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert client.stdout is not None
        pids = [int(p) for p in (await asyncio.wait_for(client.stdout.readline(), 10)).split()]
        assert all(alive(p) for p in pids)
        client.kill()
        await client.wait()
        assert await asyncio.to_thread(gone_within, pids, 5), "the sandbox command outlived its channel"


async def test_cancelling_a_running_step_stops_its_sandbox_processes(box, tmp_path):
    rb_path = write_runbook(
        tmp_path / "slow.toml",
        ssh_step("slow", 'echo $$ > "$HOME/shell.pid"', 'sleep 60 & echo $! > "$HOME/sleep.pid"', "wait", timeout=120),
    )
    runbook = load_runbook(rb_path, KINDS)
    # Like sshd, the host leaves a command running when its channel closes: warroom's cancel must
    # stop the remote process group by itself (a kill over a second channel).
    async with serving(box, kill_on_close=False) as host:
        settings = drill_config(box, runbook, ssh_port=host.port, health_url="http://127.0.0.1:9/api/v1/health")
        settings["environment"]["runbook"] = str(rb_path)
        (tmp_path / "config.toml").write_text(tomli_w.dumps(settings))
        config = load_config(tmp_path / "config.toml")
        actor = Actor("tester", "driver")
        engine = Engine.open(
            box.incidents_root, build_plan(runbook, config), actor, severity="P0", trigger="t", config=config
        )
        try:
            engine.take_seat(actor)
            task = engine.start_step(actor, "slow")
            pid_files = [box.home / "shell.pid", box.home / "sleep.pid"]
            for _ in range(200):
                if all(p.exists() and p.read_text().strip() for p in pid_files):
                    break
                await asyncio.sleep(0.05)
            pids = [int(p.read_text()) for p in pid_files]
            assert all(alive(p) for p in pids)
            engine.cancel_step(actor, "slow")
            await asyncio.wait_for(task, 15)
            assert engine.state.steps["slow"].status == "cancelled"
            assert "remote process group stopped" in engine.state.steps["slow"].attempt.results["app1"]["error"]
            assert await asyncio.to_thread(gone_within, pids, 5), "cancelled step left sandbox processes behind"
        finally:
            await engine.aclose()


# ----- the health endpoint and the stand-ins --------------------------------------------------


def test_health_endpoint_answers_from_the_sandbox_state(tmp_path):
    box = build_sandbox(tmp_path / "sandbox", db_password=drill_password(), curl=True)
    web = HealthServer(box).start()
    page = web.health_url.replace("/api/v1/health", "/booking")
    compose = ("docker-compose", "-f", "docker-compose.prod.yml")
    try:
        assert get(web.health_url) == (200, json.dumps({"status": "ok", "version": "v1.0.0", "maintenance": False}))
        assert standin(box, *compose, "down", cwd=box.app).returncode == 0
        code, body = get(web.health_url)
        assert code == 503 and json.loads(body)["status"] == "down"
        curl = standin(box, "curl", "-f", web.health_url, cwd=box.home)  # the stand-in: bin/ comes first
        assert curl.returncode == 22 and "returned error: 503" in curl.stderr
        assert standin(box, "php", "artisan", "down", "--message=Back at ten", cwd=box.backend).returncode == 0
        box.git("checkout", "-q", "v0.9.0")
        assert standin(box, *compose, "up", "-d", cwd=box.app).returncode == 0
        code, body = get(web.health_url)
        assert (code, json.loads(body)) == (200, {"status": "ok", "version": "v0.9.0", "maintenance": True})
        assert get(page)[0] == 503 and "Back at ten" in get(page)[1]
        curl = standin(box, "curl", "-f", web.health_url, cwd=box.home)
        assert curl.returncode == 0 and json.loads(curl.stdout)["version"] == "v0.9.0"
        assert standin(box, "php", "artisan", "up", cwd=box.backend).returncode == 0
        assert get(page)[0] == 200
    finally:
        web.close()


def test_mysql_standin_needs_the_password_and_really_restores(box):
    dump = (box.backups / "backup_file.sql").read_text()
    args = ("mysql", "-h", "127.0.0.1", "-P", "3306", "-u", "salonmanager", "salonmanager")
    refused = standin(box, *args, cwd=box.backend, stdin=dump)
    assert refused.returncode == 1 and "Access denied for user 'salonmanager'@'localhost' (using password: NO)" in (
        refused.stderr
    )
    wrong = standin(box, *args, cwd=box.backend, stdin=dump, env={"MYSQL_PWD": "guess"})
    assert wrong.returncode == 1 and "(using password: YES)" in wrong.stderr
    prompt = standin(box, "mysql", "-u", "salonmanager", "-p", "salonmanager", cwd=box.backend, stdin=dump)
    assert prompt.returncode == 1 and "MYSQL_PWD" in prompt.stderr
    assert box.row_counts() != data.row_counts()
    ok = standin(box, *args, cwd=box.backend, stdin=dump, env={"MYSQL_PWD": drill_password()})
    assert ok.returncode == 0, ok.stderr
    assert box.row_counts() == data.row_counts()
    other = standin(box, *args[:-1], "nope", cwd=box.backend, stdin=dump, env={"MYSQL_PWD": drill_password()})
    assert other.returncode == 1 and "Unknown database 'nope'" in other.stderr


def test_standins_refuse_what_they_do_not_rehearse(box):
    for argv, cwd, needle in (
        (("php", "artisan", "tinker"), box.backend, "not rehearsed"),
        (("php", "artisan", "down"), box.app, "Could not open input file: artisan"),
        (("php", "-v"), box.backend, "only runs artisan"),
        (("composer", "update"), box.backend, "only runs install"),
        (("flutter", "run"), box.frontend, "pub get"),
        (("docker-compose", "-f", "missing.yml", "down"), box.app, "No such file"),
        (("docker-compose", "-f", "docker-compose.prod.yml", "logs", "-f"), box.app, "forever"),
        (("sudo", "systemctl", "stop", "nginx"), box.home, "Unit nginx.service not found"),
    ):
        result = standin(box, *argv, cwd=cwd)
        assert result.returncode != 0 and needle in result.stderr, (argv, result.stderr)
    assert standin(box, "sudo", "systemctl", "stop", "salonmanager-backend", cwd=box.home).returncode == 0
    assert box.services()["salonmanager-backend"] == "down"
    logs = standin(box, "journalctl", "-u", "salonmanager-backend", "-n", "1", "--no-pager", cwd=box.home)
    assert logs.stdout.strip().endswith("salonmanager-backend[1]: stopped")


async def test_the_drill_engine_stand_in_answers_the_docker_sdk_from_sandbox_state(tmp_path):
    """The compose-status step of the built-in runbook reads this, through the real docker SDK."""
    import docker

    from console.drill.dockerapi import DockerAPI
    from console.drill.drillconfig import drill_password
    from console.drill.sandbox import build_sandbox

    box = build_sandbox(tmp_path / "box", db_password=drill_password())
    api = DockerAPI(box).start()
    try:
        client = docker.DockerClient(base_url=f"unix://{api.path}", version="1.41")
        listed = client.api.containers(all=True, filters={"label": "com.docker.compose.project=salonmanager"})
        assert {c["Labels"]["com.docker.compose.service"]: c["State"] for c in listed} == {
            "backend": "running",
            "frontend": "running",
        }
        assert client.api.containers(all=True, filters={"label": "com.docker.compose.project=other"}) == []
        (box.root / "var/state/services").write_text("salonmanager-backend down\nsalonmanager-frontend up\n")
        listed = client.api.containers(all=False, filters={"label": "com.docker.compose.project=salonmanager"})
        assert [c["Labels"]["com.docker.compose.service"] for c in listed] == ["frontend"]
        client.close()
    finally:
        api.close()
    assert not api.path.exists()


def test_the_mysql_variant_is_refused_in_one_line(tmp_path):
    with pytest.raises(InputError, match="the drill rehearses db_restore = artisan"):
        run_drill(DrillOptions(headless=True, directory=tmp_path / "x", variants={"db_restore": "mysql"}))
