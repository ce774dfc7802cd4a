"""``warroom run`` (a new incident) and ``warroom drill`` in the console, painted first.

The entry module hands these the slow part as callables, run behind the console's first frame
(:mod:`screens.startup`): in a thread the config, the runbook and its step kinds (asyncssh,
pymysql, the Docker SDK, httpx, pydantic) load and the drill builds its sandbox; then, on the
app's loop, the drill's servers start and the preflight gate logs in to every host.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from console.drill.options import DrillOptions
    from console.drill.run import ConsoleDrill, DrillEnvironment
    from console.engine import Actor
    from console.model.config import LoadedConfig
    from console.model.plan import Plan


@dataclass
class RunEnvironment:
    """A run's config and bound plan (a :class:`console.host.ready.ReadyEnvironment`): nothing to stop."""

    plan: Plan
    config: LoadedConfig
    state_root: Path

    async def close(self) -> None:
        return None


def _driver(name: str) -> Actor:
    from console.engine import Actor

    return Actor(name, "driver")


def run_console_first(
    environment: Callable[[], RunEnvironment],
    *,
    title: str,
    actor: str | None,
    severity: str,
    trigger: str,
    detected_at: str | None,
    force: bool,
) -> int:
    """A new incident: ``environment`` (config, runbook, plan) loads in a thread behind the first
    frame; the gate's table is printed when the console ends, as it was before it began."""
    from screens.startup import Prepared, run_prepared_console  # Textual: the core never imports it

    async def start() -> RunEnvironment:
        return await asyncio.to_thread(environment)

    name = actor or getpass.getuser()
    how = Prepared(
        title=title,
        actor=lambda: _driver(name),
        severity=severity,
        trigger=trigger,
        detected_at=detected_at,
        force=force,
        gate_table=True,
    )
    return run_prepared_console(start, how)


def drill_console_first(options: DrillOptions, *, session_entry: str, session_preload: tuple[str, ...]) -> int:
    """The drill: the runbook, its step kinds and the sandbox load in a thread behind the first
    frame; its servers then start on the app's loop. The sandbox is kept or removed at the end."""
    from screens.startup import Prepared, run_prepared_console

    drills: list[ConsoleDrill] = []

    def prepare() -> ConsoleDrill:
        from console.drill.run import ConsoleDrill

        drills.append(ConsoleDrill(options))
        drills[0].prepare()
        return drills[0]

    async def start() -> DrillEnvironment:
        drill = await asyncio.to_thread(prepare)
        return await drill.start()

    how = Prepared(
        title="warroom drill: preparing the sandbox",
        actor=lambda: drills[0].actor,
        severity=options.severity,
        trigger=options.trigger,
        serve=bool(options.serve_port),
        session_entry=session_entry,
        session_preload=session_preload,
        show_score=True,
        served="Drill served",
        loading="loading the runbook and its step kinds; building the sandbox; starting its servers",
    )
    try:
        return run_prepared_console(start, how)
    finally:
        if drills:  # the app's loop joined the thread: the sandbox is built, or never will be
            drills[0].finish(sys.stdout)
