"""``warroom serve``: the incident engine as a service — the unix socket for ``warroom watch`` and
the built-in SSH server for the team — until SIGINT/SIGTERM/SIGHUP."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from console.engine import Actor, Engine
from console.host.attach import AttachServer
from console.model.config import LoadedConfig
from console.model.plan import Plan


@dataclass
class ServeOptions:
    incident: Path | None = None
    severity: str = "P0"
    trigger: str = "unspecified"
    detected_at: str | None = None
    listen: str | None = None
    port: int | None = None
    session_entry: str = ""
    """The module whose ``main(argv)`` runs an SSH session's console (the CLI entry)."""


async def serve(
    plan: Plan, config: LoadedConfig, root: Path, actor: Actor, options: ServeOptions, *, out: TextIO = sys.stdout
) -> int:
    if config.model.server.users:
        from console.host.sshserver import check_files

        check_files(config)  # an unsafe key file stops us before an incident is opened
    if options.incident is not None:
        engine = Engine.resume(options.incident, actor, config=config)
    else:
        engine = Engine.open(
            root,
            plan,
            actor,
            severity=options.severity,
            trigger=options.trigger,
            detected_at=options.detected_at,
            config=config,
        )
    server_cfg = config.model.server
    engine.users.update({user.name: user.role for user in server_cfg.users})
    engine.users.setdefault(actor.name, "driver")
    attach = AttachServer(engine, seat_grace=server_cfg.seat_grace)
    ssh = None
    watchdog = asyncio.get_running_loop().create_task(engine.watch_deadlines())
    try:
        await attach.start()
        out.write(
            f"incident {engine.state.id}: {plan.runbook['title']} {plan.runbook['version']}, {engine.state.severity}\n"
        )
        out.write(f"journal {engine.journal.path}\nsocket  {attach.path}  (warroom watch {engine.state.id})\n")
        if server_cfg.users:
            from console.host.sshserver import SessionServer

            ssh = SessionServer(config, attach, options.session_entry)
            port = await ssh.start(options.listen or server_cfg.listen, options.port or server_cfg.port)
            out.write(f"ssh     {options.listen or server_cfg.listen}:{port}  (ssh -p {port} USER@HOST)\n")
            out.write(f"host key {ssh.fingerprint}  ({ssh.host_key_path})\n")
        else:
            out.write("ssh     off (no [[server.users]] in the config)\n")
        out.flush()
        await _until_signalled()
        out.write("stopping\n")
        return 0
    finally:
        watchdog.cancel()
        if ssh is not None:
            await ssh.close()
        await attach.close()
        await engine.aclose()


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
