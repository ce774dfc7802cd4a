"""The incident as people lived it: one line per journal record that someone would want to see.

One formatting of an event, used by the war room's activity pane (on the driver's screen and every
watcher's) and by the report's Activity section, so what was shown live is what the report says.
:class:`ActivityFeed` folds records one at a time (the pane feeds it each record as it arrives;
the report feeds it the whole journal): a step's finish names how long it ran, so the feed keeps
the little it needs of the records before (when each attempt started, on which hosts).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from console.model import events
from console.model.clock import parse_iso
from console.model.score import clock

KINDS = (
    "incident",
    "step",
    "step-failed",
    "check",
    "note",
    "comms",
    "comms-failed",
    "seat",
    "presence",
    "warning",
    "breach",
    "refusal",
    "decision",
)
"""What an entry is about: the pane colours by it, the filter picks by it."""

FILTERS = ("all", "notes", "step")
"""The pane's filters: everything, notes only (with the notes written on ticks), the selected step."""

NOTE_KINDS = frozenset({"note"})


@dataclass(frozen=True)
class ActivityEntry:
    at: str
    """The record's time (ISO)."""
    seconds: float
    """Seconds since the incident was opened (T+0, as the report counts)."""
    actor: str
    role: str
    kind: str
    text: str
    step: str = ""
    noted: bool = False
    """A person wrote a note here (a note, or a tick or comms with one): the notes filter keeps it."""

    @property
    def t(self) -> str:
        return tplus(self.seconds)

    @property
    def who(self) -> str:
        """The actor, and whether they watched only: an observer's note must not read as the driver's."""
        return f"{self.actor} (observer)" if self.role == "observer" else self.actor

    def line(self) -> str:
        """``T+4:05  alice  text``: the plain line the pane shows (colour aside) and a test reads."""
        return f"{self.t}  {self.who}  {self.text}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "by": self.actor,
            "who": self.who,
            "role": self.role,
            "kind": self.kind,
            "step": self.step,
            "text": self.text,
        }


def tplus(seconds: float) -> str:
    """``T+M:SS`` (``T+H:MM:SS`` past an hour)."""
    return f"T{'-' if seconds < 0 else '+'}{clock(abs(seconds))}"


def one_line(text: str) -> str:
    """A multi-line note on one line of the feed: its line breaks shown as ``↵``, tabs as spaces
    (the journal keeps both; every other control character it holds neutralised already)."""
    return " ↵ ".join(part.strip() for part in str(text).replace("\t", " ").splitlines() if part.strip())


