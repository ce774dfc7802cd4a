"""``warroom run`` and ``warroom drill`` in the console, painted first.

This module and :mod:`screens.app` import only Textual: the app's first frame (the preparing
screen) is on the terminal before anything slow starts. Behind it, on the app's loop: the
environment is started (``start``, handed in by the entry module: a run loads its config, runbook
and step kinds; the drill also builds its sandbox and starts its servers), :mod:`screens.launch`
and the engine are imported, and the preflight gate logs in to every host. Then the open-incident
dialog replaces the preparing screen.
"""

from __future__ import annotations

import asyncio
import getpass
import importlib
import io
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .app import Opener, WarroomApp

if TYPE_CHECKING:
    from console.engine import Actor
    from console.host.ready import ReadyEnvironment, StartEnvironment
    from console.model.config import LoadedConfig
    from console.model.plan import Plan


@dataclass
class Prepared:
    """How a console run should start. ``gate_table``: print the gate's table after the console
    ends (a run: as it used to be printed before the UI); a refusal is always printed."""

    title: str
    actor: Callable[[], Actor]
    severity: str = "P0"
    trigger: str = ""
    detected_at: str | None = None
    force: bool = False
    serve: bool = False
    http: str | None = None
    """Serve the read-only status page on ``[ADDR:]PORT``."""
    session_entry: str = ""
    session_preload: tuple[str, ...] = ()
    show_score: bool = False
    gate_table: bool = False
    served: str = "Served over SSH"
    loading: str = "loading the config, the runbook and its step kinds"
    refusal: list[str] = field(default_factory=list)


def run_prepared_console(start: StartEnvironment, how: Prepared) -> int:
    """The console on an environment ``start`` readies behind the first frame, until the driver
    quits. A gate that refuses ends the console: its table goes to stdout, one line to stderr."""
    env: list[ReadyEnvironment] = []
    table = io.StringIO()

    async def startup() -> tuple[Plan, Opener] | None:
        app.preparing(how.loading)
        ready = await start()
        env.append(ready)
        launch = await asyncio.to_thread(importlib.import_module, "screens.launch")
        app.preparing("preflight: checking every host")
        from actions.sshconnect import set_passphrase_prompt
        from console.engine.preflight import preflight_gate
        from console.host.incident_host import Sharing
        from console.model.errors import PreflightFailed

        set_passphrase_prompt(lambda target, path: ask_passphrase(app, target, path))
        try:
            gate = await preflight_gate(ready.plan, ready.config, force=how.force, out=table)
        except PreflightFailed as exc:
            how.refusal.append(f"warroom: {exc.title}: {exc}")
            app.exit(1)
            return None
        sharing = Sharing(
            ssh=how.serve,
            session_entry=how.session_entry,
            session_preload=how.session_preload,
            http=how.http,
            strict=False,
        )
        root, plan, config = ready.state_root, ready.plan, ready.config
        opener = launch._opener(
            lambda: app,
            root,
            plan,
            config,
            how.actor(),
            sharing,
            detected_at=how.detected_at,
            served=how.served,
            preflight=gate,
        )
        return plan, opener

    async def shutdown() -> None:
        if env:  # the startup registered the console's passphrase prompt: this app asks no more
            from actions.sshconnect import set_passphrase_prompt

            set_passphrase_prompt(None)
        for ready in env:
            await ready.close()

    app = WarroomApp(
        startup=startup,
        shutdown=shutdown,
        severity=how.severity,
        trigger=how.trigger,
        show_score=how.show_score,
        preparing=how.title,
    )
    result = app.run()
    if how.refusal or how.gate_table:
        sys.stdout.write(_neutralised(table.getvalue()))
        sys.stdout.flush()
    for line in how.refusal:
        print(_neutralised(line), file=sys.stderr)
    if how.refusal:
        return 1
    return result if isinstance(result, int) else 0


async def ask_passphrase(app, target, path: str) -> str | None:
    """The console asks for an encrypted identity file's passphrase once (the transport keeps
    it in memory for every host that uses the file); escape leaves the host unreachable."""
    from screens.modals.prompt import PromptModal

    answer: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
    label = f"host {target.name} ({target.route()}) logs in with {path}, which is encrypted"
    app.push_screen(
        PromptModal("Passphrase", label, password=True), lambda value: answer.done() or answer.set_result(value)
    )
    return await answer


def _neutralised(text: str) -> str:
    from console.model.sanitize import neutralise

    return neutralise(text)


@dataclass
class RunEnvironment:
    """A run's config and bound plan (a :class:`console.host.ready.ReadyEnvironment`): nothing to stop."""

    plan: Plan
    config: LoadedConfig
    state_root: Path

    async def close(self) -> None:
        return None


class DrillBox(Protocol):
    """The drill's sandbox as the console starts it (``console.drill.run.ConsoleDrill``, made by the
    entry module: the UI never imports the drill)."""

    actor: Actor

    def prepare(self) -> None: ...

    async def start(self) -> ReadyEnvironment: ...

    def finish(self, out) -> None: ...


class DrillChoices(Protocol):
    """What the drill's options say about its console (``console.drill.options.DrillOptions``)."""

    severity: str
    trigger: str
    serve_port: int | None
    http_listen: str | None


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


def drill_console_first(
    make_drill: Callable[[], DrillBox],
    options: DrillChoices,
    *,
    session_entry: str,
    session_preload: tuple[str, ...],
) -> int:
    """The drill: the runbook, its step kinds and the sandbox load in a thread behind the first
    frame; its servers then start on the app's loop. The sandbox is kept or removed at the end."""
    drills: list[DrillBox] = []

    def prepare() -> DrillBox:
        drills.append(make_drill())
        drills[0].prepare()
        return drills[0]

    async def start() -> ReadyEnvironment:
        drill = await asyncio.to_thread(prepare)
        return await drill.start()

    how = Prepared(
        title="warroom drill: preparing the sandbox",
        actor=lambda: drills[0].actor,
        severity=options.severity,
        trigger=options.trigger,
        serve=bool(options.serve_port),
        http=options.http_listen,
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
