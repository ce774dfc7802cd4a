"""Streaming a flood of remote output through the war-room console, side by side with OpenSSH.

A remote ``seq 1 N`` (N = 1,000,000 by default) runs on real sshd instances on loopback
(tests/sshd.py). Measured:

1. **baseline** - the plain OpenSSH client, ``ssh ... 'seq 1 N' > /dev/null`` (one client per
   host, concurrently), wall time, median of ``--runs``;
2. **console** - a :class:`WarroomApp` under ``app.run_test(size=(160, 48))`` with a one-step
   runbook whose command is ``seq 1 N``; wall time from posting the "n" (run next) key until the
   engine has journaled ``step.finished`` *and* the log pane shows the last line (``N``) with
   nothing pending *and* a composited frame has painted it as the pane's last row (the frames
   are applied to a grid of cells, ``tests/painted_support.py``: a frame that leaves the pane's
   rows stale is caught). Median of ``--runs``; also from ``step.finished`` to that frame;
3. **key latency** during (2) - every ~100 ms a non-acting key that changes the screen: ``h``
   (next host) on a 2-host step, else ``?`` (help) and ``escape`` alternately. Latency is from
   posting the key event until the first frame composited *after* the key's effect is visible
   (the pane's host index moved / the help modal is, or is no longer, the top screen);
4. **memory** - VmRSS of this process before the first app is opened vs the peak sampled every
   100 ms (by a thread, so a busy event loop does not skip samples) during the streams.

How keys are posted and frames detected (why not ``pilot.press``): in Textual 8,
``Pilot.press`` posts the key and then calls ``wait_for_idle(0)`` twice, which sleeps in 20 ms
steps until the *process* uses < 1 ms of CPU per 20 ms or 1 s has passed; while a flood streams
the process is never idle, so ``press`` would measure that 1 s cap, not the UI. ``pilot.pause``
likewise ends with ``wait_for_idle``. Here keys go through ``driver.send_message`` - the path a
real terminal driver's input thread uses - and frames are observed by wrapping ``app._display``,
which every screen update calls with the composited ``CompositorUpdate``. The headless driver
does all layout and compositing but skips encoding the update into terminal escape sequences;
the wrapper does that encoding (``render_segments``) too, so a frame costs what it would on a
terminal (``--no-encode`` to skip it). Only the write to a tty is left out.

Also printed, to explain a miss: the same keys pressed again once the stream is over (what the
action itself costs), how long the event loop went without running a 5 ms sleeper during the
stream (no key can be handled faster than the longest such stall), and the cyclic garbage
collector's pauses (a full collection stops the loop for as long as it takes).

    .venv/bin/python benchmarks/stream_console.py [--lines 1000000] [--runs 3] [--hosts 1|2]
        [--key auto|h|help|none] [--no-encode] [--profile cprofile|pyinstrument]

``--key none`` measures the wall time without key presses; ``--profile`` adds one profiled
console run (``pyinstrument`` must be installed separately: it is not a project dependency).

Targets: console wall / ssh wall <= 1.5x, p95 key latency < 50 ms, RSS growth < 100 MB.
Needs /usr/sbin/sshd and ssh (./scripts/test installs them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from conftest import ssh_step, write_config, write_runbook  # noqa: E402
from painted_support import PaintedScreen  # noqa: E402
from rich.console import Console  # noqa: E402
from sshd import SSHLab  # noqa: E402
from textual import events  # noqa: E402
from textual._compositor import CompositorUpdate  # noqa: E402

from actions.registry import KINDS  # noqa: E402
from console.engine import Actor, Engine  # noqa: E402
from console.host.session import LocalSession  # noqa: E402
from console.model.config import load_config  # noqa: E402
from console.model.events import STEP_FINISHED  # noqa: E402
from console.model.plan import build_plan  # noqa: E402
from console.model.runbook import load_runbook  # noqa: E402
from screens.app import WarroomApp  # noqa: E402
from screens.modals.help import HelpModal  # noqa: E402
from screens.panes.logs import LogPane  # noqa: E402
from screens.war_room import WarRoomScreen  # noqa: E402

DRIVER = Actor("alice", "driver")
SIZE = (160, 48)
PROBE_EVERY = 0.1
SAMPLE_EVERY = 0.1
FRAME_TIMEOUT = 30.0
IDLE_PROBES = 6
STALL_TICK = 0.005
TARGET_RATIO, TARGET_P95_MS, TARGET_RSS_MB, TARGET_PAINT_MS = 1.5, 50.0, 100.0, 200.0

KEY_CHARS = {"h": "h", "question_mark": "?", "escape": "\x1b", "n": "n"}


# ----- measurement helpers ----------------------------------------------------------------------


def rss_mb() -> float:
    with Path("/proc/self/status").open() as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class LoopStalls:
    """How long the event loop goes without running a 5 ms sleeper: the floor under any key latency."""

    def __init__(self) -> None:
        self.stalls: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(STALL_TICK)
            self.stalls.append(time.perf_counter() - before - STALL_TICK)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class GCPauses:
    """Durations of the cyclic garbage collector's runs (they stop the event loop too)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._started))

    def __enter__(self) -> GCPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