def duration_text(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    return clock(seconds)


def _hosts(hosts: Iterable[str]) -> str:
    hosts = list(hosts)
    if len(hosts) <= 3:
        return ", ".join(hosts)
    return f"{', '.join(hosts[:2])} and {len(hosts) - 2} more"


def matches(entry: ActivityEntry, shown: str, step: str | None = None) -> bool:
    """Whether the filter ``shown`` (one of :data:`FILTERS`) keeps ``entry``."""
    if shown == "notes":
        return entry.noted
    if shown == "step":
        return bool(step) and entry.step == step
    return True


class ActivityFeed:
    """Journal records in, activity entries out (None for the records nobody reads as activity)."""

    def __init__(self) -> None:
        self._t0: datetime | None = None
        self._starts: dict[tuple[str, int], tuple[str, tuple[str, ...]]] = {}
        self._ts = self._actor = ""
        self._joined: dict[str, str] = {}
        """connection -> how it joined (``ssh``, ``watch``): said again when it leaves."""

    def add(self, record: dict[str, Any]) -> ActivityEntry | None:
        kind_text = self._describe(record)
        if kind_text is None:
            return None
        kind, text, step, noted = kind_text
        at = record["ts"]
        if self._t0 is None:
            self._t0 = parse_iso(at)
        seconds = round((parse_iso(at) - self._t0).total_seconds(), 3)
        return ActivityEntry(at, seconds, record["actor"], record["role"], kind, text, step, noted)

    def _describe(self, record: dict[str, Any]) -> tuple[str, str, str, bool] | None:
        handler = _DESCRIBE.get(record["type"])
        if handler is None:
            return None
        self._ts, self._actor = record["ts"], record["actor"]
        found = handler(self, record["data"])
        if found is None:
            return None
        kind, text, *rest = found
        step = rest[0] if rest else ""
        noted = rest[1] if len(rest) > 1 else kind == "note"
        return kind, text, step, noted

    # ----- one describer per record type --------------------------------------------------------

    def _opened(self, d: dict[str, Any]) -> tuple:
        return "incident", f"opened the incident at {d['severity']}: {one_line(d.get('trigger', ''))}"

    def _resumed(self, d: dict[str, Any]) -> tuple:
        previous = d.get("previous_driver")
        torn = " (a torn record was set aside)" if d.get("torn_record") else ""
        return "incident", f"resumed the incident{f'; {previous} drove before' if previous else ''}{torn}"

    def _closed(self, d: dict[str, Any]) -> tuple:
        return "incident", f"closed the incident, {d['outcome']}: {one_line(d.get('summary', ''))}"

    def _preflight(self, d: dict[str, Any]) -> tuple:
        failed, checks = d.get("failed") or [], d.get("checks", 0)
        if failed:
            return "warning", f"started despite the preflight gate: {len(failed)} of {checks} checks failed"
        warned = f" ({len(d['warnings'])} warnings)" if d.get("warnings") else ""
        return "incident", f"preflight gate passed: {checks} checks{warned}"

    def _seat(self, d: dict[str, Any]) -> tuple:
        to, was = d.get("to"), d.get("from")
        if to and was:
            return "seat", f"handed the driver seat to {to}"
        if to:
            return "seat", "took the driver seat" if to == self._actor else f"gave the driver seat to {to}"
        reason = f": {one_line(d['reason'])}" if d.get("reason") else ""
        if was == self._actor:
            return "seat", f"released the driver seat{reason}"
        return "seat", f"took the driver seat back from {was or 'nobody'}{reason}"

    def _requested(self, d: dict[str, Any]) -> tuple:
        return "seat", f"asked {d.get('driver') or 'the driver'} for the driver seat"

    def _joined_(self, d: dict[str, Any]) -> tuple:
        via = d.get("via", "")
        self._joined[d["connection"]] = via
        return "presence", f"joined{f' ({via})' if via else ''}"

    def _left(self, d: dict[str, Any]) -> tuple:
        via = self._joined.pop(d["connection"], "")
        return "presence", f"left{f' ({via})' if via else ''}"

    def _started(self, d: dict[str, Any]) -> tuple:
        hosts = tuple(d.get("hosts", ()))
        self._starts[(d["step"], d["attempt"])] = (self._ts, hosts)
        again = f" (attempt {d['attempt']})" if d["attempt"] > 1 else ""
        where = f" on {_hosts(hosts)}" if hosts else ""
        return "step", f"started {d['step']}{where}{again}", d["step"], False

    def _host_finished(self, d: dict[str, Any]) -> tuple | None:
        result = d.get("result") or {}
        if result.get("status") == "ok":
            return None  # the step's own line says it; a failing host is worth its own line
        error = one_line(result.get("error", "")) or f"exit {result.get('exit_code')}"
        return "step-failed", f"{d['step']} on {d['host']}: {result.get('status', 'error')}: {error}", d["step"], False

    def _finished(self, d: dict[str, Any]) -> tuple:
        started, hosts = self._starts.pop((d["step"], d["attempt"]), ("", ()))
        outcome = d["outcome"]
        where = f" on {_hosts(hosts)}" if hosts else ""
        if started:
            where += f" in {duration_text((parse_iso(self._ts) - parse_iso(started)).total_seconds())}"
        error = f": {one_line(d['error'])}" if d.get("error") and outcome != "succeeded" else ""
        kind = "step" if outcome == "succeeded" else "step-failed"
        return kind, f"{d['step']} {outcome.replace('_', ' ')}{where}{error}", d["step"], False

    def _warning(self, d: dict[str, Any]) -> tuple:
        return "warning", f"{d['step']} on {d['host']}: {one_line(d['message'])}", d["step"], False

    def _cancel(self, d: dict[str, Any]) -> tuple:
        return "step", f"asked to cancel {d['step']}", d["step"], False

    def _interrupted(self, d: dict[str, Any]) -> tuple:
        return "step-failed", f"{d['step']} interrupted - outcome unknown", d["step"], False

    def _skipped(self, d: dict[str, Any]) -> tuple:
        return "step", f"skipped {d['step']}: {one_line(d.get('reason', ''))}", d["step"], False

    def _ticked(self, d: dict[str, Any]) -> tuple:
        note = one_line(d.get("note", ""))
        mark = {"pass": "✓ pass", "fail": "✗ fail", "na": "– n/a"}.get(d["result"], d["result"])
        text = f"{mark} {d['step']}/{d['check']}{f': {note}' if note else ''}"
        return "check", text, d["step"], bool(note)

    def _note(self, d: dict[str, Any]) -> tuple:
        return "note", f"note: {one_line(d['text'])}"

    def _comms(self, d: dict[str, Any]) -> tuple:
        note = one_line(d.get("note", ""))
        sent = f"sent {d['comm']} via {d.get('channel', '?')} to {d.get('to', '?')}"
        return "comms", f"{sent}{f': {note}' if note else ''}", "", bool(note)

    def _comms_failed(self, d: dict[str, Any]) -> tuple:
        return "comms-failed", f"{d['comm']} not delivered via {d.get('channel', '?')}: {one_line(d.get('error', ''))}"

    def _comms_warning(self, d: dict[str, Any]) -> tuple:
        return "warning", f"{d['comm']} via {d.get('channel', '?')}: {one_line(d.get('message', ''))}"

    def _refused(self, d: dict[str, Any]) -> tuple:
        args = d.get("args") or {}
        step = args.get("step", "") if isinstance(args, dict) else ""
        return (
            "refusal",
            f"refused {d['command']}: {one_line(d['reason'])}",
            step if isinstance(step, str) else "",
            False,
        )

    def _decision(self, d: dict[str, Any]) -> tuple:
        return "decision", f"decided {d['decision']}: {one_line(d.get('reason', ''))}"

    def _severity(self, d: dict[str, Any]) -> tuple:
        reason = one_line(d.get("reason", ""))
        return "decision", f"severity {d.get('was') or '?'} → {d['severity']}{f': {reason}' if reason else ''}"

    def _breached(self, d: dict[str, Any]) -> tuple:
        return "breach", f"RTO breached: the {d.get('rto_minutes', '?')}-minute deadline passed"


_DESCRIBE = {
    events.INCIDENT_OPENED: ActivityFeed._opened,
    events.INCIDENT_RESUMED: ActivityFeed._resumed,
    events.INCIDENT_CLOSED: ActivityFeed._closed,
    events.PREFLIGHT_PASSED: ActivityFeed._preflight,
    events.PREFLIGHT_OVERRIDDEN: ActivityFeed._preflight,
    events.SEAT_TAKEN: ActivityFeed._seat,
    events.SEAT_RELEASED: ActivityFeed._seat,
    events.SEAT_HANDED_OVER: ActivityFeed._seat,
    events.SEAT_REQUESTED: ActivityFeed._requested,
    events.PRESENCE_JOINED: ActivityFeed._joined_,
    events.PRESENCE_LEFT: ActivityFeed._left,
    events.STEP_STARTED: ActivityFeed._started,
    events.STEP_HOST_FINISHED: ActivityFeed._host_finished,
    events.STEP_FINISHED: ActivityFeed._finished,
    events.STEP_WARNING: ActivityFeed._warning,
    events.STEP_CANCEL_REQUESTED: ActivityFeed._cancel,
    events.STEP_INTERRUPTED: ActivityFeed._interrupted,
    events.STEP_SKIPPED: ActivityFeed._skipped,
    events.CHECK_TICKED: ActivityFeed._ticked,
    events.NOTE_ADDED: ActivityFeed._note,
    events.COMMS_SENT: ActivityFeed._comms,
    events.COMMS_FAILED: ActivityFeed._comms_failed,
    events.COMMS_WARNING: ActivityFeed._comms_warning,
    events.COMMAND_REFUSED: ActivityFeed._refused,
    events.DECISION_RECORDED: ActivityFeed._decision,
    events.SEVERITY_CHANGED: ActivityFeed._severity,
    events.RTO_BREACHED: ActivityFeed._breached,
}


def activity(records: Iterable[dict[str, Any]]) -> list[ActivityEntry]:
    """Every entry of a journal, in order (the report's Activity section)."""
    feed = ActivityFeed()
    return [entry for record in records if (entry := feed.add(record)) is not None]
