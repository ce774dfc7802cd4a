"""What the console needs of an environment started for it by a layer it may not import.

The drill starts its sandbox's servers and binds the runbook (``console.drill.run.DrillEnvironment``);
the UI (``screens``) may not import the drill, so it is typed against these protocols, which the
drill's classes satisfy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol, TypeVar

from console.model.config import LoadedConfig
from console.model.plan import Plan
from console.model.runbook import LoadedRunbook


class ReadyEnvironment(Protocol):
    """Servers up, config written and plan bound: an incident can be opened under ``state_root``."""

    @property
    def plan(self) -> Plan: ...

    @property
    def config(self) -> LoadedConfig: ...

    @property
    def state_root(self) -> Path: ...

    async def close(self) -> None:
        """Stop what was started for the incident."""


class ConsoleOptions(Protocol):
    """The run's options the console reads: the incident it opens and whether trainees join over SSH."""

    @property
    def severity(self) -> str: ...

    @property
    def trigger(self) -> str: ...

    @property
    def serve_port(self) -> int | None: ...


Box = TypeVar("Box")
"""Whatever the environment is started on (the drill's sandbox): the console only hands it back."""
Options = TypeVar("Options", bound=ConsoleOptions)

StartEnvironment = Callable[[Box, LoadedRunbook, Options], Awaitable[ReadyEnvironment]]
"""Starts the environment on the running loop (the console's own)."""
