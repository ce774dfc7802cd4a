"""A fork server for SSH session consoles: one process imports the console once, then forks a child
per session, so a session starts without paying the interpreter's start and imports again (about
half of the first paint) and its children share those pages copy-on-write (about half the memory).

The server talks to it over a ``SOCK_SEQPACKET`` socket pair; each request carries the session's
terminal (the pty's slave side, passed as a file descriptor), its environment and the ``warroom``
arguments to run::

    -> {"id": 3, "args": ["attach", "--socket", "...", "--via", "ssh"], "env": {...}}  + fd
    <- {"id": 3, "pid": 4711}
    <- {"exit": 4711, "status": 0}        (negative: killed by that signal)

The fork server reaps its children and reports their exits; the SSH server still signals each
child's process group itself. The fork server keeps no threads (a fork copies only the calling
thread) and starts with a clean environment, so no secret of the SSH server is in its memory.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import fcntl
import gc
import json
import logging
import os
import selectors
import signal
import socket
import sys
import termios
from collections.abc import Callable, Mapping, Sequence
from typing import Any

log = logging.getLogger("warroom.forks")

PRELOAD = ("console.host.remote",)
MESSAGE_LIMIT = 256 * 1024
READY_TIMEOUT = 30.0
FORK_TIMEOUT = 10.0


class ForkServerGone(OSError):
    """The fork server is not (or no longer) there: the caller starts the child the plain way."""


# ----- in the SSH server ---------------------------------------------------------------------------------
class ForkedProcess:
    """A child of the fork server, seen from the SSH server (as ``asyncio.subprocess.Process``)."""

    def __init__(self, pid: int, exited: asyncio.Future[int]) -> None:
        self.pid = pid
        self._exited = exited

    @property
    def returncode(self) -> int | None:
        return self._exited.result() if self._exited.done() else None

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)


class ForkServer:
    """Starts the fork server process and asks it for children."""

    def __init__(self) -> None:
        self._process: asyncio.subprocess.Process | None = None
        self._sock: socket.socket | None = None
        self._ready: asyncio.Future[None] | None = None
        self._ids = 0
        self._spawns: dict[int, asyncio.Future[int]] = {}
        self._exits: dict[int, asyncio.Future[int]] = {}
        self._early: dict[int, int] = {}

    async def start(self, env: Mapping[str, str], entry: str, preload: Sequence[str] = ()) -> None:
        """Start it; it is ready when its imports are done (``spawn`` waits for that).

        ``entry`` names the module whose ``main(argv)`` each child runs and ``preload`` the modules
        to import with it before the first fork (both handed down by the CLI entry: the host never
        imports the layer above it, nor reads its attributes)."""
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "console.host.ptyzygote",
                str(theirs.fileno()),
                entry,
                *preload,
                pass_fds=[theirs.fileno()],
                env=dict(env),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                start_new_session=True,  # a ^C meant for the SSH server is not for it
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        self._sock = ours
        self._ready = loop.create_future()
        loop.add_reader(ours.fileno(), self._readable)

    async def spawn(self, terminal: int, args: Sequence[str], env: Mapping[str, str]) -> ForkedProcess:
        if self._sock is None or self._ready is None:
            raise ForkServerGone("the fork server is not running")
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), READY_TIMEOUT)
        except TimeoutError:
            raise ForkServerGone("the fork server did not get ready") from None
        self._ids += 1
        ident = self._ids
        future = asyncio.get_running_loop().create_future()
        self._spawns[ident] = future
        message = json.dumps({"id": ident, "args": list(args), "env": dict(env)}).encode()
        try:
            self._sock.sendmsg([message], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [terminal]))])
            pid = await asyncio.wait_for(future, FORK_TIMEOUT)
        except TimeoutError:
            raise ForkServerGone("the fork server did not answer") from None
        except OSError as exc:
            raise ForkServerGone(f"the fork server cannot be reached: {exc}") from None
        finally:
            self._spawns.pop(ident, None)
        exited = self._exits.setdefault(pid, asyncio.get_running_loop().create_future())
        if pid in self._early:
            exited.set_result(self._early.pop(pid))
        return ForkedProcess(pid, exited)

    def _readable(self) -> None:
        assert self._sock is not None
        while True:
            try:
                data = self._sock.recv(MESSAGE_LIMIT)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._gone()
                return
            self._dispatch(json.loads(data))

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "ready" in message and self._ready is not None and not self._ready.done():
            self._ready.set_result(None)
        elif "pid" in message or "error" in message:
            future = self._spawns.get(message["id"])
            if future is not None and not future.done():
                if "pid" in message:
                    future.set_result(message["pid"])
                else:
                    future.set_exception(ForkServerGone(f"the fork server cannot fork: {message['error']}"))
        elif "exit" in message:
            future = self._exits.pop(message["exit"], None)
            if future is None:
                self._early[message["exit"]] = message["status"]  # exited before its spawn was answered
            elif not future.done():
                future.set_result(message["status"])

    def _gone(self, *, closing: bool = False) -> None:
        """Its children are orphans now: nobody will report their exits, so they are killed."""
        if not closing:
            log.warning("the fork server exited; %d session(s) ended; new ones start the plain way", len(self._exits))
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(ForkServerGone("the fork server exited"))
            self._ready.exception()  # retrieved: nobody may be waiting
        for future in self._spawns.values():
            if not future.done():
                future.set_exception(ForkServerGone("the fork server exited"))
        for pid, future in self._exits.items():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            if not future.done():
                future.set_result(-signal.SIGKILL)
        self._exits.clear()

    @property
    def running(self) -> bool:
        return self._sock is not None

    async def close(self) -> None:
        """Closing its socket tells it to exit (the caller has ended the sessions; any left are killed)."""
        if self._sock is not None:
            self._gone(closing=True)
        if self._process is not None:
            try:
                await asyncio.wait_for(self._process.wait(), 5)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()


# ----- in the fork server ---------------------------------------------------------------------------------
def _receive(control: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    fds = array.array("i")
    data, ancillary, _, _ = control.recvmsg(MESSAGE_LIMIT, socket.CMSG_SPACE(4 * fds.itemsize))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    return (json.loads(data) if data else None), list(fds)


def _send(control: socket.socket, message: dict[str, Any]) -> None:
    control.send(json.dumps(message).encode())


def _run_child(
    main: Callable[[list[str]], int], terminal: int, args: list[str], env: dict[str, str], forget: Callable[[], None]
) -> None:
    """In the forked child: a new session on ``terminal``, then the console; never returns.
    ``forget`` closes what the child inherited of the fork server (its socket, selector, pipe)."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        forget()
        os.setsid()
        fcntl.ioctl(terminal, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(terminal, fd)
        if terminal > 2:
            os.close(terminal)
        for sig in (signal.SIGCHLD, signal.SIGHUP, signal.SIGTERM):  # SIGPIPE stays ignored, as in any Python
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.environ.clear()
        os.environ.update(env)
        _name_process(b"warroom-session")
        sys.argv = ["warroom", *args]
        code = main(args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - a forked child must never return into the fork server's loop
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _name_process(name: bytes) -> None:
    """What ``ps`` and ``top`` show for the child (its command line stays the fork server's)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None).prctl(15, name, 0, 0, 0)  # PR_SET_NAME


def _reap(control: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send(control, {"exit": pid, "status": os.waitstatus_to_exitcode(status)})


def serve(control: socket.socket, entry: str, preload: Sequence[str] = ()) -> None:
    import importlib

    module = importlib.import_module(entry)
    for name in (*PRELOAD, *preload):
        importlib.import_module(name)
    gc.collect()
    gc.freeze()  # the collector leaves these objects (and their pages) alone in every child
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    _send(control, {"ready": True})
    while True:
        for key, _ in selector.select():
            if key.fileobj == wake_r:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 4096)
                _reap(control)
                continue
            try:
                message, fds = _receive(control)
            except OSError:
                message, fds = None, []
            if message is None:
                return  # the SSH server closed its end
            if len(fds) != 1:
                for fd in fds:
                    os.close(fd)
                _send(control, {"id": message.get("id"), "error": "expected one terminal"})
                continue
            try:
                pid = os.fork()
            except OSError as exc:
                os.close(fds[0])
                _send(control, {"id": message.get("id"), "error": str(exc)})
                continue
            if pid == 0:

                def forget() -> None:
                    selector.close()
                    control.close()
                    os.close(wake_r)
                    os.close(wake_w)

                _run_child(module.main, fds[0], message["args"], message["env"], forget)
            os.close(fds[0])
            _send(control, {"id": message["id"], "pid": pid})


if __name__ == "__main__":
    with contextlib.suppress(ConnectionError):  # the SSH server went away: so do we
        serve(socket.socket(fileno=int(sys.argv[1])), sys.argv[2], sys.argv[3:])