class RSSSampler:
    """Peak VmRSS sampled from a thread every ``SAMPLE_EVERY`` seconds while running."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb())
            self._stop.wait(SAMPLE_EVERY)

    def __enter__(self) -> RSSSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation), so p95 is a latency that actually happened."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


# ----- the lab and the session --------------------------------------------------------------------


def make_session(directory: Path, lab: SSHLab, hosts: list[str], lines: int) -> LocalSession:
    """Like tests/ui_support.py ``make_session``, with the real clock and a one-step runbook."""
    directory.mkdir(parents=True)
    config = load_config(write_config(directory / "config.toml", lab, hosts))
    step = ssh_step("stream", f"seq 1 {lines}", timeout=3600)
    plan = build_plan(load_runbook(write_runbook(directory / "rb.toml", step), KINDS), config)
    engine = Engine.open(directory / "state", plan, DRIVER, severity="P0", trigger="Something broke", config=config)
    engine.take_seat(DRIVER)
    return LocalSession(engine, DRIVER)


# ----- 1. baseline --------------------------------------------------------------------------------


def ssh_run(lab: SSHLab, hosts: list[str], lines: int) -> float:
    argvs = [lab.ssh_argv(lab.hosts[h], f"seq 1 {lines}") for h in hosts]
    started = time.perf_counter()
    procs = [subprocess.Popen(a, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL) for a in argvs]
    codes = [p.wait() for p in procs]
    elapsed = time.perf_counter() - started
    if any(codes):
        raise SystemExit(f"baseline ssh failed with exit codes {codes}")
    return elapsed


# ----- 2-4. the console ---------------------------------------------------------------------------


@dataclass
class ConsoleRun:
    wall: float = 0.0
    engine_wall: float = 0.0
    latencies: list[float] = field(default_factory=list)
    idle_latencies: list[float] = field(default_factory=list)
    stalls: list[float] = field(default_factory=list)
    gc_pauses: list[tuple[int, float]] = field(default_factory=list)
    frames: int = 0


class FrameWatch:
    """Wraps ``app._display``: counts frames, encodes them like a terminal would, runs probes."""

    def __init__(self, app: WarroomApp, encode: bool) -> None:
        self.app = app
        self.frames = 0
        self._encode = encode
        self._null = Console(file=open("/dev/null", "w"), force_terminal=True, color_system="truecolor")  # noqa: SIM115, PTH123
        self._waiters: list[tuple[Callable[[Any], bool], asyncio.Future[float]]] = []
        self._original = app._display
        app._display = self._display  # type: ignore[method-assign]

    def _display(self, screen: Any, renderable: Any) -> None:
        self._original(screen, renderable)
        if renderable is None:
            return
        if self._encode and isinstance(renderable, CompositorUpdate):
            renderable.render_segments(self._null)
        now = time.perf_counter()
        self.frames += 1
        for waiter in list(self._waiters):
            predicate, future = waiter
            if not future.done() and predicate(screen):
                future.set_result(now)
                self._waiters.remove(waiter)

    async def next_frame_where(self, predicate: Callable[[Any], bool]) -> float:
        """perf_counter of the first frame (from now on) composited while ``predicate`` holds."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        waiter = (predicate, future)
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(future, FRAME_TIMEOUT)
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def close(self) -> None:
        self._null.file.close()


def post_key(app: WarroomApp, key: str) -> None:
    event = events.Key(key, KEY_CHARS[key])
    event.set_sender(app)
    assert app._driver is not None
    app._driver.send_message(event)


