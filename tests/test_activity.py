"""The one formatting of an event (console.model.activity) and the history's estimates, as properties.

Whatever people type (a note, a tick's note, a skip reason) reaches every screen as one line
without a control character once the engine has journaled it; an estimate lies within what was
seen and grows with the hosts a step fans out to.
"""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from console.model import events
from console.model.activity import ActivityFeed, activity, matches, one_line
from console.model.history import History, StepRuns
from console.model.sanitize import neutralise_tree

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
TS = "2026-11-29T03:00:00.000Z"


def record(type_: str, data: dict, actor: str = "olive", role: str = "observer", seq: int = 2) -> dict:
    """A record as the engine journals it: its data neutralised (console.engine.core._commit)."""
    return {"seq": seq, "ts": TS, "type": type_, "actor": actor, "role": role, "data": neutralise_tree(data)}


OPENED = record(events.INCIDENT_OPENED, {"severity": "P0", "trigger": "x"}, "alice", "driver", 1)


@given(st.text())
def test_a_typed_text_is_one_line_without_control_characters(text):
    feed = ActivityFeed()
    feed.add(OPENED)
    for type_, data in (
        (events.NOTE_ADDED, {"text": text}),
        (events.CHECK_TICKED, {"step": "s", "check": "c", "result": "pass", "note": text}),
        (events.STEP_SKIPPED, {"step": "s", "reason": text}),
        (events.COMMS_SENT, {"comm": "m", "channel": "slack", "to": "#ops", "note": text}),
        (events.COMMAND_REFUSED, {"command": "note", "reason": text, "args": {}}),
    ):
        entry = feed.add(record(type_, data))
        assert entry is not None
        assert "\n" not in entry.line() and not CONTROL.search(entry.line()), entry.line()


@given(st.lists(st.text(min_size=1), max_size=5))
def test_the_notes_filter_keeps_notes_and_noted_ticks_only(notes):
    records = [OPENED] + [record(events.NOTE_ADDED, {"text": n}, seq=i + 2) for i, n in enumerate(notes)]
    ticked = {"step": "verify", "check": "c", "result": "fail", "note": "500 on /book"}
    records.append(record(events.CHECK_TICKED, ticked, "bob", "driver", len(records) + 1))
    records.append(record(events.CHECK_TICKED, {**ticked, "note": ""}, "bob", "driver", len(records) + 1))
    entries = activity(records)
    kept = [e for e in entries if matches(e, "notes")]
    assert len(kept) == len(notes) + 1 and kept[-1].text == "✗ fail verify/c: 500 on /book"
    assert [e.step for e in entries if matches(e, "step", "verify")] == ["verify", "verify"]


def test_one_line_joins_a_notes_lines():
    assert one_line("restore failed.\n  Re-granted on h1.\n") == "restore failed. ↵ Re-granted on h1."


durations = st.lists(st.floats(min_value=0.1, max_value=3600, allow_nan=False), min_size=3, max_size=20)


@given(durations, st.integers(min_value=1, max_value=50))
def test_an_estimate_lies_within_what_was_seen_and_grows_with_the_hosts(seen, hosts):
    history = History()
    history.runs["drills"]["step"] = StepRuns(list(seen), list(seen), [1] * len(seen))
    estimate = history.estimate("step", hosts)
    assert estimate is not None and estimate["source"] == "drills" and estimate["runs"] == len(seen)
    assert estimate["fastest"] <= estimate["seconds"] <= estimate["slowest"]
    assert (estimate["fastest"], estimate["slowest"]) == (round(min(seen), 3), round(max(seen), 3))
    more = history.estimate("step", hosts + 1)
    assert more is not None and more["seconds"] >= estimate["seconds"] - 1e-6
