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

from console.engine import Actor
from console.engine.preflight import preflight_gate
from console.host.incident_host import IncidentHost, Sharing
from console.host.web.serve import check_web, http_listen, web_line
from console.model.config import LoadedConfig
from console.model.plan import Plan


@dataclass
class ServeOptions:
    session_entry: str
    """The module whose ``main(argv)`` runs an SSH session's console (the CLI entry)."""
    session_preload: tuple[str, ...] = ()
    """What the fork server imports before forking session consoles (the CLI entry's choice)."""
    incident: Path | None = None
    severity: str = "P0"
    trigger: str = "unspecified"
    detected_at: str | None = None
    listen: str | None = None
    port: int | None = None
    force: bool = False
    """Open a new incident even when the preflight gate fails (the failed lines are journaled)."""
    http: str | None = None
    """``--http [ADDR:]PORT``: the read-only status page (default: the config's ``web.listen``)."""


async def serve(
    plan: Plan, config: LoadedConfig, root: Path, actor: Actor, options: ServeOptions, *, out: TextIO = sys.stdout
) -> int:
    sharing = Sharing(
        ssh=None,
        listen=options.listen,
        port=options.port,
        session_entry=options.session_entry,
        session_preload=options.session_preload,
        http=http_listen(options.http, config),
    )
    if sharing.http:
        check_web(config)  # a password or certificate that cannot be used stops us before anything opens
    gate = None
    if options.incident is None:  # the gate first: a refusal opens nothing and touches no host
        gate = await preflight_gate(plan, config, force=options.force, out=out)
    host = IncidentHost.open_or_resume(  # an unsafe SSH key file stops us before an incident is opened
        root,
        plan,
        config,
        actor,
        incident=options.incident,
        severity=options.severity,
        trigger=options.trigger,
        detected_at=options.detected_at,
        sharing=sharing,
        preflight=gate,
    )

    def socket_ready(host: IncidentHost) -> None:
        engine, attach = host.engine, host.attach
        assert attach is not None
        out.write(
            f"incident {engine.state.id}: {plan.runbook['title']} {plan.runbook['version']}, {engine.state.severity}\n"
        )
        out.write(f"journal {engine.journal.path}\nsocket  {attach.path}  (warroom watch {engine.state.id})\n")

    try:
        await host.start(on_socket=socket_ready)
        if host.ssh is not None:
            port = host.ssh_port
            out.write(f"ssh     {host.ssh_listen}:{port}  (ssh -p {port} USER@HOST)\n")
            out.write(f"host key {host.ssh.fingerprint}  ({host.ssh.host_key_path})\n")
        else:
            out.write("ssh     off (no [[server.users]] in the config)\n")
        if host.web is not None:
            out.write(web_line(host.web))
        out.flush()
        await _until_signalled()
        out.write("stopping\n")
        return 0
    finally:
        await host.aclose()


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
