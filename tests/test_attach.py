"""The engine's unix socket: live state for other processes, commands bound to the token's actor."""

from __future__ import annotations

import asyncio
import json
import stat

import pytest
from conftest import ALICE, BOB, OLIVE

from console.engine import Engine
from console.host.attach import AttachServer, locate_socket, socket_path_for
from console.host.incident_host import IncidentHost, Sharing
from console.host.remote import RemoteSession
from console.host.wire import HELLO_PROTOCOL, PROTOCOL, encode, hello
from console.model.config import load_config
from console.model.errors import CommandRefused, IncidentError


@pytest.fixture
async def served(engine):
    server = AttachServer(engine, seat_grace=0.2)
    await server.start()
    yield engine, server
    await server.close()


async def until(predicate, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met")


async def test_socket_is_owner_only_and_a_watcher_sees_the_same_state(served):
    engine, server = served
    assert stat.S_IMODE(server.path.stat().st_mode) == 0o600
    assert locate_socket(engine.directory) == server.path
    engine.take_seat(ALICE)
    watcher = await RemoteSession.connect(server.path, user="carol")
    try:
        assert watcher.actor.role == "observer" and watcher.state.driver == "alice"
        engine.tick(ALICE, "verify", "auth", "pass", "logged in")
        await until(lambda: ("verify", "auth") in watcher.state.ticks)
        assert watcher.state.ticks[("verify", "auth")] == engine.state.ticks[("verify", "auth")]
        assert any(p["name"] == "carol" for p in engine.state.presence.values())
        assert watcher.watchers == 1
    finally:
        await watcher.aclose()
    await until(lambda: not engine.state.presence)
    assert [r["type"] for r in engine.records if r["type"].startswith("presence.")] == [
        "presence.joined",
        "presence.left",
    ]


async def test_a_token_binds_the_actor_and_observers_are_refused_in_the_engine(served):
    engine, server = served
    driver = await RemoteSession.connect(server.path, token=server.issue_token(ALICE), via="ssh")
    observer = await RemoteSession.connect(server.path, token=server.issue_token(OLIVE), via="ssh")
    try:
        await driver.command("take-seat")
        await driver.command("tick", step="verify", check="auth", result="pass", note="ok")
        await until(lambda: ("verify", "auth") in observer.state.ticks)
        with pytest.raises(CommandRefused, match="observers watch only"):
            await observer.command("tick", step="verify", check="core", result="pass")
        with pytest.raises(CommandRefused, match="observers watch only"):
            await observer.command("start", step="restore", confirm="restore")
        refused = [r for r in engine.records if r["type"] == "command.refused"]
        assert [(r["actor"], r["data"]["command"]) for r in refused] == [("olive", "tick"), ("olive", "start")]
    finally:
        await driver.aclose()
        await observer.aclose()


async def test_crafted_messages_are_refused_and_journaled(served):
    engine, server = served
    reader, writer = await asyncio.open_unix_connection(str(server.path))
    writer.write(encode(hello("ssh", token=server.issue_token(OLIVE))))
    for message in (
        {"id": 1, "cmd": "become-driver", "args": {}},
        {"id": 2, "cmd": "take-seat", "args": {"as": "alice"}},
        {"id": 3, "cmd": "note", "args": {"text": ["not", "a", "string"]}},
        {"id": 4, "cmd": "close", "args": {}},
    ):
        writer.write(json.dumps(message).encode() + b"\n")
    await writer.drain()
    replies = {}
    while len(replies) < 4:
        message = json.loads(await asyncio.wait_for(reader.readline(), 5))
        if "reply" in message:
            replies[message["reply"]] = message["error"]["message"]
    writer.close()
    assert "unknown command" in replies[1]
    assert "unknown argument 'as'" in replies[2]
    assert "must be a string" in replies[3]
    assert "observers watch only" in replies[4]
    refused = [r for r in engine.records if r["type"] == "command.refused"]
    assert len(refused) == 4 and {r["actor"] for r in refused} == {"olive"}
    assert engine.state.driver is None and engine.state.status == "open"


async def test_a_hello_of_another_protocol_is_refused_with_a_titled_error(served, monkeypatch):
    engine, server = served
    journaled = len(engine.records)
    reader, writer = await asyncio.open_unix_connection(str(server.path))
    wrong = {**hello("ssh", token=server.issue_token(ALICE)), HELLO_PROTOCOL: PROTOCOL + 1}
    writer.write(encode(wrong) + encode({"id": 1, "cmd": "take-seat", "args": {}}))
    await writer.drain()
    answer = json.loads(await asyncio.wait_for(reader.readline(), 5))
    assert await asyncio.wait_for(reader.readline(), 5) == b""  # and the server hangs up
    writer.close()
    assert answer["error"]["title"] == "Wrong attach protocol"
    assert f"protocol {PROTOCOL + 1}" in answer["error"]["message"]
    assert len(engine.records) == journaled and engine.state.driver is None

    def newer_hello(*args, **kwargs):  # a client of a newer warroom
        return {**hello(*args, **kwargs), HELLO_PROTOCOL: PROTOCOL + 1}

    monkeypatch.setattr("console.host.remote.hello", newer_hello)
    with pytest.raises(IncidentError, match="attach protocol") as refused:
        await RemoteSession.connect(server.path, user="carol")
    assert refused.value.title == "Wrong attach protocol" and "\n" not in str(refused.value)
    assert len(engine.records) == journaled


async def test_a_used_or_unknown_token_is_refused(served):
    _, server = served
    token = server.issue_token(ALICE)
    first = await RemoteSession.connect(server.path, token=token)
    await first.aclose()
    with pytest.raises(IncidentError, match="unknown or used token"):
        await RemoteSession.connect(server.path, token=token)


async def test_seat_request_hand_over_and_the_grace_after_a_disconnect(served):
    engine, server = served
    alice = await RemoteSession.connect(server.path, token=server.issue_token(ALICE))
    bob = await RemoteSession.connect(server.path, token=server.issue_token(BOB))
    try:
        await alice.command("request-seat")  # free: taken at once
        assert engine.state.driver == "alice"
        await bob.command("request-seat")
        await until(lambda: [r["by"] for r in alice.state.seat_requests] == ["bob"])
        await alice.command("hand-over", to="bob")
        await until(lambda: bob.is_driver)
        await bob.command("note", text="bob drives now")
    finally:
        await alice.aclose()
    await bob.aclose()
    await until(lambda: engine.state.driver is None, timeout=3)
    last_release = [c for c in engine.state.seat_changes if c["type"] == "seat.released"][-1]
    assert "bob disconnected" in last_release["reason"] and last_release["by"] == "warroom"


async def test_a_watcher_with_the_drivers_name_does_not_cost_the_driver_the_seat(served):
    engine, server = served
    engine.take_seat(ALICE)
    watcher = await RemoteSession.connect(server.path, user="alice")  # the driver's second monitor
    assert watcher.actor.role == "observer"
    await watcher.aclose()
    await asyncio.sleep(0.5)  # longer than the fixture's grace
    assert engine.state.driver == "alice"


def _host(engine, sharing: Sharing) -> IncidentHost:
    """A host over the fixture's engine, its socket path taken by a plain file: sharing cannot bind."""
    socket_path_for(engine.directory).write_text("not a socket")
    config = load_config(engine.directory.parents[2] / "config.toml")
    return IncidentHost(engine, ALICE, config, sharing)


async def test_a_strict_host_that_cannot_share_stops_and_releases_the_incident(engine):
    host = _host(engine, Sharing())
    try:
        with pytest.raises(IncidentError, match="not a socket"):
            await host.start()
        resumed = Engine.resume(engine.directory, ALICE)  # the lock was released with the engine
        await resumed.aclose()
    finally:
        socket_path_for(engine.directory).unlink(missing_ok=True)  # never leave the plain file behind


async def test_a_lenient_host_that_cannot_share_says_why_and_serves_on(engine):
    host = _host(engine, Sharing(strict=False))
    try:
        async with host:
            assert "not a socket" in str(host.not_shared)
            session = host.session()
            await session.command("take-seat")
            assert session.is_driver and host.ssh is None
        resumed = Engine.resume(engine.directory, ALICE)  # closing the host released the incident
        await resumed.aclose()
    finally:
        socket_path_for(engine.directory).unlink(missing_ok=True)


async def test_a_server_refused_at_start_removes_nothing_on_close(engine, tmp_path):
    path = tmp_path / "taken.sock"
    path.write_text("somebody's file")
    pointer = engine.directory / "attach.path"
    pointer.write_text("/somewhere/else.sock\n")
    server = AttachServer(engine, path)
    with pytest.raises(IncidentError, match="exists and is not a socket"):
        await server.start()
    await server.close()
    assert path.read_text() == "somebody's file" and pointer.read_text() == "/somewhere/else.sock\n"
    served = AttachServer(engine, tmp_path / "ours.sock")  # one that did bind removes what it made
    await served.start()
    await served.close()
    assert not served.path.exists() and not pointer.exists()


async def test_a_client_that_fell_behind_gets_the_newest_lines_not_a_backlog(served):
    """Output queued for a client that does not read is kept per host to the pane's last lines
    (OUTPUT_LINES_KEPT): when it reads again, the step's last line arrives at once."""
    from console.engine.stream import Output
    from console.host.attach import OUTPUT_LINES_KEPT

    engine, server = served
    reader, writer = await asyncio.open_unix_connection(str(server.path), limit=64 * 1024 * 1024)
    writer.write(encode(hello("test", user="slow")))
    await writer.drain()
    await until(lambda: any(p["name"] == "slow" for p in engine.state.presence.values()))
    total = 0
    for batch in range(400):  # 400,000 lines published while the client reads nothing
        engine.publish(Output("flood", 1, "app1", [f"line-{total + n:06d}" for n in range(1000)]))
        total += 1000
        if batch % 50 == 0:
            await asyncio.sleep(0)  # the sender gets to write some while the socket takes it
    engine.publish(Output("flood", 1, "other", ["the other host's only line"]))
    received: list[str] = []
    while f"line-{total - 1:06d}" not in received[-1:]:
        message = json.loads(await asyncio.wait_for(reader.readline(), 10))
        if "output" in message and message["output"]["host"] == "app1":
            received += message["output"]["lines"]
    assert len(received) < total / 4  # it skipped what it could not have shown
    assert received[-OUTPUT_LINES_KEPT:] == [f"line-{n:06d}" for n in range(total - OUTPUT_LINES_KEPT, total)]
    writer.close()
