"""Starting the console from the CLI (the CLI imports this lazily: the core never needs Textual).

The console is a client of :class:`console.host.incident_host.IncidentHost` like ``serve`` and the
headless run: the host serves the incident (socket, deadline watcher, the drill's SSH server) and
the app is handed its session. Sharing is lenient here: observers who cannot join are told so on
screen, and the incident goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from console.engine import Actor
from console.host.incident_host import IncidentHost, Sharing
from console.host.ready import ReadyEnvironment, StartEnvironment
from console.host.session import Session
from console.model.config import LoadedConfig
from console.model.keymap import keymap_from
from console.model.plan import Plan

from .app import Opener, WarroomApp
from .modals.open_incident import Opening

CONSOLE_SHARING = Sharing(strict=False)
"""The socket for ``warroom watch``; a failure to bind is a notice, not the end."""


async def _hosted(app: WarroomApp, host: IncidentHost, served: str = "Served over SSH") -> Session:
    """Start ``host`` on the app's loop and hand back its session, saying if observers cannot join
    and, when it serves SSH, how they join (a notice titled ``served``)."""
    await host.start()
    if host.not_shared is not None:
        app.notify(f"observers cannot join: {host.not_shared}", title="Not shared", severity="warning", markup=False)
    if host.ssh_port is not None:
        app.notify(f"trainees: ssh -p {host.ssh_port} NAME@{host.ssh_listen}", title=served, timeout=30, markup=False)
    return host.session()


def _opener(
    app: Callable[[], WarroomApp],
    root: Path,
    plan: Plan,
    config: LoadedConfig,
    actor: Actor,
    sharing: Sharing,
    *,
    detected_at: str | None = None,
    served: str = "Served over SSH",
) -> Opener:
    """Opens the incident the open-incident dialog decided on, hosted on the app's loop."""

    async def opener(opening: Opening) -> Session:
        host = IncidentHost.open(
            root,
            plan,
            config,
            actor,
            severity=opening.severity,
            trigger=opening.trigger,
            detected_at=detected_at,
            sharing=sharing,
        )
        return await _hosted(app(), host, served)

    return opener


def run_console(
    plan: Plan,
    config: LoadedConfig,
    root: Path,
    actor: Actor,
    *,
    incident: Path | None = None,
    severity: str = "P0",
    detected_at: str | None = None,
) -> int:
    keymap = keymap_from(config)
    if incident is not None:
        host = IncidentHost.resume(incident, config, actor, sharing=CONSOLE_SHARING)  # refused before any screen
        app = WarroomApp(connect=lambda: _hosted(app, host), keymap=keymap)
    else:
        opener = _opener(lambda: app, root, plan, config, actor, CONSOLE_SHARING, detected_at=detected_at)
        app = WarroomApp(plan=plan, opener=opener, keymap=keymap, severity=severity)
    result = app.run()
    return result if isinstance(result, int) else 0


def run_drill_console(
    start: StartEnvironment,
    *,
    actor: Actor,
    severity: str,
    trigger: str,
    serve: bool,
    session_entry: str,
    session_preload: tuple[str, ...] = (),
) -> int:
    """``warroom drill``: the console on the drill's sandbox, the game-day score at the close.

    ``start`` (handed in by the entry module, so the UI never imports the drill) starts the
    sandbox's servers on the app's own loop. With ``serve`` the host also runs the SSH server:
    trainees join the drill as observers of this very incident."""
    env: list[ReadyEnvironment] = []
    sharing = Sharing(ssh=serve, session_entry=session_entry, session_preload=session_preload, strict=False)

    async def startup() -> tuple[Plan, Opener]:
        ready = await start()
        env.append(ready)
        return ready.plan, _opener(
            lambda: app, ready.state_root, ready.plan, ready.config, actor, sharing, served="Drill served"
        )

    async def shutdown() -> None:
        for ready in env:
            await ready.close()

    app = WarroomApp(startup=startup, shutdown=shutdown, severity=severity, trigger=trigger, show_score=True)
    result = app.run()
    return result if isinstance(result, int) else 0


def run_attached(socket: Path, *, token: str | None = None, user: str | None = None, via: str = "watch") -> int:
    """The console on an incident whose engine runs elsewhere (``warroom watch``, SSH sessions)."""
    from console.host.remote import RemoteSession

    async def connect() -> Session:
        return await RemoteSession.connect(socket, token=token, user=user, via=via)

    app = WarroomApp(connect=connect)
    result = app.run()
    return result if isinstance(result, int) else 0
