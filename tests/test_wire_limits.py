"""Finding 11: command arguments are capped (a clear refusal, journaled in a bounded form) and the
welcome does not grow with the journal, so attaching works whatever the incident's size."""

from __future__ import annotations

import asyncio
import json

import pytest
from conftest import ALICE, OLIVE

import console.host.remote as remote
from console.host.attach import AttachServer
from console.host.remote import RemoteSession
from console.host.session import LocalSession
from console.host.wire import MAX_ARGUMENT, MAX_COMMAND_LINE, MAX_NAME, encode, hello, welcome
from console.model.errors import CommandRefused, IncidentError

BIG = "x" * 100_000  # over the argument cap, within a command line
CRAFTED = "x" * (2 * 1024 * 1024)  # the review's 2 MB step name: over the line cap too


@pytest.fixture
async def served(engine):
    server = AttachServer(engine, seat_grace=0.2)
    await server.start()
    yield engine, server
    await server.close()


async def answer(reader: asyncio.StreamReader) -> dict:
    """The next reply or error, past the records streamed after the welcome."""
    while line := await reader.readline():
        message = json.loads(line)
        if "reply" in message or "error" in message:
            return message
    raise AssertionError("the connection closed without an answer")


def journal_lines(engine) -> list[str]:
    return (engine.directory / "journal.jsonl").read_text().splitlines()


async def test_a_huge_argument_is_refused_naming_it_and_the_limit_and_journaled_small(served):
    engine, server = served
    engine.take_seat(ALICE)
    driver = await RemoteSession.connect(server.path, token=server.issue_token(ALICE))
    try:
        with pytest.raises(CommandRefused) as refused:
            await driver.command("start", step=BIG)
        assert "'step'" in str(refused.value) and f"{MAX_ARGUMENT}" in str(refused.value)
        with pytest.raises(CommandRefused, match="'text'"):
            await LocalSession(engine, ALICE).command("note", text=BIG)
        await driver.command("note", text="y" * MAX_ARGUMENT)  # at the limit: accepted
    finally:
        await driver.aclose()
    assert max(len(line) for line in journal_lines(engine)) < MAX_ARGUMENT + 2048
    refusals = [r for r in engine.records if r["type"] == "command.refused"]
    assert [r["data"]["command"] for r in refusals] == ["start", "note"]


async def test_a_huge_unknown_command_name_or_hello_is_journaled_small(served):
    engine, server = served
    with pytest.raises(IncidentError, match=f"at most {MAX_NAME} characters"):
        await RemoteSession.connect(server.path, user="u" * 100_000)
    reader, writer = await asyncio.open_unix_connection(str(server.path), limit=1024 * 1024)
    writer.write(encode({**hello("v" * 100_000, user="carol")}))
    writer.write(encode({"id": 1, "cmd": "c" * 100_000, "args": {}}))
    await writer.drain()
    assert "welcome" in json.loads(await reader.readline())
    assert (await asyncio.wait_for(answer(reader), 10))["error"]["refused"] is True
    writer.close()
    await asyncio.sleep(0.2)
    assert max(len(line) for line in journal_lines(engine)) < 4096


async def test_a_command_line_over_the_limit_is_refused_and_the_server_serves_on(served):
    engine, server = served
    reader, writer = await asyncio.open_unix_connection(str(server.path))
    writer.write(encode(hello("socket", token=server.issue_token(OLIVE))))
    await writer.drain()
    assert "welcome" in json.loads(await reader.readline())
    writer.write(encode({"id": 1, "cmd": "start", "args": {"step": CRAFTED}}))
    await writer.drain()
    assert f"{MAX_COMMAND_LINE}" in (await asyncio.wait_for(answer(reader), 10))["error"]["message"]
    assert await asyncio.wait_for(reader.read(), 10) == b""  # dropped: what follows in the stream cannot be trusted
    writer.close()
    refused = [r for r in engine.records if r["type"] == "command.refused"]
    assert refused and refused[-1]["actor"] == "olive"
    assert max(len(line) for line in journal_lines(engine)) < 4096
    again = await RemoteSession.connect(server.path, user="carol")
    await again.aclose()


async def test_attaching_works_whatever_the_journal_size(served, monkeypatch):
    """The client's line limit is lowered to 64 KiB: a journal of 300 KiB cannot fit in one line."""
    engine, server = served
    engine.take_seat(ALICE)
    for i in range(40):
        engine.add_note(ALICE, f"{i:03} " + "n" * 8000)
    monkeypatch.setattr(remote, "SERVER_LINE_LIMIT", 64 * 1024)
    watcher = await RemoteSession.connect(server.path, user="carol")
    try:
        assert watcher.state.seq == engine.state.seq >= 40
        assert len(watcher.state.notes) == len(engine.state.notes)
        engine.add_note(ALICE, "after the welcome")
        for _ in range(100):
            if watcher.state.seq == engine.state.seq:
                break
            await asyncio.sleep(0.02)
        assert watcher.state.seq == engine.state.seq
    finally:
        await watcher.aclose()


async def test_a_journal_cut_short_after_the_welcome_is_one_clear_error(tmp_path):
    """An engine that dies while sending the journal: the client says so in one line."""

    async def dying(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.write(encode(welcome("carol", "observer", str(tmp_path), 3)))
        writer.write(encode({"record": {"seq": 1}}) + b"not json\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(dying, path=str(tmp_path / "dying.sock"))
    try:
        with pytest.raises(IncidentError, match="did not send the whole journal"):
            await RemoteSession.connect(tmp_path / "dying.sock", user="carol")
    finally:
        server.close()
        await server.wait_closed()
