"""A ``warroom watch`` on a pseudo-terminal whose screen output is read continuously (a thread, so
a busy event loop in the test never delays the clock), and an event-loop stall meter."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import threading
import time

ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][A-Z0-9]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[=>78]")
WINDOW = 16384


class PtyWatcher:
    """A process on a 160x48 pty; :meth:`expect` then :meth:`seen` time when a text reaches it."""

    def __init__(self, argv: list[str]) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 48, 160, 0, 0))
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        env["TERM"] = "xterm-256color"
        self.started = time.perf_counter()
        self.process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        self._lock = threading.Lock()
        self._raw = b""
        self._marker: bytes | None = None
        self._seen_at: float | None = None
        self._running = True
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while self._running:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            now = time.perf_counter()
            with self._lock:
                seen = self._raw + chunk
                self._raw = seen[-WINDOW:]
                if self._marker is not None and self._seen_at is None and self._marker in ESCAPES.sub(b"", seen):
                    self._seen_at = now

    def expect(self, marker: str) -> None:
        with self._lock:
            self._raw, self._marker, self._seen_at = b"", marker.encode(), None

    def seen(self) -> float | None:
        with self._lock:
            return self._seen_at

    def tail(self) -> str:
        with self._lock:
            return ESCAPES.sub(b"", self._raw).decode("utf-8", "replace")[-800:]

    def close(self) -> None:
        self._running = False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._thread.join(timeout=5)
        os.close(self.master)


class StallMeter:
    """The longest time the event loop did not run a 10 ms sleeper (no screen can be faster)."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, time.perf_counter() - before - 0.01)

    async def stop(self) -> float:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        return self.worst
