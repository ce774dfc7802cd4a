"""A user's handle on an incident: what the UI reads and the commands it sends.

Two implementations share this surface: :class:`LocalSession` (the engine lives in this process)
and :class:`console.host.remote.RemoteSession` (the engine lives in ``warroom serve``, reached over the
incident's unix socket). Commands are coroutines because a remote engine answers later; a refusal
arrives as :class:`console.model.errors.CommandRefused` either way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from console.engine import Actor, Engine
from console.model import rules
from console.model.clock import Clock
from console.model.plan import Plan
from console.model.state import IncidentState


class Session(Protocol):
    actor: Actor

    @property
    def state(self) -> IncidentState: ...

    @property
    def plan(self) -> Plan: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def is_driver(self) -> bool: ...

    @property
    def watchers(self) -> int: ...

    @property
    def records(self) -> list[dict[str, Any]]:
        """The journal so far, as folded into ``state`` (the activity pane starts from it)."""
        ...

    def subscribe(self, subscriber: Callable[[Any], None]) -> Callable[[], None]: ...

    def output_path(self, step_id: str, attempt: int, host: str) -> Path: ...

    @property
    def directory(self) -> Path: ...

    async def command(self, name: str, **args: Any) -> Any: ...

    async def aclose(self) -> None: ...


def watchers(state: IncidentState) -> int:
    """How many clients watch: every attached one but the driver's (:func:`rules.watching`)."""
    return len(rules.watching(state))


class LocalSession:
    """The engine in this process; commands go straight to it."""

    def __init__(self, engine: Engine, actor: Actor) -> None:
        self.engine = engine
        self.actor = actor

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
        return rules.is_driver(self.actor, self.state)

    @property
    def watchers(self) -> int:
        return watchers(self.state)

    @property
    def records(self) -> list[dict[str, Any]]:
        return self.engine.records

    def subscribe(self, subscriber: Callable[[Any], None]) -> Callable[[], None]:
        return self.engine.subscribe(subscriber)

    def output_path(self, step_id: str, attempt: int, host: str) -> Path:
        return self.engine.output_path(step_id, attempt, host)

    @property
    def directory(self) -> Path:
        return self.engine.directory

    async def command(self, name: str, **args: Any) -> Any:
        return await self.engine.execute(self.actor, name, args)

    async def aclose(self) -> None:
        await self.engine.aclose()
