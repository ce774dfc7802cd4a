"""What a hostile or careless SSH client may cost ``warroom serve`` (issue 11, findings 2, 3, 4, 12b):
the server runs in this process, so its file descriptors and memory are read from /proc/self."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from asyncio.subprocess import PIPE

import asyncssh
import pytest
from ssh_hardening_support import TESTS, Client, open_fds, rss_mb, start_room

from console.model.config import load_config
from console.model.errors import ConfigError


@pytest.fixture
async def ssh_room(tmp_path, engine, monkeypatch):
    """``await ssh_room(max_sessions=6, ...)``: a started SessionServer with those [server] settings."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS.parent), str(TESTS)]))  # the fork server's path
    rooms = []

    async def start(**settings: int):
        rooms.append(await start_room(tmp_path, engine, settings))
        return rooms[-1]

    yield start
    for room in rooms:
        await room.server.close()


# ----- finding 2: pty sizes --------------------------------------------------------------------------------
async def test_huge_pty_sizes_and_resizes_leak_no_descriptor_and_are_cut_to_a_screen(ssh_room):
    room = await ssh_room()
    warm = await room.connect("olive")
    (await room.session(warm)).chan.close()
    warm.close()
    await room.wait_idle()
    before = open_fds()
    ready = []
    for _ in range(25):
        async with await room.connect("olive") as conn:
            client = await room.session(conn, size=(70000, 70000))
            try:
                await client.wait_for(b"READY", timeout=5)
                client.chan.change_terminal_size(100000, 3, 1 << 20, 7)
                client.chan.write(b"size")
                await client.wait_for(b"SIZE", timeout=5)
            except AssertionError:
                pass
            ready.append(bytes(client.output))
    await room.wait_idle()
    print(f"server fds: {before} before 25 sessions with 70000x70000 ptys, {open_fds()} after")
    assert open_fds() <= before + 2
    for output in ready:
        assert b"READY 1024x1024" in output
        assert b"SIZE 1024x3" in output  # the resize was cut too, and the session lived on


# ----- finding 3: env requests -----------------------------------------------------------------------------
ENV_FLOOD = """
import asyncio, sys, asyncssh
async def main(port, key):
    junk = {f"JUNK_{i}": "v" * 30_000 for i in range(1000)}
    for _ in range(3):  # 3000 x 30 KB, as in the review
        async with asyncssh.connect("127.0.0.1", port, username="olive", client_keys=[key], known_hosts=None) as c:
            env = {**junk, "COLORTERM": "truecolor", "LANG": "C.UTF-8", "NO_COLOR": "x" * 100}
            chan, _ = await c.create_session(asyncssh.SSHClientSession, term_type="xterm", env=env, request_pty="force")
            await asyncio.sleep(1)
            print("SENT", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
"""


async def test_env_requests_keep_only_what_a_console_reads_and_stay_small(ssh_room, tmp_path):
    room = await ssh_room()
    key = tmp_path / "olive"
    room.keys["olive"].write_private_key(str(key))
    before = rss_mb()
    client = await asyncio.create_subprocess_exec(
        sys.executable, "-c", ENV_FLOOD, str(room.port), str(key), stdin=PIPE, stdout=PIPE
    )
    try:
        for _ in range(3):
            assert await asyncio.wait_for(client.stdout.readline(), 30) == b"SENT\n"
            kept = dict(room.server_session("olive")._chan.get_environment())
            assert kept == {"COLORTERM": "truecolor"}  # junk refused; LANG is the server's; NO_COLOR too long
            during = rss_mb()
            client.stdin.write(b"next\n")
        assert await client.wait() == 0
    finally:
        if client.returncode is None:
            client.kill()
            await client.wait()
    await room.wait_idle()
    after = rss_mb()
    print(f"server RSS: {before:.0f} MB before 3000 x 30 KB env requests, {during:.0f} during, {after:.0f} after")
    assert during - before < 20 and after - before < 20
    async with await room.connect("olive") as conn:  # and the console still gets the colour it asked for
        client = await room.session(conn, env={"COLORTERM": "truecolor", "JUNK": "x" * 30_000})
        await client.wait_for(b"READY")
        assert b"COLORTERM=truecolor" in client.output


