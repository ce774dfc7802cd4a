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
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from console.engine import Actor
from console.host.attach import AttachServer
from console.host.ptychild import Process, PtyChild, exec_on
from console.host.ptyzygote import ForkServer, ForkServerGone
from console.host.sshauth import PublicKeyOnlyServer
from console.host.sshlimits import (
    CHANNELS_PER_CONNECTION,
    SESSION_WINDOW,
    EnvFilteringChannel,
    SessionLimits,
    clamp_size,
)
from console.model.config import LoadedConfig, ServerUser
from console.model.errors import InputError, WarroomError

log = logging.getLogger("warroom.sshserver")

SPAWN_ENV = "WARROOM_SSH_SPAWN"  # "exec": no fork server, each session starts its own interpreter
HOST_KEY_NAME = "ssh_host_ed25519_key"
KEEPALIVE_COUNT_MAX = 3
PASSED_ENV = ("PATH", "HOME", "USER", "LOGNAME", "PYTHONPATH", "TZ", "TMPDIR")
DEEP_COLOUR = ("truecolor", "24bit", "direct")
NO_TERMINAL = b"warroom: this server only offers the war room console, which needs a terminal (ssh -t)\r\n"
# leave the alternate screen, show the cursor, stop mouse/paste/focus reporting, pop kitty keyboard mode
RESET_TERMINAL = (
    b"\x1b[0m\x1b[?1049l\x1b[?25h\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1015l"
    b"\x1b[?2004l\x1b[?1004l\x1b[<u\r\n"
)


class UnsafeFile(InputError):
    title = "Unsafe file"


@dataclass(frozen=True)
class Account:
    role: str
    keys: asyncssh.SSHAuthorizedKeys


# ----- files the server trusts ------------------------------------------------------------------------
def _check_file(path: Path, what: str, *, private: bool) -> None:
    """Refuse what sshd's StrictModes refuses: a symlink, another user's file, a file others can write
    (and, for a private key, read)."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        raise InputError(f"{what} {path}: no such file") from None
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeFile(f"{what} {path} is a symlink; refusing to trust it (point the config at the real file)")
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeFile(f"{what} {path} is not a regular file")
    if info.st_uid not in (os.getuid(), 0):
        raise UnsafeFile(f"{what} {path} belongs to another user (uid {info.st_uid}); refusing to trust it")
    mask = 0o077 if private else 0o022
    if info.st_mode & mask:
        who = "group/others can read or write it" if private else "group/others can write it"
        raise UnsafeFile(f"{what} {path} has mode {stat.S_IMODE(info.st_mode):04o}: {who}; chmod go-rwx it")


def host_key_path(config: LoadedConfig) -> Path:
    configured = config.model.server.host_key
    if configured:
        return Path(os.path.expanduser(configured))
    return config.model.state_dir() / HOST_KEY_NAME


def load_host_key(path: Path) -> asyncssh.SSHKey:
    """The server's identity: generated once (ed25519, mode 0600, with a ``.pub`` beside it to pin)."""
    if not path.exists() and not path.is_symlink():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = asyncssh.generate_private_key("ssh-ed25519", comment="warroom")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key.export_private_key())
        path.with_name(path.name + ".pub").write_bytes(key.export_public_key())
        return key
    _check_file(path, "SSH host key", private=True)
    try:
        return asyncssh.read_private_key(path)
    except (OSError, ValueError, asyncssh.KeyImportError) as exc:
        raise InputError(f"SSH host key {path}: cannot be read: {exc}") from None


def _parse_keys(lines: list[str], where: str) -> list[str]:
    """Every non-comment line must be a key: a typo must not silently lock someone out (or in)."""
    good = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            asyncssh.import_authorized_keys(text)
        except (ValueError, asyncssh.KeyImportError):
            raise InputError(f"{where}: line {number} is not a valid public key") from None
        good.append(text)
    return good


