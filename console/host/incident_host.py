"""One incident run for its clients: the engine, its deadline watcher, the attach socket and (when
wanted) the built-in SSH server, started and closed together.

``warroom run`` (console and headless), ``warroom serve`` and ``warroom drill`` are all clients of
this one host; they differ only in what they do with it (drive the steps, print and wait, show the
war room) and in how a failure to share is taken: ``serve`` and the headless run stop, the console
says observers cannot join and goes on (``Sharing.strict``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from console.engine import Actor, Engine
from console.engine.preflight_table import GateResult
from console.host.attach import AttachServer
from console.host.session import LocalSession
from console.model.clock import Clock
from console.model.config import LoadedConfig
from console.model.errors import WarroomError
from console.model.plan import Plan

if TYPE_CHECKING:
    from console.host.sshserver import SessionServer
    from console.host.web.server import WebServer

log = logging.getLogger("warroom.host")
T = TypeVar("T")


@dataclass(frozen=True)
class Sharing:
    """How the incident is shared beyond this process."""

    ssh: bool | None = False
    """Run the built-in SSH server: ``None`` when the config has ``[[server.users]]`` (``serve``)."""
    listen: str | None = None
    """SSH listen address (default: the config's ``server.listen``)."""
    port: int | None = None
    """SSH port (default: the config's ``server.port``)."""
    session_entry: str = ""
    """The module whose ``main(argv)`` runs an SSH session's console (the CLI entry hands it down);
    required whenever SSH may be served."""
    session_preload: tuple[str, ...] = ()
    """Modules the SSH server's fork server imports once before forking session consoles (the CLI
    entry hands them down with ``session_entry``: the host never reads the upper layer's names)."""
    http: str | None = None
    """Serve the read-only status page on ``[ADDR:]PORT`` (``--http``; :mod:`console.host.web`)."""
    strict: bool = True
    """A socket or SSH server that cannot start stops the host; otherwise it is kept in ``not_shared``."""

    def __post_init__(self) -> None:
        if self.ssh is not False and not self.session_entry:
            # Without it the SSH server would start and only its first session would fail.
            raise WarroomError(
                "sharing over SSH needs a session entry: the module whose main(argv) runs a session's console",
                title="Cannot serve SSH",
            )


class IncidentHost:
    """Opens or resumes an incident and serves it until ``aclose`` (an async context manager)."""

    def __init__(self, engine: Engine, actor: Actor, config: LoadedConfig, sharing: Sharing | None = None) -> None:
        self.engine = engine
        self.actor = actor
        self.config = config
        self.sharing = sharing or Sharing()
        self.attach: AttachServer | None = None
        self.ssh: SessionServer | None = None
        self.ssh_port: int | None = None
        self.web: WebServer | None = None
        self.not_shared: WarroomError | OSError | None = None
        """Why observers cannot join (only when ``sharing.strict`` is off)."""
        self._watchdog: asyncio.Task[None] | None = None
        self._parts: contextlib.AsyncExitStack | None = None
        """What ``start`` started, closed in reverse by ``aclose`` (the engine first in, last out)."""
        self._closed = False

    # ----- opening -----------------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        state_root: Path,
        plan: Plan,
        config: LoadedConfig,
        actor: Actor,
        *,
        severity: str,
        trigger: str,
        detected_at: str | None = None,
        clock: Clock | None = None,
        sharing: Sharing | None = None,
        preflight: GateResult | None = None,
    ) -> IncidentHost:
        """A new incident (its directory and journal created now, before anything is served).

        ``preflight`` is the gate it opens behind (:func:`console.engine.preflight.preflight_gate`,
        run by the caller before this, so a refusal leaves no incident behind): journaled right
        after the opening, passed or overridden."""
        sharing = sharing or Sharing()
        _check_ssh_files(config, sharing)
        engine = Engine.open(
            state_root,
            plan,
            actor,
            severity=severity,
            trigger=trigger,
            detected_at=detected_at,
            clock=clock,
            config=config,
        )
        if preflight is not None:
            engine.record_preflight(actor, preflight)
        return cls(engine, actor, config, sharing)

    @classmethod
    def resume(
        cls,
        directory: Path,
        config: LoadedConfig,
        actor: Actor,
        *,
        clock: Clock | None = None,
        sharing: Sharing | None = None,
    ) -> IncidentHost:
        """An existing incident, rebuilt from its journal."""
        sharing = sharing or Sharing()
        _check_ssh_files(config, sharing)
        return cls(Engine.resume(directory, actor, clock=clock, config=config), actor, config, sharing)

    @classmethod
    def open_or_resume(
        cls,
        state_root: Path,
        plan: Plan,
        config: LoadedConfig,
        actor: Actor,
        *,
        incident: Path | None,
        severity: str,
        trigger: str,
        detected_at: str | None = None,
        clock: Clock | None = None,
        sharing: Sharing | None = None,
        preflight: GateResult | None = None,
    ) -> IncidentHost:
        if incident is not None:
            return cls.resume(incident, config, actor, clock=clock, sharing=sharing)
        return cls.open(
            state_root,
            plan,
            config,
            actor,
            severity=severity,
            trigger=trigger,
            detected_at=detected_at,
            clock=clock,
            sharing=sharing,
            preflight=preflight,
        )

    # ----- serving -----------------------------------------------------------------------------------
    @property
    def serves_ssh(self) -> bool:
        return _wants_ssh(self.config, self.sharing)

    @property
    def ssh_listen(self) -> str:
        return self.sharing.listen or self.config.model.server.listen

    async def start(self, *, on_socket: Callable[[IncidentHost], None] | None = None) -> IncidentHost:
        """The deadline watcher (it journals an RTO breach), the socket, then the SSH server.

        ``on_socket`` runs once the socket listens, before the SSH server starts: ``serve`` prints
        where the incident is even when the SSH port then turns out to be taken. If anything fails
        here, whatever had started is closed, the engine last, and the host is closed."""
        if self._closed or self._parts is not None:
            raise RuntimeError("an incident host starts once")
        server = self.config.model.server
        try:
            async with contextlib.AsyncExitStack() as parts:
                parts.push_async_callback(self.engine.aclose)
                self.engine.admit({user.name: user.role for user in server.users}, self.actor)
                self._watchdog = asyncio.get_running_loop().create_task(self.engine.watch_deadlines())
                parts.push_async_callback(_stop, self._watchdog)
                try:
                    await self._share(parts, on_socket)
                except (WarroomError, OSError) as exc:
                    if self.sharing.strict:
                        raise
                    self.not_shared = exc
                self._parts = parts.pop_all()
        except BaseException:
            self._closed = True  # the stack closed everything on the way out
            raise
        return self

    async def _share(self, parts: contextlib.AsyncExitStack, on_socket: Callable[[IncidentHost], None] | None) -> None:
        server = self.config.model.server
        attach = AttachServer(self.engine, seat_grace=server.seat_grace)
        await _start_part(parts, attach.start(), attach.close)  # its close removes only what it bound
        self.attach = attach
        if on_socket is not None:
            on_socket(self)
        if self.serves_ssh:
            from console.host.sshserver import SessionServer  # asyncssh only where SSH is served

            ssh = SessionServer(self.config, attach, self.sharing.session_entry, preload=self.sharing.session_preload)
            self.ssh_port = await _start_part(
                parts, ssh.start(self.ssh_listen, self.sharing.port or server.port), ssh.close
            )
            self.ssh = ssh
        if self.sharing.http:
            from console.host.web.serve import start_web  # aiohttp and jinja2 only where the page is served

            self.web = await start_web(parts, self.engine, self.config, self.sharing.http)

    def session(self) -> HostedSession:
        """The in-process session on this incident; closing it closes the host."""
        return HostedSession(self)

    async def aclose(self) -> None:
        """SSH sessions, socket, watcher, then the engine (its lock released last): each part is
        closed even when closing another fails (that error is raised once all are closed)."""
        if self._closed:
            return
        self._closed = True
        parts, self._parts = self._parts, None
        if parts is None:  # never started: only the engine is open
            await self.engine.aclose()
        else:
            await parts.aclose()

    async def __aenter__(self) -> IncidentHost:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class HostedSession(LocalSession):
    """A :class:`LocalSession` whose close closes its host (SSH server, socket, watcher, engine)."""

    def __init__(self, host: IncidentHost) -> None:
        super().__init__(host.engine, host.actor)
        self.host = host

    async def aclose(self) -> None:
        await self.host.aclose()


async def _start_part(parts: contextlib.AsyncExitStack, start: Awaitable[T], close: Callable[[], Awaitable[None]]) -> T:
    """Await ``start``; if it fails, ``close`` what it may have half started now (a lenient host goes
    on without it), else leave ``close`` to ``parts``."""
    try:
        result = await start
    except BaseException:
        await close()
        raise
    parts.push_async_callback(close)
    return result


async def _stop(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait for it to end (a watcher that died of an error says so)."""
    task.cancel()
    (outcome,) = await asyncio.gather(task, return_exceptions=True)
    if isinstance(outcome, Exception):
        log.error("the deadline watcher failed: %s", outcome, exc_info=outcome)


def _wants_ssh(config: LoadedConfig, sharing: Sharing) -> bool:
    return bool(config.model.server.users) if sharing.ssh is None else sharing.ssh


def _check_ssh_files(config: LoadedConfig, sharing: Sharing) -> None:
    """An unsafe key file stops a strict host before an incident is opened (a lenient one says so later)."""
    if sharing.strict and _wants_ssh(config, sharing):
        from console.host.sshserver import check_files

        check_files(config)
