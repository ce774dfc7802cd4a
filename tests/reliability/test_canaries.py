"""Canary secrets (single line, multi-line PEM, base64, URL-encoded, URL user-info) sent through
argv, env, stdout and stderr of remote commands, a remote traceback, a driver's exception and
failing steps: zero hits in the journal, the spools, the report, an observer's stream and the logs.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap

import pytest
from canary_support import CANARIES, ENV, KINDS_WITH_CRASH, PEM_BODY, RawObserver, hits
from conftest import declare, write_config, write_runbook

from console.engine import Actor, Engine
from console.host.attach import AttachServer
from console.model.config import load_config
from console.model.plan import build_plan
from console.model.runbook import load_runbook
from console.model.secrets import REDACTED, Redactor, redact_logs

pytestmark = pytest.mark.sshd
ALICE = Actor("alice", "driver")
SECRET_ENV = '{ C_LINE = "canary.line", C_B64 = "canary.b64", C_URLENC = "canary.urlenc", C_URL = "canary.userinfo" }'


def step(step_id: str, *commands: str, kind: str = "ssh", secret_env: str = SECRET_ENV) -> str:
    quoted = ", ".join("'" + c + "'" for c in commands)
    return textwrap.dedent(
        f"""
        [[phases.steps]]
        id = "{step_id}"
        title = "Step {step_id}"
        kind = "{kind}"
        targets = "app"
        timeout = 30
        commands = [{quoted}]
        secret_env = {secret_env}
        """
    )


def steps(pem_path) -> str:
    return (
        step(
            "echoes",
            'echo "stdout $C_LINE $C_B64"',
            'echo "stderr $C_URLENC $C_URL" >&2',
            'sh -c "echo argv: \\$0 \\$1" "$C_LINE" "$C_URL"',
            "env | grep ^C_",
            'python3 -c "import os; raise RuntimeError(os.environ[\\"C_LINE\\"] + os.environ[\\"C_URL\\"])"',
        )
        + step("pem-env", "true", secret_env='{ KEY = "canary.pem" }')
        + step(
            "pem-slow",
            f'while IFS= read -r l; do echo "key: $l"; sleep 0.05; done < {pem_path}',
            "exit 7",
            secret_env='{ C_LINE = "canary.line" }',
        )
        + step("crash", "true", kind="crashing", secret_env='{ C = "canary.line" }')
    )


async def test_canary_secrets_leave_no_trace(tmp_path, lab, caplog, capsys):
    pem = tmp_path / "canary.pem"
    pem.write_text(CANARIES["pem"])
    env = {ENV[name]: CANARIES[name] for name in ENV}
    os.environ.update(env)
    vars_table = "".join(f'{name} = "env:{var}"\n' for name, var in ENV.items()) + f'pem = "file:{pem}"\n'
    config_path = write_config(tmp_path / "config.toml", lab, ["h1"], extra=f"\n[vars.canary]\n{vars_table}")
    variables = declare(**{f"canary__{name}": "secret" for name in CANARIES})
    runbook = load_runbook(write_runbook(tmp_path / "runbook.toml", steps(pem), variables=variables), KINDS_WITH_CRASH)
    config = load_config(config_path)
    caplog.set_level(logging.INFO)
    engine = Engine.open(
        tmp_path / "state",
        build_plan(runbook, config),
        ALICE,
        severity="P0",
        trigger="canaries",
        config=config,
        kinds=KINDS_WITH_CRASH,
    )
    server = AttachServer(engine)
    await server.start()
    observer = await RawObserver().connect(server.path)
    outcomes = {}
    try:
        engine.take_seat(ALICE)
        for step_id in ("echoes", "pem-env", "pem-slow", "crash"):
            outcomes[step_id] = await engine.run_step(ALICE, step_id)
    finally:
        await observer.close()
        await server.close()
        await engine.aclose()
        for var in env:
            os.environ.pop(var, None)
    assert outcomes == dict.fromkeys(outcomes, "failed"), outcomes
    spools = list((engine.directory).rglob("*"))
    spooled = "".join(p.read_text(errors="replace") for p in spools if p.is_file() and p.suffix != ".sock")
    assert "stdout " in spooled and "argv: " in spooled and "RuntimeError" in spooled and "key: " in spooled

    reports = {}
    for fmt in ("md", "html", "json"):
        result = subprocess.run(
            [sys.executable, "-m", "console.cli", "report", str(engine.journal.path), "--format", fmt],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        reports[fmt] = result.stdout + result.stderr
    captured = capsys.readouterr()
    sinks = {
        "journal": engine.journal.path.read_text(),
        "spool and incident files": spooled,
        **{f"report ({fmt})": text for fmt, text in reports.items()},
        "observer stream": observer.text(),
        "logs": caplog.text + captured.out + captured.err,
    }
    found = {sink: hits(text) for sink, text in sinks.items()}
    total = sum(len(names) for names in found.values())
    shapes, paths = len(CANARIES), "argv, env, stdout, stderr, remote traceback, driver exception, failing steps"
    print(f"FIGURE canary_hits: {total} hits of {shapes} canary shapes through {paths} in {len(sinks)} sinks")
    assert "crashed" in caplog.text or "internal error" in sinks["journal"], "the driver's exception never surfaced"
    assert observer.received, "the observer received nothing"
    assert not total, {sink: names for sink, names in found.items() if names}


def test_each_line_of_a_multi_line_secret_is_masked_on_its_own():
    """A PEM key echoed a line per read reaches the spool one line at a time."""
    redactor = Redactor()
    redactor.add(CANARIES["pem"])
    for line in PEM_BODY:
        assert redactor.bytes(f"key: {line}\n".encode()) == f"key: {REDACTED}\n".encode()
    assert redactor.text("-----BEGIN PRIVATE KEY-----") == "-----BEGIN PRIVATE KEY-----"


def test_a_logged_traceback_quoting_a_secret_is_masked(tmp_path):
    """Whatever handler writes the log (here a plain file handler) gets the record masked."""
    redactor = Redactor()
    redactor.add(CANARIES["line"])
    redact_logs(redactor)
    handler = logging.FileHandler(tmp_path / "warroom.log")
    logger = logging.getLogger("warroom.canary")
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError(f"driver refused {CANARIES['line']}")
        except RuntimeError:
            logger.exception("step %s crashed with %s", "crash", CANARIES["line"])
    finally:
        logger.removeHandler(handler)
        handler.close()
    written = (tmp_path / "warroom.log").read_text()
    assert "RuntimeError" in written and "Traceback" in written
    assert CANARIES["line"] not in written and REDACTED in written
