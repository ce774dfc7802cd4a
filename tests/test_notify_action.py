"""notify steps against a real SMTP server (aiosmtpd) and a local HTTP receiver for Slack and the
status page, through the real engine. A failed notification never fails the step."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import textwrap
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from conftest import write_runbook

from actions.notify import NotifyAction, incident_facts, send
from actions.registry import KINDS
from console.engine import Actor, Engine
from console.model.clock import FrozenClock
from console.model.config import load_config
from console.model.errors import RunbookError
from console.model.plan import build_plan
from console.model.runbook import load_runbook

ALICE = Actor("alice", "driver")
TOKEN = "XoXbSeCrEtT0kEn42"
SLACK_TEMPLATE = "[{severity}] Rollback started: {runbook}, incident {incident_id}. Phase: {phase}. ETA: {eta}."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Receiver:
    """Stands for Slack and the status page: records JSON bodies, answers ``status`` (or hangs)."""

    status: int = 200
    hang: bool = False
    bodies: list[tuple[str, dict]] = field(default_factory=list)
    port: int = 0

    async def __aenter__(self) -> Receiver:
        self._tasks: set[asyncio.Task] = set()
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            _, path, _ = (await reader.readline()).decode().split(" ", 2)
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            self.bodies.append((path, json.loads(await reader.readexactly(length))))
            if self.hang:
                await asyncio.sleep(3600)
            body = b"ok" if self.status < 300 else b"internal_error"
            writer.write(
                f"HTTP/1.1 {self.status} X\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            )
            writer.write(body)
            await writer.drain()
        finally:
            self._tasks.discard(task)
            writer.close()


class Mailbox:
    """aiosmtpd handler: keeps every accepted envelope; ``refuse`` answers RCPT with an error."""

    def __init__(self) -> None:
        self.envelopes: list = []
        self.refuse = ""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    mailbox.port = controller.port
    try:
        yield mailbox
    finally:
        controller.stop()


@pytest.fixture
async def receiver():
    async with Receiver() as r:
        yield r


def config_text(tmp_path: Path, *, hook_port: int, smtp_port: int, statuspage: bool = True) -> str:
    known = tmp_path / "known_hosts"
    known.write_text("")
    text = f"""
        [environment]
        name = "staging"
        state_dir = "{tmp_path / "state"}"

        [hosts.app1]
        address = "127.0.0.1"
        port = 1
        user = "deploy"
        known_hosts = "{known}"

        [notify.slack]
        webhook_url = "env:TEST_SLACK_WEBHOOK"

        [notify.email]
        smtp_host = "127.0.0.1"
        smtp_port = {smtp_port}
        starttls = false
        sender = "warroom@example.com"
        recipients = ["admin-team@example.com", "oncall@example.com"]
        """
    if statuspage:
        text += """
        [notify.statuspage]
        url = "env:TEST_STATUSPAGE_URL"
        """
    return textwrap.dedent(text)


def notify_step(step_id: str, params: str, *, extra: str = "") -> str:
    return textwrap.dedent(
        f"""
        [[phases.steps]]
        id = "{step_id}"
        title = "Tell people {step_id}"
        kind = "notify"
        timeout = 30
        """
    ) + (extra + f"params = {{ {params} }}\n")


def slack_params(template: str = SLACK_TEMPLATE) -> str:
    return f'channel = "slack", template = "{template}", timeout = 2'


@pytest.fixture
def hooks(monkeypatch, receiver):
    """The secret webhook URLs, pointing at the local receiver."""
    slack = f"http://127.0.0.1:{receiver.port}/services/T0001/B0001/{TOKEN}"
    status = f"http://127.0.0.1:{receiver.port}/hooks/statuspage/{TOKEN}sp"
    monkeypatch.setenv("TEST_SLACK_WEBHOOK", slack)
    monkeypatch.setenv("TEST_STATUSPAGE_URL", status)
    return slack, status


def open_engine(tmp_path: Path, config: str, steps: str, clock=None) -> Engine:
    (tmp_path / "config.toml").write_text(config)
    loaded = load_config(tmp_path / "config.toml")
    runbook = load_runbook(write_runbook(tmp_path / "runbook.toml", steps), KINDS)
    engine = Engine.open(
        tmp_path / "state",
        build_plan(runbook, loaded),
        ALICE,
        severity="P0",
        trigger="Data corruption or loss",
        config=loaded,
        clock=clock,
    )
    engine.take_seat(ALICE)
    return engine


async def run(engine: Engine, step_id: str) -> tuple[dict, str, list[dict]]:
    """Run a step; returns its warroom result, its spooled output and the whole journal."""
    try:
        assert await engine.run_step(ALICE, step_id) == "succeeded"
    finally:
        await engine.aclose()
    result = engine.state.steps[step_id].attempt.results["warroom"]
    output = engine.output_path(step_id, 1, "warroom").read_text()
    return result, output, [json.loads(line) for line in engine.journal.path.read_text().splitlines()]


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert TOKEN not in text and "/services/" not in text and "/hooks/" not in text


# ----- delivered --------------------------------------------------------------------------------


async def test_slack_gets_the_template_filled_with_incident_facts(tmp_path, receiver, hooks, smtp):
    config = config_text(tmp_path, hook_port=receiver.port, smtp_port=smtp.port)
    engine = open_engine(tmp_path, config, notify_step("slack", slack_params()))
    result, output, journal = await run(engine, "slack")
    [(path, body)] = receiver.bodies
    assert path == f"/services/T0001/B0001/{TOKEN}"
    text = body["text"]
    assert re.fullmatch(
        rf"\[P0\] Rollback started: Test rollback, incident {engine.state.id}\. Phase: Main\. ETA: \d\d:\d\d UTC\.",
        text,
    ), text
    assert body["channel"] == "#ops"
    facts = result["facts"]
    assert facts["delivered"] is True and facts["target"] == "127.0.0.1" and facts["detail"] == "HTTP 200"
    assert facts["message"] == text and facts["latency_ms"] > 0
    assert f"notify slack: {text}" in output and "delivered over slack to 127.0.0.1: HTTP 200" in output
    assert not any(r["type"] == "step.warning" for r in journal)
    assert_no_secret(output, json.dumps(journal))


async def test_status_page_gets_text_and_incident_facts(tmp_path, receiver, hooks, smtp):
    config = config_text(tmp_path, hook_port=receiver.port, smtp_port=smtp.port)
    template = "We are restoring service (incident {incident_id}, {severity_label}). Stage: {phase}."
    engine = open_engine(tmp_path, config, notify_step("page", f'channel = "statuspage", template = "{template}"'))
    result, output, journal = await run(engine, "page")
    [(path, body)] = receiver.bodies
    assert path == f"/hooks/statuspage/{TOKEN}sp"
    assert body["text"] == f"We are restoring service (incident {engine.state.id}, Critical). Stage: Main."
    assert body["incident"]["incident_id"] == engine.state.id
    assert body["incident"]["environment"] == "staging"
    assert body["incident"]["trigger"] == "Data corruption or loss"
    assert result["facts"]["delivered"] is True
    assert_no_secret(output, json.dumps(journal))


async def test_email_goes_to_every_recipient_with_subject_and_body(tmp_path, receiver, hooks, smtp):
    config = config_text(tmp_path, hook_port=receiver.port, smtp_port=smtp.port)
    params = (
        'channel = "email", subject = "[{severity}] {runbook}: rollback in progress", '
        'template = "Incident {incident_id} ({trigger}). Current phase: {phase}. Expected recovery: {eta}."'
    )
    engine = open_engine(tmp_path, config, notify_step("mail", params))
    result, output, _ = await run(engine, "mail")
    [envelope] = smtp.envelopes
    assert envelope.mail_from == "warroom@example.com"
    assert envelope.rcpt_tos == ["admin-team@example.com", "oncall@example.com"]
    message = envelope.content.decode()
    assert "Subject: [P0] Test rollback: rollback in progress" in message
    assert "To: admin-team@example.com, oncall@example.com" in message
    assert f"Incident {engine.state.id} (Data corruption or loss). Current phase: Main." in message
    facts = result["facts"]
    assert facts["delivered"] is True and facts["detail"] == "accepted for 2 recipients"
    assert facts["target"] == f"127.0.0.1:{smtp.port} (2 recipients)"
    assert "delivered over email" in output


# ----- failures never block the rollback -------------------------------------------------------------


def failing(case: str, receiver: Receiver, smtp: Mailbox) -> tuple[str, int, int, str]:
    """Arrange one failure; returns (step params, hook port, smtp port, expected error text)."""
    closed = free_port()
    if case == "slack-500":
        receiver.status = 500
        return slack_params(), receiver.port, smtp.port, "slack webhook at 127.0.0.1: HTTP 500: internal_error"
    if case == "slack-closed":
        return slack_params(), closed, smtp.port, "slack webhook at 127.0.0.1: connection refused by 127.0.0.1"
    if case == "slack-hangs":
        receiver.hang = True
        params = slack_params().replace("timeout = 2", "timeout = 0.5")
        return params, receiver.port, smtp.port, "slack webhook at 127.0.0.1: no answer within 0.5s"
    if case == "smtp-refuses":
        smtp.refuse = "550 5.1.1 mailbox unavailable"
        params = 'channel = "email", template = "incident {incident_id}"'
        return params, receiver.port, smtp.port, "all recipients refused (admin-team@example.com: 550 5.1.1 mailbox"
    assert case == "smtp-closed"
    params = 'channel = "email", template = "incident {incident_id}"'
    return params, receiver.port, closed, f"SMTP 127.0.0.1:{closed} (2 recipients): connection refused"


@pytest.mark.parametrize("case", ["slack-500", "slack-closed", "slack-hangs", "smtp-refuses", "smtp-closed"])
async def test_failed_notification_is_warned_and_the_step_still_succeeds(tmp_path, receiver, smtp, monkeypatch, case):
    params, hook_port, smtp_port, expected = failing(case, receiver, smtp)
    monkeypatch.setenv("TEST_SLACK_WEBHOOK", f"http://127.0.0.1:{hook_port}/services/T0001/B0001/{TOKEN}")
    monkeypatch.setenv("TEST_STATUSPAGE_URL", f"http://127.0.0.1:{hook_port}/hooks/{TOKEN}")
    config = config_text(tmp_path, hook_port=hook_port, smtp_port=smtp_port)
    engine = open_engine(tmp_path, config, notify_step("tell", params))
    started = time.monotonic()
    result, output, journal = await run(engine, "tell")  # asserts the step succeeded
    assert time.monotonic() - started < 5
    facts = result["facts"]
    assert facts["delivered"] is False and expected in facts["error"], facts["error"]
    [warning] = [r["data"] for r in journal if r["type"] == "step.warning"]
    assert warning["host"] == "warroom" and warning["step"] == "tell"
    assert "notification NOT delivered" in warning["message"] and expected in warning["message"]
    assert "the rollback continues" in output
    assert_no_secret(output, json.dumps(journal), json.dumps(facts))
    assert not smtp.envelopes


async def test_unconfigured_channel_and_missing_secret_are_warnings(tmp_path, receiver, smtp, monkeypatch):
    monkeypatch.delenv("TEST_SLACK_WEBHOOK", raising=False)
    config = config_text(tmp_path, hook_port=receiver.port, smtp_port=smtp.port, statuspage=False)
    steps = notify_step("page", 'channel = "statuspage", template = "x {phase}"') + notify_step("slack", slack_params())
    engine = open_engine(tmp_path, config, steps)
    try:
        assert await engine.run_step(ALICE, "page") == "succeeded"
        assert await engine.run_step(ALICE, "slack") == "succeeded"
    finally:
        await engine.aclose()
    page = engine.state.steps["page"].attempt
    assert (
        "channel 'statuspage' is not configured (configured: slack, email)" in page.results["warroom"]["facts"]["error"]
    )
    slack = engine.state.steps["slack"].attempt
    assert "environment variable TEST_SLACK_WEBHOOK is not set" in slack.warnings[0]["message"]
    assert receiver.bodies == []


async def test_cancel_during_a_hanging_delivery(tmp_path, receiver, hooks, smtp):
    receiver.hang = True
    config = config_text(tmp_path, hook_port=receiver.port, smtp_port=smtp.port)
    engine = open_engine(tmp_path, config, notify_step("slack", slack_params().replace("timeout = 2", "timeout = 20")))
    try:
        task = engine.start_step(ALICE, "slack")
        while not receiver.bodies:
            await asyncio.sleep(0.02)
        engine.cancel_step(ALICE, "slack")
        await asyncio.wait_for(task, 3)
    finally:
        await engine.aclose()
    assert engine.state.steps["slack"].status == "cancelled"


# ----- the send() the comms timeline calls ------------------------------------------------------------


async def test_send_for_the_comms_timeline(tmp_path, receiver, hooks, smtp):
    config = load_config_text(tmp_path, config_text(tmp_path, hook_port=receiver.port, smtp_port=smtp.port))
    asked: list[str] = []

    def secret(key: str) -> str:
        asked.append(key)
        return hooks[0]

    result = await send(config, "slack", "comms item sent by hand", secret=secret)
    assert result.delivered and result.target == "127.0.0.1" and asked == ["notify.slack.webhook_url"]
    assert receiver.bodies[-1][1]["text"] == "comms item sent by hand"
    mail = await send(config, "email", "body text", subject="Status update")  # resolves refs itself
    assert mail.delivered and smtp.envelopes[-1].rcpt_tos == ["admin-team@example.com", "oncall@example.com"]
    unknown = await send(config, "pager", "x")
    assert not unknown.delivered and "'pager' is not configured" in unknown.error


def load_config_text(tmp_path: Path, text: str):
    (tmp_path / "config.toml").write_text(text)
    return load_config(tmp_path / "config.toml").model


# ----- incident facts -----------------------------------------------------------------------------------

TWO_PHASES = """
[[phases]]
id = "second"
title = "Restore Database"
start_minute = 10
end_minute = 40

