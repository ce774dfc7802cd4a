"""Issue 15 over real SSH: an observer's note, typed in their console, reaches the journal with the
observer as its author and the driver's activity pane (``warroom serve``, OpenSSH clients in tmux)."""

from __future__ import annotations

import pytest
from test_ssh_server import keys, serve_war_room, war_room  # noqa: F401  (the fixtures)

pytestmark = pytest.mark.sshd


def test_an_observers_note_over_ssh_reaches_the_drivers_activity_pane(war_room):  # noqa: F811
    war_room.open("alice", "alice")
    war_room.open("olive", "olive")
    war_room.wait_screen("olive", "you: olive (observer)")
    war_room.keys("olive", "m")  # the one thing an observer may do (server.observers_may_note, default true)
    war_room.wait_screen("olive", "Add a note to the shared timeline")
    war_room.keys("olive", "-l", "502s on checkout here too")
    war_room.keys("olive", "Enter")
    noted = war_room.wait_record(lambda r: r["type"] == "note.added")
    assert (noted["actor"], noted["role"], noted["data"]["text"]) == ("olive", "observer", "502s on checkout here too")
    war_room.keys("alice", "v")  # the right-hand area: output -> activity
    war_room.wait_screen("alice", "olive (observer) note: 502s on checkout here too")
    war_room.wait_screen("alice", "olive (observer) joined (ssh)")
