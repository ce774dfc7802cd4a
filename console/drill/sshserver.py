"""The embedded SSH server that stands in for the app host ``app1`` in the drill.

It speaks the real SSH protocol (asyncssh) on 127.0.0.1, with the sandbox's own host key (pinned
in the sandbox's known_hosts) and one authorised client key: public-key authentication only, no
passwords, no keyboard-interactive, no port, agent or X11 forwarding, no shells, no subsystems
(so no SFTP) and no pty. What it does offer is what warroom's ``ssh`` action uses, ``exec``:

- the command runs as ``bash -c COMMAND`` (the usual login shell of a deploy user; ``/bin/sh``
  only where there is no bash) in a new session, so it leads its own process group exactly as
  under sshd and warroom's ``kill -TERM -- -PGID`` over a second channel stops it and everything
  it started. (Debian's ``/bin/sh``, dash, rejects that ``--``: under it the kill would silently
  do nothing.) It runs in the sandbox home, with the sandbox's ``bin/`` first on PATH and a
  clean environment, as sshd would give;
- stdin, stdout and stderr are copied both ways and the exit status (or signal) goes back;
- if the channel closes while the command still runs, its process group is killed.

``--fail STEP`` is carried out here: :class:`Failure` recognises the script of the planned step
by its command lines and runs it with those lines replaced by a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from console.drill.sandbox import USER, Sandbox
from console.host.sshauth import PublicKeyOnlyServer

log = logging.getLogger("warroom.drill.ssh")
KILL_GRACE = 2.0
DRAIN_GRACE = 2.0
LOGIN_SHELL = shutil.which("bash", path=os.defpath) or "/bin/sh"


@dataclass(frozen=True)
class Failure:
    """A rehearsed failure: the step whose commands, when received, fail instead of running."""

    step: str
    commands: tuple[str, ...]

    @property
    def message(self) -> str:
        return f"drill: rehearsed failure of {self.step}"

    def inject(self, script: str) -> str | None:
        """The script with the step's command lines replaced by a failure, or None if not this step."""
        lines = script.split("\n")
        n = len(self.commands)
        for i in range(len(lines) - n + 1):
            if n and tuple(lines[i : i + n]) == self.commands:
                failing = [f"echo {shlex.quote(self.message)} >&2", "exit 1"]
                return "\n".join([*lines[:i], *failing, *lines[i + n :]])
        return None


class _ExecOnlySession(asyncssh.SSHServerProcess):
    """A session that accepts ``exec`` requests only."""

    def shell_requested(self) -> bool:
        return False

    def subsystem_requested(self, subsystem: str) -> bool:
        return False


class _Server(PublicKeyOnlyServer):
    def __init__(self, host: DrillHost) -> None:
        self._host = host
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._host.connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._host.connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        if username == USER and self._conn is not None:
            self._conn.set_authorized_keys(str(self._host.sandbox.authorized_keys))
        return True  # authentication is always required; unknown users simply have no keys

    def session_requested(self) -> asyncssh.SSHServerSession:
        return _ExecOnlySession(self._host.run_command, None, 0, False)

    def connection_requested(self, dest_host: str, dest_port: int, orig_host: str, orig_port: int) -> bool:
        """Only a tunnel to the sandbox app's own ports on loopback (an http step ``via_ssh``)."""
        if dest_host in ("127.0.0.1", "localhost") and dest_port in self._host.forwardable:
            return True
        raise asyncssh.ChannelOpenError(asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, "forwarding not permitted")

    def server_requested(self, listen_host: str, listen_port: int) -> bool:
        return False

    def unix_connection_requested(self, dest_path: str):
        """Only the host's Docker socket, served by the sandbox's stand-in engine."""
        socket = self._host.docker_socket
        if dest_path == "/var/run/docker.sock" and socket is not None and self._conn is not None:
            return self._conn.forward_unix_connection(str(socket))
        raise asyncssh.ChannelOpenError(asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, "forwarding not permitted")

    def unix_server_requested(self, listen_path: str) -> bool:
        return False


