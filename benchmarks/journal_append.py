"""Journal append throughput with fsync, side by side with the bare baseline.

The baseline is what any durable log must pay at least: ``os.write`` + ``os.fsync`` of a line of
the same size. warroom adds canonical JSON, SHA-256 chaining and redaction on top. Reported as
events per second and as the ratio warroom / baseline.

    .venv/bin/python benchmarks/journal_append.py [--events 2000] [--dir /var/tmp]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from console.model.events import STEP_HOST_FINISHED
from console.model.journal import Journal
from console.model.secrets import Redactor

DATA = {
    "step": "restore-db-mysql",
    "attempt": 1,
    "host": "app1",
    "result": {"status": "ok", "exit_code": 0, "bytes": 1234567, "sha256": "ab" * 32, "duration": 12.5},
}


def warroom_rate(directory: Path, events: int, with_secret: bool) -> tuple[float, int]:
    redactor = Redactor()
    if with_secret:
        redactor.add("correct-horse-battery-staple")
    path = directory / f"journal-{time.monotonic_ns()}.jsonl"
    journal = Journal.create(path, redactor)
    started = time.perf_counter()
    for i in range(events):
        journal.append(STEP_HOST_FINISHED, DATA, actor="alice", role="driver", ts=f"2026-11-29T03:00:00.{i:03d}Z")
    elapsed = time.perf_counter() - started
    journal.close()
    size = path.stat().st_size // events
    path.unlink()
    return events / elapsed, size


def baseline_rate(directory: Path, events: int, line_size: int) -> float:
    path = directory / f"baseline-{time.monotonic_ns()}.log"
    line = b"x" * (line_size - 1) + b"\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    started = time.perf_counter()
    for _ in range(events):
        os.write(fd, line)
        os.fsync(fd)
    elapsed = time.perf_counter() - started
    os.close(fd)
    path.unlink()
    return events / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", default=None, help="filesystem to measure (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        directory = Path(tmp)
        ours, bases, masked = [], [], []
        for _ in range(args.rounds):
            rate, size = warroom_rate(directory, args.events, with_secret=False)
            ours.append(rate)
            masked.append(warroom_rate(directory, args.events, with_secret=True)[0])
            bases.append(baseline_rate(directory, args.events, size))
    w, b, m = statistics.median(ours), statistics.median(bases), statistics.median(masked)
    print(f"record size            {size} bytes, {args.events} events x {args.rounds} rounds (median)")
    print(f"baseline write+fsync   {b:10.0f} events/s")
    print(f"warroom journal        {w:10.0f} events/s   ratio {w / b:.2f} of baseline")
    print(f"  with a secret mask   {m:10.0f} events/s   ratio {m / b:.2f} of baseline")


if __name__ == "__main__":
    main()
