"""Concurrent seat claims and hand-overs from SSH sessions of a real ``warroom serve``: at most one
driver at every instant the journal records, and at every sampled instant of the engine's state.

Each round: every session presses ``d`` at once while the seat is free; the winner then hands the
seat over (``H``, Enter, Enter) while every other session presses ``d`` again; the new driver's
connection drops, and the seat comes free after the server's grace. Sessions x rounds x 2 claims:
WARROOM_RELY_SEAT_SESSIONS (default 6; 50 for fifty claims at once, measured by hand) and
WARROOM_RELY_SEAT_ROUNDS (default 5) give 55.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time

import pytest
from conftest import ssh_step, write_config, write_runbook
from seat_support import Console, seat_violations
from serve_support import ServedWarRoom, keygen, server_users

from console.model import events
from console.model.state import fold

pytestmark = [
    pytest.mark.sshd,
    pytest.mark.skipif(not shutil.which("ssh-keygen"), reason="ssh-keygen is needed"),
]
SESSIONS = int(os.environ.get("WARROOM_RELY_SEAT_SESSIONS", "6"))
ROUNDS = int(os.environ.get("WARROOM_RELY_SEAT_ROUNDS", "5"))
GRACE = 0.5


async def wait_journal(room: ServedWarRoom, predicate, timeout: float = 20) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        records = room.records()
        if predicate(records):
            return records
        assert time.monotonic() < deadline, f"journal never got there; seat: {fold(records).driver}"
        await asyncio.sleep(0.05)


def count(records: list[dict], kind: str) -> int:
    return sum(r["type"] == kind for r in records)


async def sample(room: ServedWarRoom, seen: list[tuple[int, str | None]], stop: asyncio.Event) -> None:
    """The engine's state as any client folds it, every 20 ms: who drives at that instant."""
    while not stop.is_set():
        records = room.records()
        state = fold(records)
        problems, replayed = seat_violations(records)
        assert not problems, problems
        assert state.driver == replayed
        seen.append((len(records), state.driver))
        await asyncio.sleep(0.02)


async def test_concurrent_claims_and_hand_overs_leave_at_most_one_driver(tmp_path, lab):
    users = {f"u{i}": "driver" for i in range(SESSIONS)}
    keys = tmp_path / "keys"
    keys.mkdir()
    for name in users:
        keygen(keys / name, name)
    limits = f"max_unauthenticated = {SESSIONS + 8}\nmax_sessions = {SESSIONS + 16}\n"  # all log in at once
    extra = f"\n[server]\nseat_grace = {GRACE}\nkeepalive = 1\n{limits}{server_users(keys, users)}"
    config = write_config(tmp_path / "config.toml", lab, ["app1"], extra=extra)
    runbook = write_runbook(tmp_path / "runbook.toml", ssh_step("hello", "true"))
    room = ServedWarRoom(tmp_path, keys, config, runbook, args=("--as", "ops"))
    consoles: dict[str, Console] = {}
    seen: list[tuple[int, str | None]] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample(room, seen, stop))
    claims = 0

    async def connect(name: str) -> None:
        consoles[name] = await Console(name).open(room.port, keys / name, room.known_hosts)
        await asyncio.wait_for(consoles[name].painted.wait(), 60)

    try:
        await asyncio.gather(*(connect(name) for name in users))
        if fold(room.records()).driver is not None:  # the opener's seat: free it the same way
            await wait_journal(room, lambda rs: fold(rs).driver is None)
        for _ in range(ROUNDS):
            before = count(room.records(), events.SEAT_TAKEN)
            for console in consoles.values():  # every claim written before any answer is read
                console.type("d")
            claims += len(consoles)
            records = await wait_journal(room, lambda rs, n=before: count(rs, events.SEAT_TAKEN) > n)
            await asyncio.sleep(0.5)  # the losers' requests land too
            driver = fold(room.records()).driver
            assert driver in consoles, f"the seat went to {driver}"
            handed = count(records, events.SEAT_HANDED_OVER)
            for attempt in range(4):  # under load the console may not show the new driver its seat yet
                consoles[driver].type("\x1b" if attempt else "")
                await asyncio.sleep(0.3 if attempt else 0)
                consoles[driver].type("H")
                await asyncio.sleep(0.4)
                if not attempt:
                    for name, console in consoles.items():
                        if name != driver:
                            console.type("d")
                            claims += 1
                consoles[driver].type("\r")
                await asyncio.sleep(0.3)
                consoles[driver].type("\r")
                with contextlib.suppress(AssertionError):
                    records = await wait_journal(
                        room, lambda rs, n=handed: count(rs, events.SEAT_HANDED_OVER) > n, timeout=5
                    )
                    break
            records = await wait_journal(room, lambda rs, n=handed: count(rs, events.SEAT_HANDED_OVER) > n, timeout=1)
            new_driver = fold(records).driver
            assert new_driver in consoles and new_driver != driver
            await consoles.pop(new_driver).close()  # the new driver's link drops: the seat frees after the grace
            await wait_journal(room, lambda rs: fold(rs).driver is None)
            await connect(new_driver)
        stop.set()
        await sampler
    finally:
        stop.set()
        sampler.cancel()
        for console in consoles.values():
            await console.close()
        room.stop()
    records = room.records()
    problems, _ = seat_violations(records)
    drivers_seen = {driver for _, driver in seen if driver}
    print(
        f"FIGURE seat_race: {claims} claims from {SESSIONS} SSH sessions in {ROUNDS} rounds, "
        f"{count(records, events.SEAT_TAKEN)} taken, {count(records, events.SEAT_HANDED_OVER)} handed over, "
        f"{count(records, events.SEAT_REQUESTED)} requests, {len(seen)} samples, max 1 driver per sample, "
        f"{len(problems)} violations"
    )
    assert not problems, problems
    assert len(seen) > 10 and len(drivers_seen) >= 2
    assert count(records, events.SEAT_HANDED_OVER) == ROUNDS
