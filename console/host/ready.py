"""What the console needs of an environment started for it by a layer it may not import.

The drill starts its sandbox's servers and binds the runbook (``console.drill.run.DrillEnvironment``);
the UI (``screens``) may not import the drill, so it is typed against this protocol, which the
drill's environment satisfies, and is handed a ready-made starter by the entry module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from console.model.config import LoadedConfig
from console.model.plan import Plan


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


StartEnvironment = Callable[[], Awaitable[ReadyEnvironment]]
"""Starts the environment on the running loop (the console's own, so its servers live there)."""
