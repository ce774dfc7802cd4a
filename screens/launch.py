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
from console.engine.preflight import GateResult
from console.host.incident_host import IncidentHost, Sharing
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
    if host.web is not None:
        app.notify(f"stakeholders: {host.web.url}", title="Status page", timeout=30, markup=False)
    return host.session()


def _gate_notice(app: WarroomApp, gate: GateResult) -> None:
    """What the preflight table said that the screen now covers: an override, or warnings."""
    if not gate.passed:
        failed = "; ".join(f"{line.host}: {line.check}" for line in gate.failed)
        app.notify(
            f"started despite: {failed} (journaled)",
            title="Preflight overridden",
            severity="error",
            timeout=30,
            markup=False,
        )
    elif gate.warnings:
        warned = "; ".join(f"{line.host}: {line.detail}" for line in gate.warnings)
        app.notify(warned, title="Preflight warnings", severity="warning", timeout=30, markup=False)


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
    preflight: GateResult | None = None,
) -> Opener:
    """Opens the incident the open-incident dialog decided on, hosted on the app's loop, behind
    the ``preflight`` gate the caller ran (journaled with the opening)."""

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
            preflight=preflight,
        )
        session = await _hosted(app(), host, served)
        if preflight is not None:
            _gate_notice(app(), preflight)
        return session

    return opener


def run_console(
    plan: Plan,
    config: LoadedConfig,
    root: Path,
    actor: Actor,
    *,
    incident: Path | None = None,
    severity: str = "P0",
    trigger: str = "",
    detected_at: str | None = None,
    preflight: GateResult | None = None,
) -> int:
    """The console until the driver quits (:func:`console_app` builds it). ``preflight``: the gate
    a new incident opens behind (run and printed before the UI starts)."""
    app = console_app(
        plan,
        config,
        root,
        actor,
        incident=incident,
        severity=severity,
        trigger=trigger,
        detected_at=detected_at,
        preflight=preflight,
    )
    result = app.run()
    return result if isinstance(result, int) else 0


def console_app(
    plan: Plan,
    config: LoadedConfig,
    root: Path,
    actor: Actor,
    *,
    incident: Path | None = None,
    severity: str = "P0",
    trigger: str = "",
    detected_at: str | None = None,
    preflight: GateResult | None = None,
) -> WarroomApp:
    """The war room on a resumed incident, or the open-incident dialog with ``severity`` and
    ``trigger`` (``run --severity/--trigger``) already chosen, for the driver to confirm."""
    keymap = keymap_from(config)
    if incident is not None:
        host = IncidentHost.resume(incident, config, actor, sharing=CONSOLE_SHARING)  # refused before any screen
        app = WarroomApp(connect=lambda: _hosted(app, host), keymap=keymap)
    else:
        opener = _opener(
            lambda: app, root, plan, config, actor, CONSOLE_SHARING, detected_at=detected_at, preflight=preflight
        )
        app = WarroomApp(plan=plan, opener=opener, keymap=keymap, severity=severity, trigger=trigger)
    return app


def run_attached(socket: Path, *, token: str | None = None, user: str | None = None, via: str = "watch") -> int:
    """The console on an incident whose engine runs elsewhere (``warroom watch``, SSH sessions)."""
    from console.host.remote import RemoteSession

    async def connect() -> Session:
        return await RemoteSession.connect(socket, token=token, user=user, via=via)

    app = WarroomApp(connect=connect)
    result = app.run()
    return result if isinstance(result, int) else 0