# ----- finding 4: unauthenticated connections and session slots ------------------------------------------
async def test_connections_past_the_unauthenticated_cap_are_dropped_at_once(ssh_room):
    room = await ssh_room()  # server.max_unauthenticated = 16 by default
    before = open_fds()
    started = time.monotonic()
    streams = [await asyncio.open_connection("127.0.0.1", room.port) for _ in range(40)]

    async def dropped_after(reader: asyncio.StreamReader) -> float | None:
        """Seconds until the server closed this silent connection; None: it still holds it."""
        try:
            await asyncio.wait_for(reader.read(), 3)
        except TimeoutError:
            return None
        return time.monotonic() - started

    outcomes = await asyncio.gather(*(dropped_after(reader) for reader, _ in streams))
    dropped = [seconds for seconds in outcomes if seconds is not None]
    server_fds = open_fds() - before - len(streams)  # our own 40 client sockets are in this process too
    print(
        f"40 silent connections: {40 - len(dropped)} held, {len(dropped)} dropped within "
        f"{max(dropped, default=0):.2f}s; server fds +{server_fds}"
    )
    assert len(dropped) == 24  # closed by the server, not left to the 30 s login timeout
    assert max(dropped) < 1.5
    assert server_fds <= 16 + 2
    for _, writer in streams:
        writer.close()
    await asyncio.sleep(0.3)
    async with await room.connect("alice") as conn:  # the slots are given back
        await (await room.session(conn)).wait_for(b"READY")


async def _refused(client: Client, message: bytes) -> None:
    await asyncio.wait_for(client.ended.wait(), 5)
    assert message in client.output, bytes(client.output)
    assert client.chan.get_exit_status() == 1


async def test_one_observer_hits_the_per_user_cap_with_a_clear_message(ssh_room):
    room = await ssh_room()  # server.max_sessions_per_user = 16 by default
    async with await room.connect("olive") as first, await room.connect("olive") as second:
        clients = [await room.session(conn) for conn in (first, second) for _ in range(8)]
        for client in clients:
            await client.wait_for(b"READY")
        await _refused(
            await room.session(second), b"warroom: olive already has 16 sessions open (server.max_sessions_per_user)"
        )
        async with await room.connect("alice") as alice:  # the driver is not held back by her
            await (await room.session(alice)).wait_for(b"READY")


async def test_one_user_cannot_hold_connections_without_end(ssh_room):
    room = await ssh_room()
    before = open_fds()
    conns = [await room.connect("olive") for _ in range(16)]
    lost: list[Exception | None] = []

    class Watcher(asyncssh.SSHClient):
        def connection_lost(self, exc: Exception | None) -> None:
            lost.append(exc)

    extra = await asyncssh.connect(
        "127.0.0.1",
        room.port,
        username="olive",
        client_keys=[room.keys["olive"]],
        known_hosts=None,
        client_factory=Watcher,
    )
    await asyncio.wait_for(extra.wait_closed(), 5)  # the server hangs up at once, saying why
    assert isinstance(lost[0], asyncssh.DisconnectError)
    assert lost[0].reason.startswith("olive already has 16 connections open (server.max_sessions_per_user)")
    async with await room.connect("alice") as alice:  # the driver is not held back by her
        await (await room.session(alice)).wait_for(b"READY")
    for conn in conns:
        conn.close()
        await conn.wait_closed()
    await asyncio.sleep(0.2)
    assert open_fds() <= before + 2
    async with await room.connect("olive"):  # connections given back
        pass


