"""Shared views: observers on the same kind and size of terminal watch one console, rendered once.

The real ``warroom serve`` with ``server.shared_views = true`` (the default) and the real OpenSSH
client in tmux, as tests/test_ssh_server.py uses them; the console processes are counted from the
process table and the presence read back from the journal.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from conftest import ssh_step, write_config, write_runbook
from serve_support import environ_of, server_users
from test_ssh_server import SECRET, USERS, WarRoom, keys, serve_war_room  # noqa: F401  (fixtures)

pytestmark = pytest.mark.sshd


@pytest.fixture
def shared_room(serve_war_room) -> WarRoom:  # noqa: F811
    return serve_war_room(shared=True)


def _wait_children(room: WarRoom, count: int, timeout: float = 20) -> set[int]:
    return room.wait_children(count, timeout=timeout)


def _presence(room: WarRoom, kind: str) -> list[tuple[str, str]]:
    return [(r["actor"], r["data"].get("via", "")) for r in room.records() if r["type"] == kind]


def test_observers_of_one_size_share_one_console_and_are_each_counted(shared_room):
    room = shared_room
    room.open("alice", "alice")
    room.wait_screen("alice", "you: alice (not driving)")
    for name in ("olive1", "olive2", "olive3"):
        room.open(name, "olive")
    for name in ("olive1", "olive2", "olive3"):
        room.wait_screen(name, "shared view: press a key for your own")
    room.open("olive-small", "olive", width=100, height=30)
    room.wait_screen("olive-small", "shared view")
    consoles = _wait_children(room, 3)  # alice's own, one for the three 160x48 watchers, one for 100x30
    for screen in ("alice", "olive1", "olive3", "olive-small"):
        room.wait_screen(screen, "5 watching")  # everyone counts: sessions, not consoles
    joined = _presence(room, "presence.joined")
    assert joined.count(("olive", "ssh")) == 4 and ("(shared view)", "ssh") not in joined
    for pid in consoles:  # nothing of the server's environment (its secrets) reaches a shared console either
        assert SECRET not in "".join(environ_of(pid).values())

    room.keys("alice", "d")
    room.wait_screen("olive2", "driver: alice")
    room.keys("alice", "n")
    pressed = time.monotonic()
    for name in ("olive1", "olive2", "olive3", "olive-small"):
        room.wait_screen(name, "MARKER-42", timeout=5)
    print(f"driver's n to the last of four shared watchers showing the output: {time.monotonic() - pressed:.3f} s")

    room.tmux("kill-session", "-t", "olive-small")  # its view's last watcher: that console goes
    _wait_children(room, 2)
    room.wait_screen("alice", "3 watching")  # alice drives: the three olives of 160x48 watch


def test_a_late_joiner_gets_the_whole_screen_at_once(shared_room):
    room = shared_room
    room.open("olive1", "olive")
    room.wait_screen("olive1", "shared view")
    time.sleep(1.5)  # the shared console is idle: nothing would repaint by itself but the clock
    room.open("olive2", "olive")
    shown = room.wait_screen("olive2", "shared view", timeout=5)  # its first frame is the whole screen
    assert "INC " in shown and "hello" in shown and "two" in shown  # header and checklist, not just a change
    _wait_children(room, 1)


def test_a_key_gives_an_observer_a_console_of_their_own_and_the_key_reaches_it(shared_room):
    room = shared_room
    room.open("olive1", "olive")
    room.open("olive2", "olive")
    room.wait_screen("olive1", "shared view")
    room.wait_screen("olive2", "shared view")
    _wait_children(room, 1)
    before = len(room.records())
    room.keys("olive1", "r")  # an acting key: refused by the engine, in her own console
    room.wait_screen("olive1", "you: olive (observer)")
    refused = room.wait_record(lambda r: r["type"] == "command.refused")
    assert refused["actor"] == "olive"
    _wait_children(room, 2)
    assert "shared view" in room.screen("olive2")  # the other watcher's screen did not move
    new = [r["type"] for r in room.records()[before:]]
    assert "presence.joined" not in new and "presence.left" not in new  # one session, counted once


def test_q_leaves_a_shared_view_without_starting_a_console(shared_room):
    room = shared_room
    ssh = room.open("olive1", "olive")
    room.wait_screen("olive1", "shared view")
    _wait_children(room, 1)
    room.keys("olive1", "q")
    room.wait_record(lambda r: r["type"] == "presence.left")
    _wait_children(room, 0)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{ssh}").exists():  # the client's ssh ended: its session is over
        assert time.monotonic() < deadline, "ssh did not end after q"
        time.sleep(0.1)


def test_a_resized_watcher_moves_to_the_view_of_their_new_size(shared_room):
    room = shared_room
    room.open("olive1", "olive")
    room.open("olive2", "olive")
    room.wait_screen("olive2", "shared view")
    _wait_children(room, 1)
    room.tmux("resize-window", "-t", "olive2", "-x", "110", "-y", "35")
    _wait_children(room, 2)
    shown = room.wait_screen("olive2", "shared view")
    assert max(len(line) for line in shown.splitlines()) <= 110
    room.tmux("resize-window", "-t", "olive2", "-x", "160", "-y", "48")
    _wait_children(room, 1)  # back with olive1; the 110x35 console had nobody left
    room.wait_screen("olive2", "shared view")


def test_after_a_flood_every_shared_watcher_shows_the_last_line(tmp_path, lab, keys):  # noqa: F811
    """Three watchers of one view and one of another: the last line of 300,000 reaches each terminal
    without a resize (a watcher whose client fell behind is sent a whole frame when it catches up)."""
    lines = 300_000
    last = f"flood-{lines:06d}"
    steps = ssh_step("flood", f'seq -f "flood-%06.0f" 1 {lines}', targets="app1", timeout=120)
    server = f"\n[server]\nseat_grace = 30\nkeepalive = 1\n{server_users(keys, USERS)}"
    config = write_config(tmp_path / "config.toml", lab, ["app1"], extra=server)
    room = WarRoom(tmp_path, keys, config, write_runbook(tmp_path / "runbook.toml", steps))
    try:
        room.open("alice", "alice")
        room.wait_screen("alice", "you: alice (not driving)")
        watchers = tuple(os.environ.get("FLOOD_WATCHERS", "olive1,olive2,olive3,olive-small").split(","))
        for name in watchers:
            room.open(name, "olive", **({"width": 120, "height": 40} if name == "olive-small" else {}))
            room.wait_screen(name, "shared view")
        room.wait_children(1 + len({name == "olive-small" for name in watchers}))
        room.keys("alice", "d")
        room.wait_screen("alice", "driver: alice (you)")
        room.keys("alice", "n")
        done = room.wait_record(lambda r: r["type"] == "step.finished", timeout=120)
        assert done["data"]["outcome"] == "succeeded"
        ended, shown = time.monotonic(), set()
        while len(shown) < len(watchers):
            for name in set(watchers) - shown:
                if last in room.screen(name):
                    shown.add(name)
                    print(f"{name}: {last} shown {(time.monotonic() - ended) * 1000:.0f} ms after step.finished")
                else:
                    assert time.monotonic() - ended < 10, f"{name} never showed {last}:\n{room.screen(name)}"
            time.sleep(0.02)
    finally:
        room.stop()
