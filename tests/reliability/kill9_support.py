"""The kill -9 test's fork server: run as a script, it forks one engine process after another and
kills each with SIGKILL at a random moment, checking the journal after every kill.

Forking from one process that has already imported the engine and built the plan makes a cycle
cost milliseconds instead of an interpreter start, so hundreds of kills fit in a minute. Each
child resumes the incident the last one left (or opens a new one once it was closed), tells the
parent every record the engine gave back (seq and hash, down a pipe: what a caller was told is
journaled), adds a note and runs the next step that never ran (never retrying one: an interrupted
step stays interrupted), closes the incident when no step is left and stops cleanly.

The parent prints one JSON line per cycle; the test asserts on them and on the hosts' files.

    python kill9_support.py CONFIG RUNBOOK STATE_DIR KILLS SEED
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import select
import signal
import sys
import time
from pathlib import Path
from typing import Any

from actions.registry import KINDS
from console.engine import Actor, Engine
from console.model import events, rules
from console.model.config import LoadedConfig, load_config
from console.model.incident_dir import incidents_dir
from console.model.journal import check
from console.model.plan import Plan, build_plan
from console.model.runbook import load_runbook
from console.model.state import fold

ACTOR = Actor("alice", "driver")
CYCLE_LIMIT = 30.0
"""Seconds a child may run before the parent calls the run stuck."""


async def _work(plan: Plan, config: LoadedConfig, root: Path, incident: Path | None, acks: int) -> None:
    def ack(event: Any) -> None:
        if isinstance(event, dict) and "seq" in event:
            os.write(acks, f"ack {event['seq']} {event['hash']}\n".encode())

    if incident is None:
        engine = Engine.open(root, plan, ACTOR, severity="P0", trigger="kill -9", config=config)
    else:
        engine = Engine.resume(incident, ACTOR, config=config)
    os.write(acks, f"incident {engine.directory}\n".encode())
    for record in engine.records:  # open and resume returned: every record so far was given back
        ack(record)
    engine.subscribe(ack)
    try:
        if engine.state.status != "open":
            return
        if engine.state.driver != ACTOR.name:
            engine.take_seat(ACTOR)
        while True:
            for _ in range(2):  # a run journals more than its steps: kills land between appends too
                engine.add_note(ACTOR, f"pid {os.getpid()} at seq {engine.state.seq}")
            step = rules.next_runnable(engine.plan, engine.state)
            if step is None:
                break
            await engine.run_step(ACTOR, step)
        unsettled = [s.id for s in engine.state.steps.values() if not rules.settled(s.status)]
        engine.close(ACTOR, "aborted" if unsettled else "resolved", f"kill -9 test; unsettled: {unsettled}")
    finally:
        await engine.aclose()


def _child(plan: Plan, config: LoadedConfig, root: Path, incident: Path | None, acks: int) -> None:
    code = 0
    try:
        asyncio.run(_work(plan, config, root, incident, acks))
    except BaseException as exc:  # noqa: BLE001 - whatever it is, the parent reports it for this cycle
        os.write(acks, f"error {type(exc).__name__}: {exc}\n".replace("\n", " ").encode() + b"\n")
        code = 3
    os._exit(code)


def _read_until(fd: int, deadline: float, pid: int) -> tuple[bytes, bool]:
    """What the child wrote until ``deadline``; True when it ended by itself before that."""
    data = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return data, False
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                return data, True
            data += chunk


def _check(directory: Path, acked: list[tuple[int, str]]) -> dict[str, Any]:
    """The journal after a kill: it replays to its last complete record, nothing acknowledged is
    missing, and it is never short of its seal (at most one record past it)."""
    journal = directory / "journal.jsonl"
    found: dict[str, Any] = {"problem": ""}
    try:
        checked = check(journal, tolerate_torn_tail=True)
    except Exception as exc:  # noqa: BLE001 - any failure to replay is the finding
        found["problem"] = f"journal does not replay: {exc}"
        return found
    records = checked.records
    lost = [seq for seq, digest in acked if seq > len(records) or records[seq - 1]["hash"] != digest]
    state = fold(records)
    found.update(
        records=len(records),
        lost=len(lost),
        torn_bytes=len(checked.tail),
        seal_behind=checked.seal.behind,
        sealed=checked.seal.seal is not None,
        status=state.status,
        running=state.running or "",
    )
    if lost:
        found["problem"] = f"acknowledged records missing: seq {lost[:5]}"
    elif checked.seal.behind > 1:
        found["problem"] = f"the seal is {checked.seal.behind} records behind"
    return found


def main(argv: list[str]) -> None:
    cfg, rb, state, kills, seed = argv
    config = load_config(Path(cfg))
    plan = build_plan(load_runbook(Path(rb), KINDS), config)
    root = Path(state)
    rng = random.Random(int(seed))
    incident: Path | None = None
    killed = cycles = 0
    max_delay = 0.0  # the first cycle runs unkilled: its length sets the range of the kill moments
    while killed < int(kills) or incident is not None:  # after the last kill, one resume settles it
        cycles += 1
        existing = _directories(root)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            _child(plan, config, root, incident, write)
        os.close(write)
        delay = rng.uniform(0, max_delay) if max_delay and killed < int(kills) else CYCLE_LIMIT
        started = time.monotonic()
        data, ended = _read_until(read, started + delay, pid)
        if not ended:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        elapsed = time.monotonic() - started
        while chunk := os.read(read, 65536):
            data += chunk
        os.close(read)
        if not max_delay:  # kills in the first half of a whole run: a resumed child has less to do
            max_delay = elapsed / 2
        lines = data.decode(errors="replace").splitlines()
        named = [line.split(" ", 1)[1] for line in lines if line.startswith("incident ")]
        opened = sorted(_directories(root) - existing)
        directory = Path(named[0]) if named else incident or (opened[-1] if opened else None)
        acked = [(int(p[1]), p[2]) for p in (line.split() for line in lines if line.startswith("ack "))]
        errors = [line for line in lines if line.startswith("error ")]
        if directory is None or (incident is None and not acked and _unopened(directory)):
            # killed while opening, before incident.opened was written: nothing was given back
            found: dict[str, Any] = {"problem": "", "status": "never opened"}
            directory = None
        else:
            found = _check(directory, acked)
        if errors and not found["problem"]:
            found["problem"] = errors[0]
        was_killed = not ended and os.WIFSIGNALED(status)
        killed += was_killed
        print(
            json.dumps(
                {"cycle": cycles, "killed": was_killed, "at": round(elapsed, 3), "acked": len(acked)}
                | {"incident": directory.name if directory else ""}
                | found
            ),
            flush=True,
        )
        if found["problem"]:
            return
        incident = directory if found.get("status") == "open" else None
        if elapsed > CYCLE_LIMIT:
            print(json.dumps({"cycle": cycles, "problem": f"a cycle took {elapsed:.0f} s"}), flush=True)
            return


def _directories(root: Path) -> set[Path]:
    base = incidents_dir(root)
    return set(base.iterdir()) if base.is_dir() else set()


def _unopened(directory: Path) -> bool:
    """No journal yet, or one without its first record (a kill inside ``Engine.open``)."""
    journal = directory / "journal.jsonl"
    return not journal.exists() or not check(journal, tolerate_torn_tail=True).records


def started_steps(journal: Path) -> list[tuple[str, int]]:
    """(step, attempt) of every step.started record of a journal (torn tail ignored)."""
    records = check(journal, tolerate_torn_tail=True).records
    return [(r["data"]["step"], r["data"]["attempt"]) for r in records if r["type"] == events.STEP_STARTED]


if __name__ == "__main__":
    main(sys.argv[1:])
