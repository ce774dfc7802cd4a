"""How long each step really took, in earlier incidents and drills of the same runbook.

The state dir holds every incident's journal. Those opened on the same runbook (its id and the
SHA-256 of its text: an edited runbook starts a new history) are folded, and each step's actual
durations collected: an automated step from its succeeded attempt (the step, and each host's own
run), a manual step from the end of the step before it in the plan to its last tick. Drills (the
environment ``warroom drill`` names ``drill``) are kept apart from real incidents: a step's
estimate comes from real incidents when they hold at least :data:`MIN_RUNS` runs of it, else from
drills, else from its phase window (:mod:`console.model.projection`).

Summed up once, when an incident opens (journaled in its opening record, so every watcher and the
report see the same basis without reading the state dir), and by ``warroom plan``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.model.clock import parse_iso
from console.model.errors import JournalError
from console.model.journal import read_records
from console.model.plan import Plan
from console.model.state import IncidentState, fold

MIN_RUNS = 3
"""Runs of a step before its median is trusted over its phase window."""
MAX_JOURNALS = 200
"""Matching journals read, newest first: an old state dir costs the opening a bounded time."""
DRILL_ENVIRONMENT = "drill"
SOURCES = ("incidents", "drills")


@dataclass
class StepRuns:
    """One step's actual durations in seconds: the whole step per run, each host's own run, and
    how many hosts each run had."""

    durations: list[float] = field(default_factory=list)
    per_host: list[float] = field(default_factory=list)
    hosts: list[int] = field(default_factory=list)


@dataclass
class History:
    journals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SOURCES, 0))
    """source -> journals of the runbook found (incidents, drills)."""
    runs: dict[str, dict[str, StepRuns]] = field(default_factory=lambda: {s: {} for s in SOURCES})
    """source -> step id -> its runs."""

    def to_dict(self, plan: Plan | None = None) -> dict[str, Any]:
        """The journaled summary: per step, the estimate for ``plan``'s hosts and where it came from."""
        steps: dict[str, Any] = {}
        for step_id, step in plan.steps.items() if plan else ():
            estimate = self.estimate(step_id, len(step.hosts))
            if estimate is not None:
                steps[step_id] = estimate
        return {"journals": dict(self.journals), "steps": steps}

    def estimate(self, step_id: str, hosts: int) -> dict[str, Any] | None:
        """Median, fastest and slowest seen, from real incidents first, drills next (never mixed)."""
        for source in SOURCES:
            runs = self.runs[source].get(step_id)
            if runs is None or len(runs.durations) < MIN_RUNS:
                continue
            samples = sorted(runs.durations)
            expected = _quantile(samples, 0.5)
            fan_out = hosts > 1 and runs.per_host and _quantile(sorted(runs.hosts), 0.5) != hosts
            if fan_out:  # other host counts ran it: each host's own time, the slowest of `hosts` runs at once
                samples = sorted(runs.per_host)
                expected = _quantile(samples, hosts / (hosts + 1))
            return {
                "source": source,
                "runs": len(runs.durations),
                "seconds": round(expected, 3),
                "fastest": round(min(samples), 3),
                "slowest": round(max(samples), 3),
                "scaled_to_hosts": hosts if fan_out else 0,
            }
        return None


def _quantile(ordered: list[float] | list[int], share: float) -> float:
    """The ``share`` quantile of sorted samples, linearly interpolated (0.5: the median). Not
    :mod:`statistics`: every watcher's console imports this, and that module brings decimal."""
    if len(ordered) == 1:
        return ordered[0]
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def runbook_key(plan: Plan) -> tuple[str, str]:
    return str(plan.runbook.get("id", "")), str(plan.runbook.get("sha256", ""))


def run_history(incidents_root: Path, plan: Plan) -> History:
    """Every earlier incident and drill of ``plan``'s runbook under ``incidents_root``. A journal
    that cannot be read or verified is passed over: an estimate never stops an incident opening."""
    history = History()
    key = runbook_key(plan)
    if not key[1] or not incidents_root.is_dir():
        return history
    try:
        candidates = sorted(incidents_root.iterdir(), reverse=True)  # ids start with the opening time
    except OSError:
        return history
    read = 0
    for directory in candidates:
        if read >= MAX_JOURNALS:
            break
        journal = directory / "journal.jsonl"
        if not _same_runbook(journal, key):
            continue
        try:
            records, _ = read_records(journal, tolerate_torn_tail=True)
        except JournalError:
            continue
        read += 1
        try:
            state = fold(records)
            durations = step_durations(state) if state.plan is not None else None
        except (KeyError, TypeError, ValueError):  # a journal of another version: not history
            continue
        if state.plan is None or durations is None:
            continue
        source = "drills" if state.plan.environment == DRILL_ENVIRONMENT else "incidents"
        history.journals[source] += 1
        for step_id, runs in durations.items():
            found = history.runs[source].setdefault(step_id, StepRuns())
            found.durations.append(runs[0])
            found.per_host.extend(runs[1])
            found.hosts.append(runs[2])
    return history


def _same_runbook(journal: Path, key: tuple[str, str]) -> bool:
    """The opening record names the runbook (read alone: other runbooks' journals are not parsed)."""
    try:
        with journal.open("rb") as handle:
            first = json.loads(handle.readline())
        runbook = first["data"]["plan"]["runbook"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return (str(runbook.get("id", "")), str(runbook.get("sha256", ""))) == key


def step_durations(state: IncidentState) -> dict[str, tuple[float, list[float], int]]:
    """step id -> (seconds it took, each host's seconds, hosts) for each step that was done."""
    assert state.plan is not None
    found: dict[str, tuple[float, list[float], int]] = {}
    previous_end = parse_iso(state.opened_at)
    for step in state.plan.ordered_steps():
        ran = state.steps[step.id]
        if step.automated:
            attempt = ran.attempt
            if attempt is None or attempt.outcome != "succeeded" or not attempt.finished_at:
                continue
            end = parse_iso(attempt.finished_at)
            seconds = (end - parse_iso(attempt.started_at)).total_seconds()
            hosts = [
                float(r["duration"]) for r in attempt.results.values() if isinstance(r.get("duration"), int | float)
            ]
            found[step.id] = (max(seconds, 0.0), hosts, len(attempt.hosts))
        else:
            ticks = [t for t in state.ticks.values() if t.step == step.id]
            if ran.status == "skipped" or len(ticks) < len(step.checks) or not ticks:
                continue
            end = max(parse_iso(t.at) for t in ticks)
            found[step.id] = (max((end - previous_end).total_seconds(), 0.0), [], 0)
        previous_end = max(previous_end, end)
    return found
