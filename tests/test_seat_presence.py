"""Finding 8: the seat belongs to the connections that can drive as its holder; a watcher under the
driver's name neither keeps it alive nor cancels the grace after the driver's console went away."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time

import pytest
from conftest import ALICE, ssh_step, write_config, write_runbook
from serve_support import ServedWarRoom, keygen, server_users

from console.host.attach import AttachServer
from console.host.remote import RemoteSession

GRACE = 1.0


@pytest.fixture
async def served(engine):
    server = AttachServer(engine, seat_grace=0.3)
    await server.start()
    yield engine, server
    await server.close()


async def until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met"
        await asyncio.sleep(0.02)


async def test_a_watcher_of_the_drivers_name_arriving_in_the_grace_does_not_cancel_it(served):
    engine, server = served
    console = await RemoteSession.connect(server.path, token=server.issue_token(ALICE), via="ssh")
    await console.command("take-seat")
    await console.aclose()  # the driver's console went away: the grace runs
    watcher = await RemoteSession.connect(server.path, user="alice")  # `warroom watch` as alice
    try:
        await until(lambda: engine.state.driver is None, timeout=3)
    finally:
        await watcher.aclose()
    released = [c for c in engine.state.seat_changes if c["type"] == "seat.released"][-1]
    assert "alice disconnected" in released["reason"]


async def test_the_drivers_console_coming_back_in_the_grace_keeps_the_seat(served):
    engine, server = served
    console = await RemoteSession.connect(server.path, token=server.issue_token(ALICE), via="ssh")
    await console.command("take-seat")
    await console.aclose()
    again = await RemoteSession.connect(server.path, token=server.issue_token(ALICE), via="ssh")
    try:
        await asyncio.sleep(0.8)  # past the grace
        assert engine.state.driver == "alice"
    finally:
        await again.aclose()


# ----- a real serve: the driver's SSH console and a local watch under the driver's name -----------------
@pytest.fixture
def served_room(tmp_path, lab):
    if not (shutil.which("ssh") and shutil.which("ssh-keygen")):
        pytest.skip("the OpenSSH client is needed")
    keys = tmp_path / "keys"
    keys.mkdir()
    keygen(keys / "alice", "alice")
    users = f"\n[server]\nseat_grace = {GRACE}\nkeepalive = 1\n{server_users(keys, {'alice': 'driver'})}"
    config = write_config(tmp_path / "config.toml", lab, ["app1"], extra=users)
    room = ServedWarRoom(tmp_path, keys, config, write_runbook(tmp_path / "runbook.toml", ssh_step("hello", "true")))
    yield room
    room.stop()


def _console(room: ServedWarRoom, tmp_path) -> subprocess.Popen:
    """alice's console over SSH on a forced pty; its screen goes to a file, keys to its stdin."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")} | {"TERM": "xterm-256color"}
    with (tmp_path / "alice.screen").open("wb") as screen:
        return subprocess.Popen(
            room.ssh_argv("alice", None, "-tt"),
            stdin=subprocess.PIPE,
            stdout=screen,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


@pytest.mark.sshd
async def test_a_local_watch_as_the_driver_does_not_keep_a_served_seat(served_room, tmp_path):
    room = served_room
    console = _console(room, tmp_path)
    try:
        room.wait_record(lambda r: r["type"] == "presence.joined" and r["actor"] == "alice")
        await asyncio.sleep(1.0)  # the console is drawn and listening for keys
        deadline = time.monotonic() + 20
        while not [r for r in room.records() if r["type"] == "seat.taken"]:
            assert time.monotonic() < deadline, "alice's d never took the seat"
            console.stdin.write(b"d")
            console.stdin.flush()
            await asyncio.sleep(0.5)
        watcher = await RemoteSession.connect(room.socket, user="alice")  # `warroom watch` on the second screen
        try:
            assert watcher.actor.role == "observer" and watcher.state.driver == "alice"
            os.killpg(console.pid, signal.SIGKILL)  # the driver's laptop dies
            console.wait(5)
            console.stdin.close()
            left = time.monotonic()
            released = await asyncio.to_thread(room.wait_record, lambda r: r["type"] == "seat.released", GRACE + 10)
            waited = time.monotonic() - left
            print(f"seat released {waited:.2f} s after the driver's console died (grace {GRACE:.0f} s)")
            assert "alice disconnected" in released["data"]["reason"]
            await until(lambda: watcher.state.driver is None)
        finally:
            await watcher.aclose()
    finally:
        if console.poll() is None:
            os.killpg(console.pid, signal.SIGKILL)
            console.wait(5)
        console.stdin.close()