def load_accounts(users: list[ServerUser]) -> dict[str, Account]:
    accounts = {}
    for user in users:
        lines = _parse_keys(user.public_keys, f"server.users {user.name}: public_keys")
        if user.authorized_keys:
            path = Path(os.path.expanduser(user.authorized_keys))
            _check_file(path, f"authorized_keys of {user.name}", private=False)
            try:
                text = path.read_text()
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(f"authorized_keys of {user.name} {path}: cannot be read: {exc}") from None
            lines += _parse_keys(text.splitlines(), f"authorized_keys of {user.name} {path}")
        if not lines:
            raise InputError(f"server.users {user.name}: no public key given")
        accounts[user.name] = Account(user.role, asyncssh.import_authorized_keys("\n".join(lines)))
    return accounts


def check_files(config: LoadedConfig) -> None:
    """Everything ``start`` will trust, checked (and the host key made) before an incident is opened."""
    load_accounts(config.model.server.users)
    load_host_key(host_key_path(config))


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

    def child_env(self, actor: Actor, term: str, client_env: dict[str, str]) -> dict[str, str]:
        """A clean environment: nothing of the server's own (its secrets) reaches a session."""
        env = self._base_env()
        env["TERM"] = term or "xterm-256color"
        colorterm = client_env.get("COLORTERM", "")
        if colorterm in DEEP_COLOUR or any(word in env["TERM"] for word in DEEP_COLOUR):
            env["COLORTERM"] = "truecolor"
        if "NO_COLOR" in client_env:
            env["NO_COLOR"] = client_env["NO_COLOR"]
        env["WARROOM_ATTACH_TOKEN"] = self.attach.issue_token(actor)
        return env


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
    """One SSH session: a pty and a shell request start the console; anything else is refused."""

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
        try:
            self.child = PtyChild(self._output, self._size, self._chan.pause_reading, self._chan.resume_reading)
        except OSError as exc:  # out of ptys or file descriptors: this session only
            log.warning("cannot open a terminal for %s: %s", self.actor.name, exc)
            self._chan.write(f"warroom: cannot open a terminal: {exc.strerror or exc}\r\n".encode())
            self._chan.exit(1)
            return
        limits.take(self.actor.name, self.actor.role)
        self._counted = True
        self._server.sessions.add(self)
        self._task = asyncio.get_running_loop().create_task(self._run())
        self._task.add_done_callback(self._finished)

    def _output(self, data: bytes) -> None:
        if self._chan is not None and not self._chan.is_closing():
            self._chan.write(data)

    def _finished(self, task: asyncio.Task[None]) -> None:
        if self.child is not None:
            self.child.close()  # the pty, even when the task was cancelled before it ran
        self._server.sessions.discard(self)
        if self._counted:
            self._counted = False
            self._server.limits.give_back(self.actor.name, self.actor.role)

    async def _run(self) -> None:
        assert self._chan is not None and self.child is not None
        child = self.child
        try:
            code = await self._console(child)
        except asyncio.CancelledError:
            await child.stop()
            self._close(1, "the war room server ended this session")  # if the client is still there
            raise
        await child.stop()
        self._close(code, f"the console was killed ({_signal_name(-code)})" if code < 0 else None)

    async def _console(self, child: PtyChild) -> int:
        assert self._chan is not None
        try:
            env = self._server.child_env(self.actor, self._term or "", dict(self._chan.get_environment()))
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
        if note:
            chan.write(RESET_TERMINAL + f"warroom: {note}\r\n".encode())
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

    def data_received(self, data: bytes, datatype: int | None) -> None:
        if self.child is not None:
            self.child.write(data)

    def eof_received(self) -> bool:
        return True  # the keyboard is closed; the console keeps showing until the channel closes

    def terminal_size_changed(self, width: int, height: int, pixwidth: int, pixheight: int) -> None:
        if self.child is not None:
            self.child.resize(*clamp_size(width, height, pixwidth, pixheight))

    def pause_writing(self) -> None:
        if self.child is not None:
            self.child.pause_output()

    def resume_writing(self) -> None:
        if self.child is not None:
            self.child.resume_output()

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
