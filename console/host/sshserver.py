"""The built-in SSH server of ``warroom serve``: the team joins the war room with ``ssh -p PORT host``.

Each authenticated interactive session gets its own child process, ``warroom attach``, running the
ordinary console on a pseudo-terminal of its own and attached to the engine's socket with a
one-time token that binds the session's user and role; the engine, not this server, decides what
an actor may do. Everything an SSH server could offer besides that is refused: passwords,
keyboard-interactive, "none", exec requests, subsystems (SFTP), port, agent and X11 forwarding.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import asyncssh

from console.engine import Actor
from console.host.attach import AttachServer
from console.host.ptychild import Process, PtyChild, exec_on
from console.host.ptyzygote import ForkServer, ForkServerGone
from console.host.sharedview import SharedView, SharedViews, ViewKey, keypress
from console.host.sshauth import PublicKeyOnlyServer
from console.host.sshkeys import Account, UnsafeFile, check_files, host_key_path, load_accounts, load_host_key
from console.host.sshlimits import (
    CHANNELS_PER_CONNECTION,
    SESSION_WINDOW,
    EnvFilteringChannel,
    SessionLimits,
    clamp_size,
)
from console.model.config import LoadedConfig
from console.model.errors import WarroomError
from console.model.rules import SHARED_VIEWER_NAME

log = logging.getLogger("warroom.sshserver")
SHARED_VIEWER = Actor(SHARED_VIEWER_NAME, "observer")

SPAWN_ENV = "WARROOM_SSH_SPAWN"  # "exec": no fork server, each session starts its own interpreter
KEEPALIVE_COUNT_MAX = 3
PASSED_ENV = ("PATH", "HOME", "USER", "LOGNAME", "PYTHONPATH", "TZ", "TMPDIR")
DEEP_COLOUR = ("truecolor", "24bit", "direct")
NO_TERMINAL = b"warroom: this server only offers the war room console, which needs a terminal (ssh -t)\r\n"
# leave the alternate screen, show the cursor, stop mouse/paste/focus reporting, pop kitty keyboard mode
RESET_TERMINAL = (
    b"\x1b[0m\x1b[?1049l\x1b[?25h\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1015l"
    b"\x1b[?2004l\x1b[?1004l\x1b[<u\r\n"
)


# ----- the server -----------------------------------------------------------------------------------------
class SessionServer:
    """``start`` binds the port; ``close`` ends every session (its process group killed and reaped)."""

    def __init__(
        self, config: LoadedConfig, attach: AttachServer, entry: str, *, preload: tuple[str, ...] = ()
    ) -> None:
        self.config = config
        self.attach = attach
        self.entry = entry
        """The module whose ``main(argv)`` runs each session's console (the CLI entry hands it in)."""
        self.preload = preload
        """Modules the fork server imports before its first fork (handed in with ``entry``)."""
        self.host_key_path = host_key_path(config)
        self.fingerprint = ""
        self.sessions: set[_Session] = set()
        settings = config.model.server
        self.limits = SessionLimits(
            total=settings.max_sessions,  # each session is a process of ~25 MB
            per_user=settings.max_sessions_per_user,
            driver_reserved=settings.driver_reserved_sessions,
            unauthenticated=settings.max_unauthenticated,
        )
        self._accounts: dict[str, Account] = {}
        self._connections: set[asyncssh.SSHServerConnection] = set()
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self.forks: ForkServer | None = None
        self.views = SharedViews(self._view_spawner) if settings.shared_views else None
        """Observers' consoles, one per kind and size of terminal (``server.shared_views``)."""

    async def start(self, listen: str, port: int) -> int:
        settings = self.config.model.server
        self._accounts = load_accounts(settings.users)
        key = load_host_key(self.host_key_path)
        self.fingerprint = key.get_fingerprint()
        try:
            self._acceptor = await asyncssh.create_server(
                lambda: _Connection(self),
                listen,
                port,
                server_host_keys=[key],
                encoding=None,
                line_editor=False,
                allow_pty=True,
                agent_forwarding=False,
                x11_forwarding=False,
                allow_scp=False,
                gss_host=None,
                keepalive_interval=settings.keepalive,
                keepalive_count_max=KEEPALIVE_COUNT_MAX,
                login_timeout=30,
            )
        except OSError as exc:
            raise WarroomError(f"SSH server cannot listen on {listen}:{port}: {exc.strerror or exc}") from None
        if os.environ.get(SPAWN_ENV, "fork") != "exec":
            self.forks = ForkServer()
            try:
                await self.forks.start(self._base_env(), self.entry, self.preload)
            except OSError as exc:
                log.warning("no fork server (%s): each session starts its own interpreter", exc)
                self.forks = None
        return self._acceptor.get_port()

    async def close(self) -> None:
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()
            self._acceptor = None
        await asyncio.gather(*(session.end() for session in list(self.sessions)), return_exceptions=True)
        if self.views is not None:
            await self.views.close()
        connections = list(self._connections)
        for conn in connections:
            conn.close()
        if connections:
            await asyncio.wait([asyncio.ensure_future(conn.wait_closed()) for conn in connections], timeout=2)
        self._connections.clear()
        if self.forks is not None:
            await self.forks.close()
            self.forks = None

    # ----- what a session child gets ---------------------------------------------------------------
    def child_args(self) -> list[str]:
        return ["attach", "--socket", str(self.attach.path), "--via", "ssh"]

    async def spawn(self, terminal: int, env: dict[str, str]) -> Process:
        """A forked child of the fork server, or (without one) a new interpreter."""
        if self.forks is not None and self.forks.running:
            try:
                return await self.forks.spawn(terminal, self.child_args(), env)
            except ForkServerGone as exc:
                log.warning("%s: starting sessions the plain way", exc)
        return await exec_on(terminal, [sys.executable, "-m", self.entry, *self.child_args()], env)

    @staticmethod
    def _base_env() -> dict[str, str]:
        env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
        env.update(LANG="C.UTF-8", LC_ALL="C.UTF-8")
        return env

    def view_key(self, term: str, client_env: dict[str, str], size: tuple[int, int, int, int]) -> ViewKey:
        """What a console's frames depend on: its terminal's kind, colour depth and size."""
        term = term or "xterm-256color"
        deep = client_env.get("COLORTERM", "") in DEEP_COLOUR or any(word in term for word in DEEP_COLOUR)
        return ViewKey(term, "truecolor" if deep else "", "NO_COLOR" in client_env, size[0], size[1])

    def child_env(self, actor: Actor, key: ViewKey, *, counted: bool = True) -> dict[str, str]:
        """A clean environment: nothing of the server's own (its secrets) reaches a session."""
        env = self._base_env()
        env["TERM"] = key.term
        if key.colour:
            env["COLORTERM"] = key.colour
        if key.no_color:
            env["NO_COLOR"] = "1"
        env["WARROOM_ATTACH_TOKEN"] = self.attach.issue_token(actor, counted=counted)
        return env

    def _view_spawner(self, key: ViewKey):
        """How a shared view's console starts: an observer nobody is, journaled as nobody's presence."""
        env = self.child_env(SHARED_VIEWER, key, counted=False)
        return lambda terminal: self.spawn(terminal, env)


