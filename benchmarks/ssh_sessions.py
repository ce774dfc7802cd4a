"""``warroom serve`` over SSH: connect to first paint, a change reaching N observers, memory per session.

Real OpenSSH clients, each on a pseudo-terminal of its own (160x48), against ``warroom serve`` on
loopback. What each client's terminal receives is read continuously; a marker counts as shown once
it appears in that stream with the escape sequences removed.

- **first paint**: from starting ``ssh`` to the console's header (``INC <id>``) on the client's
  terminal, one session at a time (each closed before the next). Baselines: ``warroom watch`` on a
  local pty (the same console without SSH) and ``ssh -T`` to the same server (handshake, auth and
  the refusal message: SSH alone).
- **change to observers**: one driver and N observers connected; the driver ticks check k of a
  manual step (``p`` then Enter). The clock starts when Enter is written to the driver's terminal
  and stops, per observer, when ``✓] chk-k`` reaches that observer's terminal.
- **memory**: PSS (``/proc/PID/smaps_rollup``) of every session child (``warroom attach``), with
  all N + 1 sessions connected, after the changes.

- **CPU**: user + system time of every session child per change (beyond idle) and per second idle.
- ``--profile``: one more observer, a local ``warroom watch`` under cProfile, whose profile while idle
  and during the changes is printed (it is left out of the CPU and memory figures).

    .venv/bin/python benchmarks/ssh_sessions.py [--observers 10] [--changes 30] [--connects 5] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import io
import os
import pstats
import random
import re
import selectors
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from conftest import write_runbook  # noqa: E402
from serve_support import WARROOM, ServedWarRoom, keygen, server_users  # noqa: E402

from console.model.events import CHECK_TICKED  # noqa: E402

# A console under cProfile: SIGUSR1 dumps what was profiled since the last signal and starts afresh.
PROFILED = """
import cProfile, signal, sys
from console.cli import main
out, count, profile = sys.argv[1], [0], [cProfile.Profile()]
def dump(*_):
    profile[0].disable()
    profile[0].dump_stats(f"{out}.{count[0]}")
    count[0] += 1
    profile[0] = cProfile.Profile()
    profile[0].enable()
signal.signal(signal.SIGUSR1, dump)
profile[0].enable()
sys.exit(main(sys.argv[2:]))
"""
ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][A-Z0-9]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[=>78]")
WINDOW = 16384


# ----- clients on pseudo-terminals ----------------------------------------------------------------
class Terminal:
    """A process on a pty whose output is read by the :class:`Reader` and searched for a marker."""

    def __init__(self, argv: list[str], cols: int = 160, rows: int = 48) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        env["TERM"] = "xterm-256color"
        self.started = time.perf_counter()
        self.process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        self.raw = b""
        self.marker: str | None = None
        self.seen_at: float | None = None
        self.lock = threading.Lock()

    def expect(self, marker: str) -> None:
        with self.lock:
            self.raw, self.marker, self.seen_at = b"", marker, None

    def feed(self, chunk: bytes, now: float) -> None:
        with self.lock:
            seen = self.raw + chunk  # searched whole: a first frame alone can be longer than the window
            self.raw = seen[-WINDOW:]
            if self.marker is not None and self.seen_at is None:
                plain = ESCAPES.sub(b"", seen).decode("utf-8", "replace")
                if self.marker in plain:
                    self.seen_at = now

    def wait(self, timeout: float = 30.0) -> float:
        deadline = time.perf_counter() + timeout
        while self.seen_at is None:
            if time.perf_counter() > deadline:
                tail = ESCAPES.sub(b"", self.raw).decode("utf-8", "replace")[-600:]
                raise RuntimeError(f"{self.marker!r} never appeared; last output: {tail!r}")
            time.sleep(0.002)
        return self.seen_at

    def type(self, data: bytes) -> float:
        now = time.perf_counter()
        os.write(self.master, data)
        return now

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


class Reader(threading.Thread):
    """Drains every terminal continuously (a client that is not read would stall its session)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.selector = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.running = True
        self.started: list[Terminal] = []

    def add(self, terminal: Terminal) -> Terminal:
        with self.lock:
            self.selector.register(terminal.master, selectors.EVENT_READ, terminal)
            self.started.append(terminal)
        return terminal

    def close_all(self) -> None:
        """Kill every client started (a failed run must not leave consoles behind)."""
        for terminal in self.started:
            if terminal.process.poll() is None:
                terminal.close()

    def remove(self, terminal: Terminal) -> None:
        with self.lock, contextlib.suppress(KeyError):
            self.selector.unregister(terminal.master)
        os.close(terminal.master)

    def run(self) -> None:
        while self.running:
            with self.lock:
                events = self.selector.select(0.01)
                for key, _ in events:
                    try:
                        chunk = os.read(key.fd, 65536)
                    except OSError:
                        chunk = b""
                    if chunk:
                        key.data.feed(chunk, time.perf_counter())
                    else:
                        self.selector.unregister(key.fd)
            if not events:
                time.sleep(0.001)