class KeyProber:
    """Posts one screen-changing key and returns the press-to-repaint latency in seconds."""

    def __init__(self, app: WarroomApp, watch: FrameWatch, pane: LogPane, mode: str, hosts: int) -> None:
        self.app, self.watch, self.pane, self.mode, self.hosts = app, watch, pane, mode, hosts
        self.help_open = False

    async def probe(self) -> float:
        predicate: Callable[[Any], bool]
        if self.mode == "h":
            expected = (self.pane.host_index + 1) % self.hosts
            predicate, key = (lambda _s: self.pane.host_index == expected), "h"
        elif not self.help_open:
            predicate, key = (lambda s: isinstance(s, HelpModal)), "question_mark"
        else:
            predicate, key = (lambda s: isinstance(s, WarRoomScreen)), "escape"
        pressed = time.perf_counter()
        post_key(self.app, key)
        latency = await self.watch.next_frame_where(predicate) - pressed
        self.help_open = key == "question_mark"
        return latency

    async def close_help(self) -> None:
        if self.help_open:
            await self.probe()


async def console_run(
    lab: SSHLab, directory: Path, hosts: list[str], lines: int, key_mode: str, encode: bool
) -> ConsoleRun:
    session = make_session(directory, lab, hosts, lines)
    app = WarroomApp(session=session)
    result = ConsoleRun()
    finished = asyncio.Event()

    def on_event(event: Any) -> None:
        if isinstance(event, dict) and event.get("type") == STEP_FINISHED:
            result.engine_wall = time.perf_counter() - started
            finished.set()

    session.subscribe(on_event)
    last = str(lines)
    started = 0.0
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        painted = PaintedScreen(app, SIZE)  # first: FrameWatch's predicates see the frame painted
        watch = FrameWatch(app, encode)
        pane = app.screen.query_one(LogPane)
        log = pane.query_one("#log")
        prober = KeyProber(app, watch, pane, key_mode, len(hosts))

        def all_shown(_screen: Any) -> bool:
            if not (finished.is_set() and not pane._pending and log.lines and log.lines[-1] == last):
                return False
            rows = [row for row in painted.text(log.scrollable_content_region) if row]
            return bool(rows) and rows[-1] == last

        stalls = LoopStalls()
        stalls.start()
        started = time.perf_counter()
        post_key(app, "n")
        done = asyncio.ensure_future(watch.next_frame_where(all_shown))
        with GCPauses() as gc_pauses:
            while not done.done():
                await asyncio.wait({done}, timeout=PROBE_EVERY)
                if finished.is_set() and not done.done():
                    await prober.close_help()  # untimed: the last lines may wait for the log to be on top
                if done.done() or finished.is_set() or key_mode == "none":
                    continue
                result.latencies.append(await prober.probe())
            try:
                result.wall = await done - started
            except TimeoutError:  # held, but never painted: the pane stalled
                result.wall = float("nan")
        await stalls.stop()
        result.stalls, result.gc_pauses = stalls.stalls, gc_pauses.pauses
        result.frames = watch.frames
        await prober.close_help()
        # The same keys once the flood is over (the log full, the app idle): what the action costs.
        for _ in range(IDLE_PROBES if key_mode != "none" else 0):
            await asyncio.sleep(PROBE_EVERY)
            result.idle_latencies.append(await prober.probe())
        await prober.close_help()
        status = session.state.steps["stream"].status
        watch.close()
        if status != "succeeded":
            raise SystemExit(f"the console step ended {status}, not succeeded")
    return result


def run_profiled(kind: str, call: Callable[[], ConsoleRun]) -> ConsoleRun:
    if kind == "pyinstrument":
        from pyinstrument import Profiler  # optional, only for --profile

        profiler = Profiler(async_mode="disabled")
        profiler.start()
        try:
            return call()
        finally:
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False, show_all=False))
    import cProfile
    import pstats

    profile = cProfile.Profile()
    try:
        return profile.runcall(call)
    finally:
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)


