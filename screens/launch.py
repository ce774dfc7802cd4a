"""Starting the console from the CLI (the CLI imports this lazily: the core never needs Textual)."""

from __future__ import annotations

from pathlib import Path

from console.engine import Actor, Engine
from console.host.session import LocalSession, Session
from console.model.config import LoadedConfig
from console.model.keymap import keymap_from
from console.model.plan import Plan

from .app import WarroomApp
from .modals.open_incident import Opening


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
        engine = Engine.resume(incident, actor, config=config)
        app = WarroomApp(session=LocalSession(engine, actor), keymap=keymap, serve_socket=True)
    else:

        def opener(opening: Opening) -> Session:
            engine = Engine.open(
                root,
                plan,
                actor,
                severity=opening.severity,
                trigger=opening.trigger,
                detected_at=detected_at,
                config=config,
            )
            return LocalSession(engine, actor)

        app = WarroomApp(plan=plan, opener=opener, keymap=keymap, severity=severity, serve_socket=True)
    result = app.run()
    return result if isinstance(result, int) else 0


def run_drill_console(box, runbook, options, *, start_environment, actor: Actor, session_entry: str) -> int:
    """``warroom drill``: the console on the drill's sandbox, the game-day score at the close.

    ``start_environment`` (the drill's) starts the sandbox's servers on the app's own loop; the
    entry module hands it in, so the UI never imports the drill."""
    env: list = []

    async def startup():
        env.append(await start_environment(box, runbook, options))
        ready = env[0]

        def opener(opening: Opening) -> Session:
            engine = Engine.open(
                ready.state_root,
                ready.plan,
                actor,
                severity=opening.severity,
                trigger=opening.trigger,
                config=ready.config,
            )
            return LocalSession(engine, actor)

        return ready.plan, opener

    services: list = []

    async def on_attach(attach) -> None:
        """``--serve``: trainees join the drill over SSH as observers of this very incident."""
        if not options.serve_port:
            return
        from console.host.sshserver import SessionServer

        ready = env[0]
        server = SessionServer(ready.config, attach, session_entry)
        port = await server.start(options.listen, options.serve_port)
        services.append(server)
        attach.engine.users.update({u.name: u.role for u in ready.config.model.server.users})
        attach.engine.users.setdefault(actor.name, "driver")
        app.notify(f"trainees: ssh -p {port} NAME@{options.listen}", title="Drill served", timeout=30)

    async def shutdown() -> None:
        for server in services:
            await server.close()
        for ready in env:
            await ready.close()

    app = WarroomApp(
        startup=startup,
        shutdown=shutdown,
        severity=options.severity,
        trigger=options.trigger,
        show_score=True,
        serve_socket=True,
        on_attach=on_attach,
    )
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
