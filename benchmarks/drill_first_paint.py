"""`warroom drill` and `warroom run`: process start to first paint, side by side with a bare Textual app.

Each command runs on a pseudo-terminal (as in a real terminal emulator); a clock stops when a
marker text has been written to the terminal. The bare app is the floor any Textual program pays
here (interpreter start, imports, first frame). For warroom two clocks: the first frame (the
preparing screen, "preparing the ...") and the open-incident dialog ("Open incident": the step
kinds loaded, the drill's sandbox built and its servers up, the preflight gate passed). `run`
opens a one-step runbook against one real sshd on loopback (tests/sshd.py).
Target: first paint within 2x the bare app in the same run.

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
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from conftest import ssh_step, write_config, write_runbook  # noqa: E402
from sshd import SSHLab  # noqa: E402

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


def first_paint(argv: list[str], *markers: str, timeout: float = 20.0) -> list[float]:
    """Seconds from fork to each marker appearing on the terminal, in order; the child is then
    quit with escape (the drill removes its sandbox)."""
    started = time.perf_counter()
    times: list[float] = []
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
            while len(times) < len(markers) and markers[len(times)] in re.sub(r"\s+", " ", plain):
                times.append(time.perf_counter() - started)
            if len(times) == len(markers):
                return times
        raise RuntimeError(f"{markers[len(times)]!r} never appeared for {argv}")
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


def _row(name: str, times: list[float], bare: float | None = None) -> str:
    median = statistics.median(times)
    ratio = f"   {median / bare:.2f} x bare" if bare else ""
    return f"{name:<36} {median:.3f} s  ({min(times):.3f}-{max(times):.3f}){ratio}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    bare: list[float] = []
    drill: list[list[float]] = []
    run: list[list[float]] = []
    with tempfile.TemporaryDirectory(prefix="warroom-paint-") as tmp, SSHLab(Path(tmp) / "lab") as lab:
        lab.start("app1")
        config = write_config(Path(tmp) / "config.toml", lab, ["app1"])
        runbook = write_runbook(Path(tmp) / "rb.toml", ssh_step("hello", "true"))
        run_argv = [WARROOM, "run", "-c", str(config), "--runbook", str(runbook), "--state-dir", f"{tmp}/state"]
        for _ in range(args.runs):
            bare.extend(first_paint([sys.executable, "-c", BARE], "bare textual ready"))
            drill.append(first_paint([WARROOM, "drill"], "preparing the sandbox", "Open incident"))
            run.append(first_paint(run_argv, "preparing the incident", "Open incident"))
    b = statistics.median(bare)
    print(f"runs {args.runs}, median (min-max); target: first paint <= 2x bare")
    print(_row("bare Textual app", bare))
    print(_row("warroom drill: first paint", [t[0] for t in drill], b))
    print(_row("warroom drill: open-incident dialog", [t[1] for t in drill], b))
    print(_row("warroom run: first paint", [t[0] for t in run], b))
    print(_row("warroom run: open-incident dialog", [t[1] for t in run], b))


if __name__ == "__main__":
    main()
