"""The communication plan: a message sent through its configured channel, or recorded by hand.

A local HTTP server stands for Slack's incoming webhook (a third-party SaaS endpoint) and records
what it receives.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import ALICE, OLIVE
from test_engine import records

from console.model.errors import ActionError, CommandRefused


class Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append({"path": self.path, "json": json.loads(body)})
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        return


@pytest.fixture
def slack(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Receiver.received = []
    url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/sekrit-token"
    monkeypatch.setenv("TEST_SLACK_URL", url)
    yield url
    server.shutdown()
    server.server_close()
    thread.join()


def with_slack(engine) -> None:
    """Give the engine a config with a Slack channel (the fixture engine has none)."""
    from console.model.config import LoadedConfig, load_config

    source = engine.journal.path.parents[3] / "config.toml"
    text = source.read_text() + '\n[notify.slack]\nwebhook_url = "env:TEST_SLACK_URL"\nchannel = "#ops"\n'
    source.write_text(text)
    loaded = load_config(source)
    assert isinstance(loaded, LoadedConfig)
    engine.config = loaded


async def test_message_goes_through_the_configured_channel(engine, slack):
    with_slack(engine)
    engine.take_seat(ALICE)
    outcome = await engine.send_comms(ALICE, "slack-ops", "first alert")
    assert outcome.startswith("delivered via slack to 127.0.0.1")
    [message] = Receiver.received
    assert message["path"].endswith("/sekrit-token")
    assert message["json"]["channel"] == "#ops"
    assert engine.state.comms["slack-ops"]["result"] == outcome
    assert "sekrit-token" not in engine.journal.path.read_text()


async def test_a_failed_delivery_is_journaled_and_the_message_stays_due(engine, monkeypatch):
    with_slack(engine)
    monkeypatch.setenv("TEST_SLACK_URL", "http://127.0.0.1:9/hooks/never")
    engine.take_seat(ALICE)
    with pytest.raises(ActionError, match="not delivered via slack"):
        await engine.send_comms(ALICE, "slack-ops")
    assert "slack-ops" not in engine.state.comms
    assert [r["type"] for r in records(engine)][-1] == "comms.failed"
    await engine.send_comms(ALICE, "slack-ops", "phoned the ops lead", via="manual")
    assert engine.state.comms["slack-ops"]["result"] == "recorded as sent"


async def test_observers_cannot_send(engine, slack):
    with_slack(engine)
    with pytest.raises(CommandRefused, match="observers watch only"):
        await engine.execute(OLIVE, "comms", {"comm": "slack-ops"})
    assert Receiver.received == []