# ----- the served war room ---------------------------------------------------------------------------
def _write_files(base: Path, checks: int, shared: bool) -> tuple[Path, Path]:
    for name in ("alice", "olive"):
        keygen(base / name)
    users = server_users(base, {"alice": "driver", "olive": "observer"})
    config = base / "config.toml"
    config.write_text(
        f'[environment]\nname = "bench"\nstate_dir = "{base / "state"}"\n\n'
        f'[hosts.app1]\naddress = "127.0.0.1"\nport = 1\nuser = "nobody"\nknown_hosts = "{base / "kh"}"\n\n'
        f'[groups]\napp = ["app1"]\n\n[server]\nkeepalive = 15\n'
        "max_sessions_per_user = 56\n"  # one observer account stands for every watcher here
        "max_unauthenticated = 64\n"  # every observer logs in at once: 50 must not be dropped at 16
        f"shared_views = {str(shared).lower()}\n"
        f"{users}"
    )
    (base / "kh").write_text("")
    items = ",\n".join(f'  {{ id = "c{k:02d}", text = "chk-{k:02d} done" }}' for k in range(1, checks + 1))
    steps = f'[[phases.steps]]\nid = "verify"\ntitle = "Verify"\nkind = "manual"\nchecks = [\n{items}\n]\n'
    return config, write_runbook(base / "runbook.toml", steps)


def serve(base: Path, checks: int, shared: bool = True) -> ServedWarRoom:
    """``warroom serve`` on a manual step of ``checks`` checks (the fork server unless WARROOM_SSH_SPAWN says);
    ``shared``: observers share one console per terminal size (``server.shared_views``), else one each."""
    config, runbook = _write_files(base, checks, shared)
    return ServedWarRoom(base, base, config, runbook, spawn=os.environ.get("WARROOM_SSH_SPAWN", "fork"))