# ----- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hosts", type=int, choices=(1, 2), default=1)
    parser.add_argument(
        "--key",
        choices=("auto", "h", "help", "none"),
        default="auto",
        help="key to probe with; auto: h with 2 hosts, else help; none: no keys (wall time alone)",
    )
    parser.add_argument("--no-encode", action="store_true", help="do not encode frames to escape sequences")
    parser.add_argument("--profile", choices=("cprofile", "pyinstrument"), help="profile one extra console run")
    args = parser.parse_args()
    key_mode = args.key if args.key != "auto" else ("h" if args.hosts == 2 else "help")
    if key_mode == "h" and args.hosts != 2:
        parser.error("--key h needs --hosts 2 (next host does nothing on a 1-host step)")
    hosts = [f"app{i}" for i in range(1, args.hosts + 1)]

    with tempfile.TemporaryDirectory(prefix="warroom-stream-") as tmp, SSHLab(Path(tmp) / "lab") as lab:
        for name in hosts:
            lab.start(name)
        ssh_walls = [ssh_run(lab, hosts, args.lines) for _ in range(args.runs)]

        gc.collect()
        rss_before = rss_mb()
        runs: list[ConsoleRun] = []
        with RSSSampler() as sampler:
            for i in range(args.runs):
                runs.append(
                    asyncio.run(
                        console_run(lab, Path(tmp) / f"run{i}", hosts, args.lines, key_mode, not args.no_encode)
                    )
                )
        if args.profile:

            def profiled() -> ConsoleRun:
                directory = Path(tmp) / "profiled"
                return asyncio.run(console_run(lab, directory, hosts, args.lines, key_mode, not args.no_encode))

            run_profiled(args.profile, profiled)

    ssh_wall = statistics.median(ssh_walls)
    wall = statistics.median(r.wall for r in runs)
    engine = statistics.median(r.engine_wall for r in runs)
    latencies = [ms * 1000 for r in runs for ms in r.latencies]
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    worst = max(latencies) if latencies else float("nan")
    idle = [ms * 1000 for r in runs for ms in r.idle_latencies]
    stalls = [ms * 1000 for r in runs for ms in r.stalls]
    gen2 = [ms * 1000 for r in runs for gen, ms in r.gc_pauses if gen == 2]
    gc_ms = statistics.median(sum(ms for _, ms in r.gc_pauses) * 1000 for r in runs)
    growth = sampler.peak - rss_before
    frames = statistics.median(r.frames / r.wall for r in runs)
    ratio = wall / ssh_wall
    paint_ms = (wall - engine) * 1000

    def verdict(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    key_label = {"h": "h (next host)", "help": "? / escape (help)", "none": "none"}[key_mode]
    keys = f"keys {key_label} every ~{PROBE_EVERY * 1000:.0f} ms" if key_mode != "none" else "no keys pressed"
    print(
        f"seq 1 {args.lines} on {args.hosts} host(s), {args.runs} run(s), median; "
        f"{keys}; frames " + ("encoded" if not args.no_encode else "composited only")
    )
    print(f"{'measure':<34}{'value':>14}   {'target':>10}")
    print(f"{'ssh wall (baseline)':<34}{ssh_wall:>12.2f} s")
    print(f"{'console wall':<34}{wall:>12.2f} s")
    print(f"{'  of which engine done':<34}{engine:>12.2f} s")
    print(f"{'  console / ssh':<34}{ratio:>12.2f} x   {'<= 1.5 x':>10}  {verdict(ratio <= TARGET_RATIO)}")
    print(f"{'  frames composited':<34}{frames:>10.1f} /s")
    paint_ok = paint_ms < TARGET_PAINT_MS
    print(f"{'last line painted after the end':<34}{paint_ms:>11.1f} ms   {'< 200 ms':>10}  {verdict(paint_ok)}")
    if latencies:
        print(f"{'key to repaint p50':<34}{p50:>11.1f} ms")
        print(f"{'key to repaint p95':<34}{p95:>11.1f} ms   {'< 50 ms':>10}  {verdict(p95 < TARGET_P95_MS)}")
        print(f"{'key to repaint max':<34}{worst:>11.1f} ms   ({len(latencies)} presses)")
        print(
            f"{'same keys after the stream p50':<34}{percentile(idle, 50):>11.1f} ms   "
            f"p95 {percentile(idle, 95):.1f} ms ({len(idle)} presses, app idle: the action's own cost)"
        )
    print(
        f"{'event loop stalls p95 / max':<34}{percentile(stalls, 95):>11.1f} ms   "
        f"max {max(stalls, default=float('nan')):.1f} ms (5 ms sleeper, during streams)"
    )
    print(
        f"{'GC during a stream':<34}{gc_ms:>11.1f} ms   "
        f"{len(gen2)} full (gen 2) runs, longest {max(gen2, default=0.0):.1f} ms"
    )
    print(f"{'RSS before app':<34}{rss_before:>11.1f} MB")
    print(f"{'RSS peak during streams':<34}{sampler.peak:>11.1f} MB")
    print(f"{'  RSS growth':<34}{growth:>11.1f} MB   {'< 100 MB':>10}  {verdict(growth < TARGET_RSS_MB)}")
    per_run = ", ".join(f"{r.wall:.2f}s/{len(r.latencies)} keys" for r in runs)
    print(f"per run: ssh {', '.join(f'{w:.2f}s' for w in ssh_walls)}; console {per_run}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