class DrillHost:
    """The SSH server of one sandbox; ``failure`` may be set once the plan is known.

    ``kill_on_close=False`` leaves a command running when its channel closes, as sshd does
    without a pty (tests use it to prove warroom's own cancellation stops remote processes).
    """

    def __init__(self, sandbox: Sandbox, failure: Failure | None = None, *, kill_on_close: bool = True) -> None:
        self.sandbox = sandbox
        self.failure = failure
        self.kill_on_close = kill_on_close
        self.port = 0
        self.connections: set[asyncssh.SSHServerConnection] = set()
        self.commands: list[str] = []
        self.forwardable: set[int] = set()
        self.docker_socket: Path | None = None
        """The stand-in Docker engine's socket, which the host's /var/run/docker.sock leads to."""
        """Loopback ports a client may tunnel to: the sandbox's health endpoint, once it runs."""
        self._groups: set[int] = set()
        self._handlers: set[asyncio.Task] = set()
        self._acceptor: asyncssh.SSHAcceptor | None = None

    async def start(self, port: int = 0) -> int:
        self._acceptor = await asyncssh.create_server(
            lambda: _Server(self),
            "127.0.0.1",
            port,
            server_host_keys=[str(self.sandbox.host_key)],
            encoding=None,
            line_editor=False,
            allow_pty=False,
            agent_forwarding=False,
            x11_forwarding=False,
            gss_host=None,
            keepalive_interval=15,
            keepalive_count_max=3,
        )
        self.port = self._acceptor.get_port()
        self.sandbox.pin_host_key(self.port)
        return self.port

    async def close(self) -> None:
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()
            self._acceptor = None
        for conn in list(self.connections):
            conn.close()
        for pgid in list(self._groups):
            _signal_group(pgid, signal.SIGKILL)
        # Wait for the handlers to reap what they started: a command left to a closed event loop
        # would leave its subprocess transport open, to be collected (and complain) later.
        handlers = self._handlers - {asyncio.current_task()}
        if handlers:
            await asyncio.wait(handlers, timeout=KILL_GRACE + DRAIN_GRACE)

    def environment(self) -> dict[str, str]:
        """A login environment, as sshd gives: nothing of warroom's own (no secrets) leaks in."""
        normal = os.environ.get("PATH") or os.defpath
        return {
            "PATH": f"{self.sandbox.bin}{os.pathsep}{normal}",
            "HOME": str(self.sandbox.home),
            "USER": USER,
            "LOGNAME": USER,
            "SHELL": LOGIN_SHELL,
            "LANG": "C.UTF-8",
            "GIT_CONFIG_NOSYSTEM": "1",
        }

    async def run_command(self, process: asyncssh.SSHServerProcess) -> None:
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
            handler.add_done_callback(self._handlers.discard)
        command = process.command or ""
        self.commands.append(command)
        if self.failure is not None:
            injected = self.failure.inject(command)
            if injected is not None:
                log.info("injecting the rehearsed failure of %s", self.failure.step)
                command = injected
        try:
            proc = await asyncio.create_subprocess_exec(
                LOGIN_SHELL,
                "-c",
                command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=self.sandbox.home,
                env=self.environment(),
                start_new_session=True,
            )
        except OSError as exc:
            process.stderr.write(f"drill: cannot start {LOGIN_SHELL}: {exc}\n".encode())
            process.exit(127)
            return
        self._groups.add(proc.pid)
        feed = asyncio.create_task(_feed(process.stdin, proc.stdin))
        copies = [
            asyncio.create_task(_copy(proc.stdout, process.stdout)),
            asyncio.create_task(_copy(proc.stderr, process.stderr)),
        ]
        exited = asyncio.create_task(proc.wait())
        closed = asyncio.create_task(process.wait_closed())
        try:
            await asyncio.wait({exited, closed}, return_when=asyncio.FIRST_COMPLETED)
            if not exited.done() and self.kill_on_close:  # the client went away: stop what it started
                await _stop_group(proc, exited)
            elif not exited.done():
                await exited
            # Read the output to its end even when nobody listens any more: only then are the
            # command's pipes closed and its subprocess transport with them.
            await asyncio.wait(copies, timeout=DRAIN_GRACE)
        finally:
            self._groups.discard(proc.pid)
            tasks = (feed, *copies, closed, exited)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if process.is_closing():
            return
        code = proc.returncode
        if code is not None and code < 0:
            process.exit_with_signal(signal.Signals(-code).name.removeprefix("SIG"))
        else:
            process.exit(code if code is not None else 255)


async def _feed(source: asyncssh.SSHReader, sink: asyncio.StreamWriter | None) -> None:
    """Channel stdin into the command's stdin, closing it at the client's EOF."""
    if sink is None:
        return
    try:
        while chunk := await source.read(65536):
            sink.write(chunk)
            await sink.drain()
    except (BrokenPipeError, ConnectionResetError, asyncssh.Error):
        return  # the command exited or the client went away: nothing left to feed
    finally:
        sink.close()


async def _copy(source: asyncio.StreamReader | None, sink: asyncssh.SSHWriter) -> None:
    """Command output into the channel; once the channel is gone, read on to the end and drop it
    (a pipe left unread is never closed, and neither is the command's subprocess transport)."""
    if source is None:
        return
    listening = True
    while chunk := await source.read(65536):
        if not listening:
            continue
        try:
            sink.write(chunk)
            await sink.drain()
        except (BrokenPipeError, ConnectionResetError, asyncssh.Error):
            listening = False


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _stop_group(proc: asyncio.subprocess.Process, exited: asyncio.Task[int]) -> None:
    """TERM the command's process group, KILL it after a grace, and reap the shell."""
    _signal_group(proc.pid, signal.SIGTERM)
    done, _ = await asyncio.wait({exited}, timeout=KILL_GRACE)
    _signal_group(proc.pid, signal.SIGKILL)
    if not done:
        await exited


__all__ = ["DrillHost", "Failure"]