class _Connection(PublicKeyOnlyServer):
    """One client connection: public-key authentication against the configured users."""

    def __init__(self, server: SessionServer) -> None:
        self._server = server
        self._conn: asyncssh.SSHServerConnection | None = None
        self._peer = "?"
        self._logging_in = False
        self._channels = 0
        self._user: str | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._peer = "{}:{}".format(*(conn.get_extra_info("peername") or ("?", "?"))[:2])
        if not self._server.limits.admit_unauthenticated(self._peer):
            asyncio.get_running_loop().call_soon(conn.abort)  # its fd is free at once, not after the login timeout
            return
        self._logging_in = True
        self._server._connections.add(conn)

    def _logged_in_or_gone(self) -> None:
        if self._logging_in:
            self._logging_in = False
            self._server.limits.logged_in_or_gone()

    def connection_lost(self, exc: Exception | None) -> None:
        self._logged_in_or_gone()
        if self._user is not None:
            self._server.limits.disconnect(self._user)
            self._user = None
        if self._conn is not None:
            self._server._connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        """Always True: returning False would let the client in without any authentication."""
        account = self._server._accounts.get(username)
        assert self._conn is not None
        self._conn.set_authorized_keys(account.keys if account else asyncssh.SSHAuthorizedKeys())
        if account is None:
            log.info("unknown user %r from %s", username, self._peer)
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return False  # only keys in the user's authorised list (checked by asyncssh) get in

    def auth_completed(self) -> None:
        assert self._conn is not None
        self._logged_in_or_gone()
        name = self._conn.get_extra_info("username")
        refusal = self._server.limits.connect(name)
        if refusal:
            log.info("refused a connection of %s from %s: %s", name, self._peer, refusal)
            self._conn.disconnect(asyncssh.DISC_TOO_MANY_CONNECTIONS, refusal)
            return
        self._user = name
        log.info("%s logged in from %s", name, self._peer)

    def session_requested(self) -> tuple[asyncssh.SSHServerChannel, asyncssh.SSHServerSession]:
        assert self._conn is not None
        if self._channels >= CHANNELS_PER_CONNECTION:
            raise asyncssh.ChannelOpenError(asyncssh.OPEN_RESOURCE_SHORTAGE, "too many sessions on one connection")
        self._channels += 1
        name = self._conn.get_extra_info("username")
        chan = EnvFilteringChannel.adopt(self._conn.create_server_channel(window=SESSION_WINDOW))
        return chan, _Session(self._server, Actor(name, self._server._accounts[name].role), self._peer, self)

    def channel_closed(self) -> None:
        self._channels -= 1

    def connection_requested(self, dest_host: str, dest_port: int, orig_host: str, orig_port: int) -> bool:
        self._refuse("a local port forward", dest_host, dest_port)
        raise asyncssh.ChannelOpenError(asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, "warroom forwards nothing")

    def server_requested(self, listen_host: str, listen_port: int) -> bool:
        return self._refuse("a remote port forward", listen_host, listen_port)

    def unix_connection_requested(self, dest_path: str) -> bool:
        self._refuse("a unix socket forward", dest_path)
        raise asyncssh.ChannelOpenError(asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, "warroom forwards nothing")

    def unix_server_requested(self, listen_path: str) -> bool:
        return self._refuse("a remote unix socket forward", listen_path)

    def _refuse(self, what: str, *where: object) -> bool:
        user = self._conn.get_extra_info("username") if self._conn else "?"
        log.info("refused %s to %s for %s from %s", what, ":".join(map(str, where)), user, self._peer)
        return False