async def test_a_driver_always_gets_in_when_observers_filled_their_slots(ssh_room):
    room = await ssh_room(max_sessions=6, max_sessions_per_user=3, driver_reserved_sessions=2)
    olive, oscar, alice = [await room.connect(name) for name in ("olive", "oscar", "alice")]
    olives = [await room.session(olive) for _ in range(3)]
    for client in olives:
        await client.wait_for(b"READY")
    await (await room.session(oscar)).wait_for(b"READY")
    await _refused(await room.session(oscar), b"warroom: every session slot open to observers is taken")
    for _ in range(2):
        await (await room.session(alice)).wait_for(b"READY")  # the driver's reserved slots
    await _refused(await room.session(alice), b"warroom: too many sessions on this server (6)")

    olives[0].chan.close()  # a slot given back is a slot taken again
    await asyncio.wait_for(olives[0].ended.wait(), 5)
    for _ in range(100):
        if sum(room.server.limits.held.values()) == 5:
            break
        await asyncio.sleep(0.05)
    await (await room.session(oscar)).wait_for(b"READY")
    for conn in (olive, oscar, alice):
        conn.close()


async def test_one_connection_cannot_open_channels_without_end(ssh_room):
    room = await ssh_room(max_sessions_per_user=20)
    async with await room.connect("alice") as conn:
        opened = []
        with pytest.raises(asyncssh.ChannelOpenError, match="too many sessions on one connection"):
            for _ in range(20):
                opened.append(await room.session(conn))
        assert len(opened) == 10  # OpenSSH's MaxSessions
        for client in opened:
            await client.wait_for(b"READY")


# ----- finding 12b: back-pressure ----------------------------------------------------------------------
async def test_a_child_that_does_not_read_its_keyboard_stops_the_client_not_our_memory(ssh_room):
    room = await ssh_room()
    async with await room.connect("olive") as olive, await room.connect("alice") as alice:
        watcher, driver = await room.session(olive), await room.session(alice)
        await watcher.wait_for(b"READY")
        await driver.wait_for(b"READY")
        watcher.chan.write(b"deaf")
        await watcher.wait_for(b"DEAF")
        chunk = b"k" * 65536
        for _ in range(320):  # 20 MB of keys
            watcher.chan.write(chunk)
            await asyncio.sleep(0)
        await asyncio.sleep(1.5)
        pending = len(room.server_session("olive").child._pending)
        lag = max([await driver.round_trip(f"ping{i}".encode()) for i in range(5)])
        print(f"20 MB typed at a console that does not read: server holds {pending} bytes; driver echo {lag:.3f}s")
        assert pending <= 256 * 1024
        assert watcher.chan.get_write_buffer_size() > 10_000_000  # the rest waits at the client, by flow control
        assert lag < 0.5


async def test_a_client_that_never_reads_a_flood_costs_bounded_memory_and_never_slows_the_driver(ssh_room):
    room = await ssh_room()
    async with await room.connect("olive") as olive, await room.connect("alice") as alice:
        watcher, driver = await room.session(olive), await room.session(alice)
        await watcher.wait_for(b"READY")
        await driver.wait_for(b"READY")
        before = rss_mb()
        watcher.chan.pause_reading()  # this client's window is never opened again
        watcher.chan.write(b"flood")
        await asyncio.sleep(3)
        buffered = room.server_session("olive")._chan.get_write_buffer_size()
        lag = max([await driver.round_trip(f"ping{i}".encode()) for i in range(5)])
        grown = rss_mb() - before
        print(f"flood to a client that never reads: {buffered} bytes buffered, RSS +{grown:.1f} MB, driver {lag:.3f}s")
        assert buffered <= 1024 * 1024
        assert grown < 20
        assert lag < 0.5


def test_a_reserve_that_leaves_observers_no_slot_is_refused_in_one_line(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(
        '[environment]\nname = "t"\n\n[hosts.h1]\naddress = "127.0.0.1"\nuser = "root"\n\n[groups]\napp = ["h1"]\n\n'
        "[server]\nmax_sessions = 4\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert str(caught.value) == (
        f"{config}:11: server: driver_reserved_sessions must be below max_sessions, or no observer could ever join"
    )
