"""A user's handle on an incident: the engine plus who is acting.

The UI talks to a session, never to the engine's internals, so the same screens work for the
local driver and (later) for clients attached over a socket or SSH: they implement this surface.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .clock import Clock
from .engine import Actor, Engine
from .plan import Plan
from .state import IncidentState


class Session:
    def __init__(self, engine: Engine, actor: Actor) -> None:
        self.engine = engine
        self.actor = actor

    # ----- what a client reads --------------------------------------------------------------
    @property
    def state(self) -> IncidentState:
        return self.engine.state

    @property
    def plan(self) -> Plan:
        return self.engine.plan

    @property
    def clock(self) -> Clock:
        return self.engine.clock

    @property
    def is_driver(self) -> bool:
        return self.actor.role == "driver" and self.state.driver == self.actor.name and self.state.status == "open"

    @property
    def watchers(self) -> int:
        return 0

    def subscribe(self, subscriber: Callable[[Any], None]) -> Callable[[], None]:
        return self.engine.subscribe(subscriber)

    def output_path(self, step_id: str, attempt: int, host: str) -> Path:
        return self.engine.output_path(step_id, attempt, host)

    # ----- what a client asks -------------------------------------------------------------------
    def take_seat(self) -> None:
        self.engine.take_seat(self.actor)

    def start(self, step_id: str, confirm: str = "") -> asyncio.Task[None]:
        return self.engine.start_step(self.actor, step_id, confirm=confirm)

    def retry(self, step_id: str, confirm: str = "") -> asyncio.Task[None]:
        return self.engine.retry_step(self.actor, step_id, confirm=confirm)

    async def preview(self, step_id: str) -> dict[str, str]:
        return await self.engine.preview_step(self.actor, step_id)

    def cancel(self, step_id: str) -> None:
        self.engine.cancel_step(self.actor, step_id)

    def skip(self, step_id: str, reason: str) -> None:
        self.engine.skip_step(self.actor, step_id, reason)

    def tick(self, step_id: str, check_id: str, result: str, note: str = "") -> None:
        self.engine.tick(self.actor, step_id, check_id, result, note)

    def note(self, text: str) -> None:
        self.engine.add_note(self.actor, text)

    def comms_sent(self, comm_id: str, note: str = "") -> None:
        self.engine.record_comms(self.actor, comm_id, note)

    def decide(self, decision: str, reason: str) -> None:
        self.engine.record_decision(self.actor, decision, reason)

    def close(self, outcome: str, summary: str = "") -> None:
        self.engine.close(self.actor, outcome, summary)

    async def aclose(self) -> None:
        await self.engine.aclose()