[[phases.steps]]
id = "restore"
title = "Restore"
kind = "manual"
checks = [{ id = "done", text = "Database restored" }]
"""


async def test_incident_facts_follow_the_engine_state(tmp_path, receiver, smtp):
    start = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)
    clock = FrozenClock(start)
    config = config_text(tmp_path, hook_port=receiver.port, smtp_port=smtp.port)
    steps = notify_step("first", slack_params()) + TWO_PHASES
    engine = open_engine(tmp_path, config, steps, clock=clock)
    try:
        facts = incident_facts(engine.state, clock.now())
        assert facts == {
            "incident_id": engine.state.id,
            "severity": "P0",
            "severity_label": "Critical",
            "phase": "Main",
            # nothing done: each unfinished step is its phase's whole window (10 + 30 minutes)
            "eta": f"{start + timedelta(minutes=40):%H:%M} UTC",
            "runbook": "Test rollback",
            "environment": "staging",
            "trigger": "Data corruption or loss",
        }
        engine.skip_step(ALICE, "first", "not needed")
        clock.advance(minutes=5)
        later = incident_facts(engine.state, clock.now())
        assert later["phase"] == "Restore Database" and later["eta"] == "09:35 UTC"
        engine.tick(ALICE, "restore", "done", "pass")
        assert incident_facts(engine.state, clock.now())["phase"] == "rollback complete"
    finally:
        await engine.aclose()


# ----- runbook checks and plan ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "extra", "problem"),
    [
        ('channel = "slack", template = "ETA {eta} by {owner}"', "", "params.template: unknown field {owner}"),
        ('channel = "slack", template = "id {}"', "", "positional field {}"),
        ('channel = "slack", template = "id {incident_id"', "", "not a valid template"),
        ('channel = "slack", template = "x {severity.__class__}"', "", "unknown field {severity.__class__}"),
        ('channel = "pager", template = "x"', "", "params.channel: give one of slack, statuspage, email"),
        ('channel = "slack"', "", "params.template: expected a text"),
        ('channel = "slack", template = "x", subject = "s"', "", "params.subject is for the email channel only"),
        ('channel = "email", template = "x", subject = "{nope}"', "", "params.subject: unknown field {nope}"),
        ('channel = "slack", template = "x", to = "#ops"', "", "unknown notify parameter(s) to"),
        ('channel = "slack", template = "x"', 'targets = "app"\n', "runs on the warroom machine: remove targets"),
    ],
)
def test_bad_notify_steps_are_runbook_errors_at_load(tmp_path, params, extra, problem):
    with pytest.raises(RunbookError) as err:
        load_runbook(write_runbook(tmp_path / "runbook.toml", notify_step("n", params, extra=extra)), KINDS)
    message = str(err.value)
    assert problem in message and "runbook.toml:" in message and "phases[0].steps[0]" in message


def test_plan_names_channel_and_template_never_a_url(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_SLACK_WEBHOOK", f"https://hooks.slack.com/services/{TOKEN}")
    loaded = load_config_text(tmp_path, config_text(tmp_path, hook_port=1, smtp_port=25))
    assert loaded.notify.slack is not None
    config = load_config(tmp_path / "config.toml")
    runbook = load_runbook(
        write_runbook(tmp_path / "runbook.toml", notify_step("n", slack_params("Hi {phase}"))), KINDS
    )
    step = build_plan(runbook, config).steps["n"]
    assert step.hosts == ("warroom",)
    [command] = NotifyAction().plan(step)
    assert command.host == "warroom"
    assert command.text == "send slack (Slack webhook from [notify.slack]): 'Hi {phase}'"