def _memory_mb(pid: int) -> tuple[float, float, float]:
    """PSS, RSS and USS (private pages only) of one process."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":")
        fields[name] = int(value.split()[0])
    uss = fields["Private_Clean"] + fields["Private_Dirty"]
    return fields["Pss"] / 1024, fields["Rss"] / 1024, uss / 1024


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (children not included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _row(label: str, values: list[float], unit: str = "ms", scale: float = 1000, note: str = "") -> None:
    v = [x * scale for x in values]
    print(
        f"{label:<34} p50 {_pct(v, 0.5):7.1f}  p95 {_pct(v, 0.95):7.1f}  min {min(v):7.1f}  max {max(v):7.1f} {unit}"
        f"  (n={len(v)}){note}"
    )


# ----- the measurements ---------------------------------------------------------------------------------
def first_paints(served: ServedWarRoom, reader: Reader, runs: int) -> dict[str, list[float]]:
    marker = f"INC {served.incident}"
    results: dict[str, list[float]] = {"ssh": [], "watch": [], "ssh -T": []}
    for _ in range(runs):
        for kind, argv in (
            ("ssh", served.ssh_argv("olive", None, "-tt")),
            ("watch", [WARROOM, "watch", served.incident, "--state-dir", str(served.base / "state")]),
        ):
            terminal = Terminal(argv)
            terminal.expect(marker)
            reader.add(terminal)
            results[kind].append(terminal.wait() - terminal.started)
            terminal.close()
            reader.remove(terminal)
            served.wait_children(0)
        started = time.perf_counter()
        subprocess.run(served.ssh_argv("olive", None, "-T"), stdin=subprocess.DEVNULL, capture_output=True, check=False)
        results["ssh -T"].append(time.perf_counter() - started)
    return results


class Profiled:
    """A local ``warroom watch`` under cProfile; :meth:`take` returns what it did since the last take."""

    def __init__(self, served: ServedWarRoom, reader: Reader) -> None:
        self.out = str(served.base / "profile")
        watch = ["watch", served.incident, "--state-dir", str(served.base / "state")]
        self.terminal = reader.add(Terminal([sys.executable, "-c", PROFILED, self.out, *watch]))
        self.taken = 0

    def take(self) -> pstats.Stats:
        os.kill(self.terminal.process.pid, signal.SIGUSR1)
        path = Path(f"{self.out}.{self.taken}")
        self.taken += 1
        deadline = time.perf_counter() + 10
        while time.perf_counter() < deadline:  # written in the console's main thread, between bytecodes
            time.sleep(0.2)
            with contextlib.suppress(OSError, EOFError, TypeError, ValueError):
                return pstats.Stats(str(path), stream=io.StringIO())
        raise RuntimeError("the profiled console did not dump its profile")


def _print_profile(title: str, stats: pstats.Stats, rows: int = 25) -> None:
    for order in ("tottime", "cumulative"):
        stream = io.StringIO()
        stats.stream = stream
        stats.sort_stats(order).print_stats(rows)
        text = stream.getvalue()
        print(f"\n----- profile of one observer's console: {title}, by {order} -----")
        print(text[text.find("   ncalls") :].rstrip() if "   ncalls" in text else text.rstrip())


def changes(
    served: ServedWarRoom, reader: Reader, observers: int, count: int, via: str, profile: bool, shared: bool
) -> dict:
    """The driver ticks ``count`` checks while ``observers`` watch; what each tick and each session cost."""
    serve_base = _memory_mb(served.process.pid)
    driver = reader.add(Terminal(served.ssh_argv("alice", None, "-tt")))
    driver.expect(f"INC {served.incident}")
    watchers = []
    watch = [WARROOM, "watch", served.incident, "--state-dir", str(served.base / "state")]
    watching = observers + 1 + profile  # alice does not drive yet: she watches too
    for _ in range(observers):
        terminal = reader.add(Terminal(served.ssh_argv("olive", None, "-tt") if via == "ssh" else watch))
        terminal.expect(f"{watching} watching")
        watchers.append(terminal)
    profiled = Profiled(served, reader) if profile else None
    if profiled is not None:
        profiled.terminal.expect(f"{watching} watching")
        watchers.append(profiled.terminal)  # its latency counts: the same console, only local
    driver.wait()
    for terminal in watchers:
        terminal.wait(60)
    consoles = 1 + (min(observers, 1) if shared else observers) if via == "ssh" else 1  # every watcher 160x48
    sessions = served.wait_children(consoles)
    time.sleep(1.0)
    processes = sessions | {terminal.process.pid for terminal in watchers[:observers] if via == "watch"}
    memory = {"idle": _memory_per_session(processes, served.process.pid, serve_base, observers + 1)}

    for terminal in (driver, *watchers):
        terminal.expect("driver: alice")
    driver.type(b"d")
    for terminal in (driver, *watchers):
        terminal.wait()
    each, last, pressed_wall, keys = [], [], [], []
    everyone = (*processes, served.process.pid)
    if profiled is not None:
        profiled.take()  # what came before (start, first paint) is not looked at
    idle_from, idle_started = {pid: _cpu_seconds(pid) for pid in everyone}, time.perf_counter()
    time.sleep(3.0)  # the console's own clock: a repaint a second in every console
    cpu_before, loop_started = {pid: _cpu_seconds(pid) for pid in everyone}, time.perf_counter()
    profiles = {}
    if profiled is not None:
        profiles["3 s idle"] = profiled.take()
    idle = {pid: (cpu_before[pid] - idle_from[pid]) / (loop_started - idle_started) for pid in everyone}
    for k in range(1, count + 1):
        driver.expect("Note (optional)")
        typed = driver.type(b"p")
        keys.append(driver.wait() - typed)  # a key the driver's own console answers
        time.sleep(0.05)
        marker = f"✓] chk-{k:02d}"
        for terminal in (driver, *watchers):
            terminal.expect(marker)
        pressed = driver.type(b"\r")
        pressed_wall.append(time.time() - (time.perf_counter() - pressed))
        times = [terminal.wait() - pressed for terminal in watchers]
        driver.wait()
        each += times
        last.append(max(times))
        if k % 10 == 0:
            memory[f"{k} ticks"] = _memory_per_session(processes, served.process.pid, serve_base, observers + 1)
        time.sleep(random.uniform(0.1, 0.4))  # not in step with the console's 1 s clock
    loop = time.perf_counter() - loop_started
    if profiled is not None:
        profiles["changes"] = profiled.take()
    cpu = {pid: (_cpu_seconds(pid) - cpu_before[pid] - idle[pid] * loop) / count for pid in everyone}
    for terminal in (driver, *watchers):
        terminal.close()
        reader.remove(terminal)
    served.wait_children(0)
    journaled = [
        datetime.fromisoformat(r["ts"].replace("Z", "+00:00")).timestamp()
        for r in served.records()
        if r["type"] == CHECK_TICKED
    ]
    split = [j - p for j, p in zip(journaled, pressed_wall, strict=True)]
    return {
        "each": each,
        "last": last,
        "split": split,
        "keys": keys,
        "memory": memory,
        "cpu": cpu,
        "idle": idle,
        "serve": served.process.pid,
        "sessions": observers + 1,
        "consoles": len(processes),
        "profiles": profiles,
    }


def _memory_per_session(pids: set[int], serve: int, serve_base: tuple, sessions: int) -> tuple[float, float, float]:
    """PSS, RSS and USS of every console plus what ``warroom serve`` grew by (its SSH channels), per session."""
    sizes = [_memory_mb(pid) for pid in pids]
    grown = [max(0.0, now - before) for now, before in zip(_memory_mb(serve), serve_base, strict=True)]
    return tuple((sum(size[i] for size in sizes) + grown[i]) / sessions for i in range(3))  # type: ignore[return-value]


def report(title: str, result: dict, observers: int, via: str) -> None:
    print(f"\n== {title}: {result['consoles']} console processes for {result['sessions']} sessions ==")
    _row("tick to each observer", result["each"], note="   target p95 ≤ 250 ms with 50, ≤ 150 ms with 20")
    each = result["each"]
    third = len(each) // 3
    if third:
        _row("  ticks 1-10 to each observer", each[:third])
        _row("  last 10 ticks to each observer", each[-third:])
    _row("tick to the last of the observers", result["last"])
    _row("  of which Enter to journal record", result["split"], note="   (driver's console, socket, engine; ms clock)")
    _row("driver's key to its repaint", result["keys"], note="   target p95 < 50 ms while all watch")
    cpu, idle, serve, sessions = result["cpu"], result["idle"], result["serve"], result["sessions"]
    print(
        f"CPU per tick, beyond idle: {sum(cpu.values()) * 1000:.0f} ms in all (consoles + warroom serve),"
        f" {sum(cpu.values()) / sessions * 1000:.1f} ms per session; of it {cpu[serve] * 1000:.0f} ms in serve"
        "   target ≤ 8 ms per session"
    )
    print(
        f"CPU when idle: {sum(idle.values()) / sessions * 1000:.1f} ms/s per session (consoles + serve),"
        f" of it {idle[serve] * 1000:.0f} ms/s in serve   target ≤ 3 ms/s per session"
    )
    for when, (pss, rss, uss) in result["memory"].items():
        print(
            f"PSS per {via} session ({when:>8})  {pss:5.1f} MB  (USS {uss:5.1f}, RSS {rss:5.1f};"
            f" consoles + serve's growth over {sessions} sessions)   target ≤ 20 MB"
        )
    for when, stats in result["profiles"].items():
        _print_profile(when, stats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--observers", type=int, default=10)
    parser.add_argument("--changes", type=int, default=30, choices=range(1, 31), metavar="1-30")
    parser.add_argument("--connects", type=int, default=5)
    parser.add_argument(
        "--observers-via", choices=("ssh", "watch"), default="ssh", help="watch: local observers, to see what SSH adds"
    )
    parser.add_argument(
        "--views",
        choices=("shared", "own", "both"),
        default="both",
        help="shared: observers share a console per terminal size (the default); own: one each; both: side by side",
    )
    parser.add_argument("--profile", action="store_true", help="print the profile of one more (local) observer")
    args = parser.parse_args()
    designs = {"both": (True, False), "shared": (True,), "own": (False,)}[args.views]
    results, paints = {}, None
    for shared in designs:
        with tempfile.TemporaryDirectory(prefix="warroom-bench-") as tmp:
            served = serve(Path(tmp), args.changes, shared)
            reader = Reader()
            reader.start()
            try:
                if paints is None:
                    paints = first_paints(served, reader, args.connects)
                results[shared] = changes(
                    served, reader, args.observers, args.changes, args.observers_via, args.profile, shared
                )
            finally:
                reader.running = False
                reader.close_all()
                served.stop()
    spawn = os.environ.get("WARROOM_SSH_SPAWN", "fork")
    print(
        f"{os.cpu_count()} cores; sessions by {spawn}; {args.observers} observers ({args.observers_via}) + 1 driver"
        f" (ssh); {args.changes} changes"
    )
    assert paints is not None
    _row("ssh connect to first paint", paints["ssh"], note="   target: the design measured ~600 ms")
    _row("  warroom watch (no SSH), local", paints["watch"])
    _row("  ssh -T to the refusal (SSH only)", paints["ssh -T"])
    for shared, result in results.items():
        title = (
            "shared views (server.shared_views = true)" if shared else "a console per session (shared_views = false)"
        )
        report(title, result, args.observers, args.observers_via)
    if len(results) == 2:
        own, shared_ = results[False], results[True]
        print(
            f"\nshared / own: tick p95 {_pct(shared_['each'], 0.95) / _pct(own['each'], 0.95):.2f}x,"
            f" CPU per tick {sum(shared_['cpu'].values()) / sum(own['cpu'].values()):.2f}x,"
            f" PSS {shared_['memory']['idle'][0] / own['memory']['idle'][0]:.2f}x"
        )


if __name__ == "__main__":
    main()
