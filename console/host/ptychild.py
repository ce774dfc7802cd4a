"""A child process on a pseudo-terminal of its own, as sshd gives a login session.

The child leads a new session whose controlling terminal is the pty: without that (TIOCSCTTY) it
never receives SIGWINCH when the window size changes, nor SIGHUP on hang-up. It is stopped by
signalling its process group, never by pid alone, so nothing it started outlives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import struct
import termios
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

STOP_GRACE = 1.0  # seconds between SIGHUP/SIGTERM and SIGKILL
DRAIN_GRACE = 0.5  # after the child exits, how long its last output may take to arrive
READ_SIZE = 65536
INPUT_HIGH_WATER = 64 * 1024  # keyboard bytes held for a child that does not read: past it, stop taking more
INPUT_LOW_WATER = 16 * 1024
MAX_SIZE = 65535  # TIOCSWINSZ holds unsigned shorts


def _become_controlled() -> None:
    """Runs in the child after setsid(): the pty on fd 0 becomes its controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Process(Protocol):
    """What :class:`PtyChild` needs of a started child (``asyncio.subprocess.Process`` is one)."""

    pid: int

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int: ...


Spawn = Callable[[int], Awaitable[Process]]


async def exec_on(terminal: int, argv: Sequence[str], env: Mapping[str, str]) -> Process:
    """Start ``argv`` as the leader of a new session whose controlling terminal is ``terminal``."""
    return await asyncio.create_subprocess_exec(
        *argv,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=dict(env),
        start_new_session=True,
        preexec_fn=_become_controlled,
    )


def set_window_size(fd: int, cols: int, rows: int, xpixels: int = 0, ypixels: int = 0) -> None:
    """Sizes past what the kernel holds are cut, never an error (a client chooses them)."""
    rows, cols, xpixels, ypixels = (max(0, min(value, MAX_SIZE)) for value in (rows, cols, xpixels, ypixels))
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, xpixels, ypixels))


class PtyChild:
    """Spawns ``argv`` on a new pty and relays bytes: ``write`` feeds its keyboard, ``on_output``
    receives its screen. Input written before the child starts waits in the pty; past
    ``INPUT_HIGH_WATER`` waiting bytes ``pause_input`` is called (the caller stops reading its
    client, whose flow control then holds the rest), ``resume_input`` once the child caught up."""

    def __init__(
        self,
        on_output: Callable[[bytes], None],
        size: tuple[int, int, int, int],
        pause_input: Callable[[], None] = lambda: None,
        resume_input: Callable[[], None] = lambda: None,
    ) -> None:
        self._on_output = on_output
        self._pause_input, self._resume_input = pause_input, resume_input
        self._input_paused = False
        self.master, self._slave = os.openpty()
        try:
            os.set_blocking(self.master, False)
            set_window_size(self.master, *size)
        except BaseException:
            os.close(self.master)
            os.close(self._slave)
            raise
        self.proc: Process | None = None
        self._loop = asyncio.get_running_loop()
        self._pending = bytearray()
        self._reading = False
        self._paused = False
        self._eof = asyncio.Event()
        self._closed = False

    async def start(self, spawn: Spawn) -> None:
        """``spawn`` starts the child on the terminal side it is given (see :func:`exec_on`)."""
        try:
            self.proc = await spawn(self._slave)
        finally:
            os.close(self._slave)  # from now on only the child holds the terminal side
            self._slave = -1
        self._watch_reads()

    # ----- keyboard and window ------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self._closed:
            return
        self._pending += data
        self._flush()

    def _flush(self) -> None:
        while self._pending:
            try:
                sent = os.write(self.master, self._pending)
            except BlockingIOError:
                break
            except OSError:  # the child is gone: its input no longer matters
                self._pending.clear()
                break
            del self._pending[:sent]
        if self._pending:
            self._loop.add_writer(self.master, self._flush)
        else:
            self._loop.remove_writer(self.master)
        if not self._input_paused and len(self._pending) > INPUT_HIGH_WATER:
            self._input_paused = True
            self._pause_input()
        elif self._input_paused and len(self._pending) <= INPUT_LOW_WATER:
            self._input_paused = False
            self._resume_input()

    def resize(self, cols: int, rows: int, xpixels: int = 0, ypixels: int = 0) -> None:
        """The kernel then sends SIGWINCH to the pty's foreground process group."""
        if not self._closed and cols > 0 and rows > 0:
            with contextlib.suppress(OSError):  # the child is gone: its size no longer matters
                set_window_size(self.master, cols, rows, xpixels, ypixels)

    # ----- screen ---------------------------------------------------------------------------------
    def pause_output(self) -> None:
        """The client is not reading: stop reading too, so the child blocks instead of us buffering."""
        self._paused = True
        self._unwatch_reads()

    def resume_output(self) -> None:
        self._paused = False
        self._watch_reads()

    def _watch_reads(self) -> None:
        if not self._reading and not self._paused and not self._closed and not self._eof.is_set():
            self._loop.add_reader(self.master, self._readable)
            self._reading = True

    def _unwatch_reads(self) -> None:
        if self._reading:
            self._loop.remove_reader(self.master)
            self._reading = False

    def _readable(self) -> None:
        try:
            data = os.read(self.master, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:  # EIO: every holder of the terminal side has closed it
            data = b""
        if data:
            self._on_output(data)
            return
        self._unwatch_reads()
        self._eof.set()

    # ----- life and death -------------------------------------------------------------------------
    async def wait(self) -> int:
        """The child's exit status (negative: killed by that signal), once its output is relayed."""
        assert self.proc is not None
        code = await self.proc.wait()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._eof.wait(), DRAIN_GRACE)
        return code

    async def stop(self) -> None:
        """Hang up on the child's process group, TERM it, KILL it after a grace; reap; close the pty."""
        proc = self.proc
        if proc is not None:
            if proc.returncode is None:
                _signal_group(proc.pid, signal.SIGHUP)
                _signal_group(proc.pid, signal.SIGTERM)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(proc.wait()), STOP_GRACE)
            _signal_group(proc.pid, signal.SIGKILL)  # whatever it started, even if it exited by itself
            await proc.wait()
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._unwatch_reads()
        self._loop.remove_writer(self.master)
        os.close(self.master)
        if self._slave >= 0:
            os.close(self._slave)
            self._slave = -1


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


__all__ = ["Process", "PtyChild", "Spawn", "exec_on", "set_window_size"]
