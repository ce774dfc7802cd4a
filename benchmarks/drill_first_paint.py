"""`warroom drill`: process start to first paint, side by side with a bare Textual app.

Each command runs on a pseudo-terminal (as in a real terminal emulator); the clock stops when the
first screen's marker text has been written to the terminal. The bare app is the floor any Textual
program pays here (interpreter start, imports, first frame). Target for the drill: under 0.8 s.

    .venv/bin/python benchmarks/drill_first_paint.py [--runs 5]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pty
import re
import select
import signal
import statistics
import sys
import time
from pathlib import Path

WARROOM = str(Path(sys.executable).with_name("warroom"))
BARE = (
    "from textual.app import App\n"
    "from textual.widgets import Static\n"
    "class Bare(App):\n"
    "    BINDINGS = [('escape', 'quit')]\n"  # quits as the drill does, rather than waiting to be killed
    "    def compose(self):\n"
    "        yield Static('bare textual ready')\n"
    "Bare().run()\n"
)
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b\][^\x07]*\x07")


def first_paint(argv: list[str], marker: str, timeout: float = 20.0) -> float:
    """Seconds from fork to the marker appearing on the terminal; the child is then killed."""
    started = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.pop("COLUMNS", None)
        os.environ.pop("LINES", None)
        os.environ["TERM"] = "xterm-256color"
        os.execvp(argv[0], argv)
    seen = b""
    try:
        while time.perf_counter() - started < timeout:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            seen += chunk
            plain = ANSI.sub(b"", seen).replace(b"\r", b"").decode("utf-8", "replace")
            if marker in re.sub(r"\s+", " ", plain):
                return time.perf_counter() - started
        raise RuntimeError(f"{marker!r} never appeared for {argv}")
    finally:
        _stop(pid, fd)


def _stop(pid: int, fd: int) -> None:
    """Quit as a user would (escape on the first screen) so the drill removes its sandbox."""
    os.write(fd, b"\x1b")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if select.select([fd], [], [], 0.05)[0]:
            with contextlib.suppress(OSError):
                os.read(fd, 65536)
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    os.close(fd)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    bare, drill = [], []
    for _ in range(args.runs):
        bare.append(first_paint([sys.executable, "-c", BARE], "bare textual ready"))
        drill.append(first_paint([WARROOM, "drill"], "Open incident"))
    b, d = statistics.median(bare), statistics.median(drill)
    print(f"runs {args.runs}, median (min-max)")
    print(f"bare Textual app   {b:.3f} s  ({min(bare):.3f}-{max(bare):.3f})")
    print(f"warroom drill      {d:.3f} s  ({min(drill):.3f}-{max(drill):.3f})   target < 0.8 s")
    print(f"ratio drill / bare {d / b:.2f} x")


if __name__ == "__main__":
    main()