class _Session(asyncssh.SSHServerSession):
    """One SSH session: a pty and a shell request start the console; anything else is refused.

    An observer starts on the shared view of their kind and size of terminal (``server.shared_views``)
    and is counted as present by this session; their first key or click moves them to a console of
    their own, which gets that input. Everyone else has a console of their own from the start."""

    def __init__(self, server: SessionServer, actor: Actor, peer: str, connection: _Connection) -> None:
        self._server = server
        self._connection = connection
        self._counted = False
        self.actor = actor
        self._peer = peer
        self._chan: asyncssh.SSHServerChannel | None = None
        self._term: str | None = None
        self._size = (80, 24, 0, 0)
        self.child: PtyChild | None = None
        self.view: SharedView | None = None
        self._viewing: asyncio.Future[int | None] | None = None
        self._typed = bytearray()  # input on its way to the console of one's own
        self._presence = ""
        self._task: asyncio.Task[None] | None = None
        self._hung_up = False

    def connection_made(self, chan: asyncssh.SSHServerChannel) -> None:
        self._chan = chan

    def pty_requested(self, term_type: str, term_size: tuple[int, int, int, int], term_modes) -> bool:
        self._term = term_type
        self._size = clamp_size(*term_size)
        return True

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        log.info("refused exec request from %s (%s)", self.actor.name, self._peer)
        return False

    def subsystem_requested(self, subsystem: str) -> bool:
        log.info("refused subsystem %r for %s (%s)", subsystem, self.actor.name, self._peer)
        return False

    def session_started(self) -> None:
        assert self._chan is not None
        limits = self._server.limits
        refusal = None if self._term is None else limits.refusal(self.actor.name, self.actor.role)
        if self._term is None or refusal:
            log.info("refused a session for %s (%s): %s", self.actor.name, self._peer, refusal or "no terminal")
            self._chan.write(NO_TERMINAL if self._term is None else f"warroom: {refusal}\r\n".encode())
            self._chan.exit(1)
            return
        limits.take(self.actor.name, self.actor.role)
        self._counted = True
        self._server.sessions.add(self)
        if self._shares():
            try:
                self._presence = self._server.attach.engine.join(self.actor, "ssh")
            except WarroomError as exc:  # the journal refused it (a full disk): watching still works
                log.warning("presence of %s not journaled: %s", self.actor.name, exc)
        self._task = asyncio.get_running_loop().create_task(self._run())
        self._task.add_done_callback(self._finished)

    def _shares(self) -> bool:
        return self._server.views is not None and self.actor.role == "observer"

    def _key(self) -> ViewKey:
        assert self._chan is not None
        return self._server.view_key(self._term or "", dict(self._chan.get_environment()), self._size)

    # ----- what the console shows ------------------------------------------------------------------
    def show(self, data: bytes) -> None:
        if self._chan is not None and not self._chan.is_closing():
            self._chan.write(data)

    def view_ended(self, code: int) -> None:
        self.view = None
        if self._viewing is not None and not self._viewing.done():
            self._viewing.set_result(code)

    def _finished(self, task: asyncio.Task[None]) -> None:
        if self.child is not None:
            self.child.close()  # the pty, even when the task was cancelled before it ran
        self._leave_view()
        if self._presence:
            try:
                self._server.attach.engine.leave(self.actor, self._presence)
            except WarroomError as exc:
                log.warning("the leaving of %s not journaled: %s", self.actor.name, exc)
            self._presence = ""
        self._server.sessions.discard(self)
        if self._counted:
            self._counted = False
            self._server.limits.give_back(self.actor.name, self.actor.role)

    def _leave_view(self) -> None:
        if self.view is not None:
            self.view.leave(self)
            self.view = None

    async def _run(self) -> None:
        try:
            code = await self._watch_shared() if self._shares() else None
            if code is None:
                code = await self._own_console()
        except asyncio.CancelledError:
            self._leave_view()
            if self.child is not None:
                await self.child.stop()
            self._close(1, "the war room server ended this session")  # if the client is still there
            raise
        self._leave_view()
        if self.child is not None:
            await self.child.stop()
        self._close(code, f"the console was killed ({_signal_name(-code)})" if code < 0 else None)

    async def _watch_shared(self) -> int | None:
        """The shared view until it ends (its exit code), the viewer quits (0) or acts (None)."""
        assert self._server.views is not None
        self._viewing = asyncio.get_running_loop().create_future()
        try:
            self.view = self._server.views.join(self._key(), self)
        except OSError as exc:  # out of ptys: a console of one's own may still start, or say why
            log.warning("no shared view for %s: %s", self.actor.name, exc)
            return None
        return await self._viewing

    async def _own_console(self) -> int:
        assert self._chan is not None
        try:
            self.child = PtyChild(self.show, self._size, self._chan.pause_reading, self._chan.resume_reading)
        except OSError as exc:  # out of ptys or file descriptors: this session only
            log.warning("cannot open a terminal for %s: %s", self.actor.name, exc)
            self._close(1, f"cannot open a terminal: {exc.strerror or exc}")
            return 1
        child, typed = self.child, bytes(self._typed)
        self._typed.clear()
        child.write(typed)
        try:
            env = self._server.child_env(self.actor, self._key(), counted=not self._presence)
            await child.start(lambda terminal: self._server.spawn(terminal, env))
        except OSError as exc:
            log.warning("cannot start a session for %s: %s", self.actor.name, exc)
            self._close(1, f"cannot start the console: {exc}")
            return 1
        return await child.wait()

    def _close(self, code: int, note: str | None) -> None:
        """Send the exit status; after a console that could not tidy up, give the terminal back sane."""
        chan = self._chan
        if chan is None or chan.is_closing():
            return
        if note or self.child is None:  # a shared view's terminal modes are the view's, not reset by it
            chan.write(RESET_TERMINAL + (f"warroom: {note}\r\n".encode() if note else b""))
        if code < 0:
            chan.exit_with_signal(_signal_name(-code))
        else:
            chan.exit(code)

    def _hang_up(self) -> None:
        """Cancel the session once: a second cancel would interrupt the stopping of the child."""
        if self._task is not None and not self._task.done() and not self._hung_up:
            self._hung_up = True
            self._task.cancel()

    async def end(self) -> None:
        """Stop the child (its whole process group) and wait until it is reaped."""
        self._hang_up()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    # ----- what the client sends --------------------------------------------------------------------
    def data_received(self, data: bytes, datatype: int | None) -> None:
        if self.child is not None:
            self.child.write(data)
        elif self.view is not None and self._viewing is not None and not self._viewing.done():
            meaning = keypress(data)
            if meaning == "quit":
                self._viewing.set_result(0)
            elif meaning == "own":
                self._typed += data
                self._leave_view()
                self._viewing.set_result(None)
        elif self._viewing is not None and self._viewing.done() and self._viewing.result() is None:
            self._typed += data  # typed while the console of one's own starts

    def eof_received(self) -> bool:
        return True  # the keyboard is closed; the console keeps showing until the channel closes

    def terminal_size_changed(self, width: int, height: int, pixwidth: int, pixheight: int) -> None:
        self._size = clamp_size(width, height, pixwidth, pixheight)
        if self.child is not None:
            self.child.resize(*self._size)
        elif self.view is not None and self._server.views is not None:
            self.view.leave(self)  # the view of the new size (a new join gets a whole frame)
            self.view = self._server.views.join(self._key(), self)

    def pause_writing(self) -> None:
        if self.child is not None:
            self.child.pause_output()
        elif self.view is not None:
            self.view.pause(self)

    def resume_writing(self) -> None:
        if self.child is not None:
            self.child.resume_output()
        elif self.view is not None:
            self.view.resume(self)

    def break_received(self, msec: int) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """The channel closed or the client vanished: the child must not outlive it."""
        self._connection.channel_closed()
        self._hang_up()


def _signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name.removeprefix("SIG")
    except ValueError:
        return "KILL"


__all__ = ["SessionServer", "UnsafeFile", "check_files", "host_key_path", "load_accounts", "load_host_key"]
