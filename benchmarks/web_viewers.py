"""The status page under N browsers: how fast a journal record reaches each one's event stream,
and whether the driver's console feels them (its command round trip, with and without viewers).

Real ``warroom serve --http`` on loopback against one real sshd (``tests/sshd.py``). The driver is
a command-line client on the attach socket (as ``warroom note`` is), holding the seat; it adds a
note every ``--gap`` seconds and times each command until its reply (the record is journaled,
fsynced and published to every subscriber first). The viewers run in a child process of this
script (one aiohttp connection each, as EventSource opens it), so their parsing does not load the
driver's side; each records when every note's text reached it. Latency is that moment minus the
record's journaled time (one clock: the same machine).

- **driver note round trip**: p50 / p95 over ``--notes`` notes with no viewer, then with N
  connected, then again with none once they left; the ratio (with / both without) is the figure
  (target ≈ 1x; the two rounds without viewers show how much the machine's load moved meanwhile).
- **update to each viewer**: p50 / p95 / max over every (viewer, note); target p95 ≤ 1 s; and how
  many viewers got every update (all of them, or the run is wrong).

    .venv/bin/python benchmarks/web_viewers.py [--viewers 200] [--notes 20] [--gap 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from conftest import ssh_step, write_config, write_runbook  # noqa: E402
from sshd import SSHLab  # noqa: E402
from web_support import AttachClient, ServedPage, Swarm  # noqa: E402


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _notes(socket: str, prefix: str, count: int, gap: float) -> tuple[list[float], dict[str, float]]:
    """The driver adds ``count`` notes; their round trips (s) and each marker's journaled time."""
    client = await AttachClient.connect(socket)
    try:
        reply = await client.command("take-seat")
        assert reply.get("ok") or "already drives" in json.dumps(reply), reply
        trips = []
        for number in range(count):
            started = time.perf_counter()
            reply = await client.command("note", text=f"{prefix}-{number}")
            trips.append(time.perf_counter() - started)
            assert reply.get("ok"), reply
            await asyncio.sleep(gap)
        await client.command("release-seat")
        written = {
            r["data"]["text"]: _epoch(r["ts"])
            for r in client.records
            if r["type"] == "note.added" and r["data"]["text"].startswith(prefix)
        }
        return trips, written
    finally:
        await client.close()


def _viewers_child(url: str, count: int, markers: list[str], timeout: float) -> None:
    """In the child: connect, say ``ready``, wait for every marker (or the timeout), print arrivals."""

    async def run() -> None:
        async with Swarm(f"{url}events", count, markers) as swarm:
            await swarm.wait_ready(timeout)
            print("ready", flush=True)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and any(swarm.got(m) < count for m in markers):
                await asyncio.sleep(0.05)
            print(json.dumps(swarm.arrivals), flush=True)

    asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--notes", type=int, default=20)
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between notes")
    parser.add_argument("--child", nargs=2, metavar=("URL", "MARKERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _viewers_child(args.child[0], args.viewers, json.loads(args.child[1]), 60 + args.notes * args.gap)
        return 0
    with tempfile.TemporaryDirectory(prefix="warroom-bench-web-") as tmp:
        base = Path(tmp)
        with SSHLab(base / "lab") as lab:
            config = write_config(base / "config.toml", lab, ["app1"])
            page = ServedPage(base, config, write_runbook(base / "rb.toml", ssh_step("hello", "true")))
            try:
                return asyncio.run(_measure(page, args))
            finally:
                page.stop()


def _sizes(args: argparse.Namespace) -> list[str]:
    return ["--viewers", str(args.viewers), "--notes", str(args.notes), "--gap", str(args.gap)]


async def _measure(page: ServedPage, args: argparse.Namespace) -> int:
    socket = next(line for line in page.banner if line.startswith("socket")).split()[1]
    print(f"{args.viewers} web viewers on loopback, {args.notes} notes {args.gap} s apart")
    alone, _ = await _notes(socket, "alone", args.notes, args.gap)
    markers = [f"watched-{n}" for n in range(args.notes)]
    child = subprocess.Popen(
        [sys.executable, __file__, *_sizes(args), "--child", page.url, json.dumps(markers)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        ready = await asyncio.to_thread(child.stdout.readline)
        assert ready.strip() == "ready", f"the viewers did not connect: {ready!r}"
        await asyncio.sleep(1.0)  # their presence records settle (one per browser)
        watched, written = await _notes(socket, "watched", args.notes, args.gap)
        arrivals = json.loads(await asyncio.to_thread(child.stdout.readline))
    finally:
        child.wait(timeout=120)
    # the viewers are gone (their presence lingers 40 s, longer than this): the same again without
    # them, so a machine that got busier or quieter meanwhile shows as a difference between the two
    after, _ = await _notes(socket, "after", args.notes, args.gap)
    latencies = [seen[m] - written[m] for seen in arrivals for m in markers if m in seen]
    complete = sum(1 for seen in arrivals if all(m in seen for m in markers))
    ms = 1000
    print(f"{'':34} {'p50':>9} {'p95':>9}")
    print(
        f"{'driver note round trip, no viewer':34} "
        f"{statistics.median(alone) * ms:7.1f}ms {_pct(alone, 0.95) * ms:7.1f}ms  (before the viewers)"
    )
    print(
        f"{f'driver note round trip, {args.viewers} viewers':34} "
        f"{statistics.median(watched) * ms:7.1f}ms {_pct(watched, 0.95) * ms:7.1f}ms"
    )
    print(
        f"{'driver note round trip, no viewer':34} "
        f"{statistics.median(after) * ms:7.1f}ms {_pct(after, 0.95) * ms:7.1f}ms  (after they left)"
    )
    alone = alone + after
    print(
        f"{'ratio (with / without viewers)':34} {statistics.median(watched) / statistics.median(alone):8.2f}x "
        f"{_pct(watched, 0.95) / _pct(alone, 0.95):8.2f}x"
    )
    if latencies:
        print(
            f"update to each viewer: p50 {statistics.median(latencies) * ms:.0f} ms, "
            f"p95 {_pct(latencies, 0.95) * ms:.0f} ms, max {max(latencies) * ms:.0f} ms (target p95 <= 1000 ms)"
        )
    print(f"viewers with every update: {complete}/{args.viewers}")
    return 0 if complete == args.viewers else 1


if __name__ == "__main__":
    sys.exit(main())
