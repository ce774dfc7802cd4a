"""kill -9 at random moments of a run with several ssh steps on a real sshd host: after every kill
the journal replays to its last complete record, no record the engine had given back is lost, the
seal is never ahead of the journal, and an interrupted step is never run again by itself (it stays
interrupted in the journal, and its command ran at most once on the host).

The engine runs in children forked from one process (``kill9_support.py``), each resuming the
incident the last one left. WARROOM_RELY_KILLS (default 200) kills, WARROOM_RELY_SEED the moments.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import REPO, ssh_step, write_config, write_runbook
from kill9_support import started_steps

from console.model.journal import check
from console.model.state import fold

pytestmark = pytest.mark.sshd
KILLS = int(os.environ.get("WARROOM_RELY_KILLS", "200"))
SEED = int(os.environ.get("WARROOM_RELY_SEED", "20261204"))
STEPS = ("drain", "restore", "switch")


def test_kill9_at_random_moments_loses_nothing_and_reruns_nothing(tmp_path, lab):
    runbook = "".join(ssh_step(step, f'echo "$$" >> "$HOSTDIR/runs-{step}"') for step in STEPS)
    cfg = write_config(tmp_path / "config.toml", lab, ["h1"])
    rb = write_runbook(tmp_path / "rb.toml", runbook)
    state = tmp_path / "state"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("kill9_support.py")), *map(str, (cfg, rb, state, KILLS, SEED))],
        capture_output=True,
        text=True,
        timeout=120 + KILLS * 3,
        env=env,
    )
    took = time.monotonic() - started
    cycles = [json.loads(line) for line in result.stdout.splitlines()]
    problems = [c for c in cycles if c.get("problem")]
    assert not problems and result.returncode == 0, f"{problems[:3]} {result.stderr[-2000:]}"
    kills = [c for c in cycles if c["killed"]]
    assert len(kills) == KILLS

    # every incident, as the last child left it: each step started at most once (none retried)
    journals = sorted((state / "incidents").glob("*/journal.jsonl"))
    finals = {j.parent.name: fold(check(j, tolerate_torn_tail=True).records) for j in journals}
    finals = {name: final for name, final in finals.items() if final.plan is not None}  # not killed mid-open
    starts: Counter[str] = Counter()
    for journal in journals:
        attempts = started_steps(journal)
        assert all(attempt == 1 for _, attempt in attempts), f"{journal}: a step was run again: {attempts}"
        starts.update(step for step, _ in attempts)
    # a step running when its process was killed is interrupted, and stays so
    cut_short = [(c["incident"], c["running"]) for c in kills if c.get("running")]
    for incident, step in cut_short:
        assert finals[incident].steps[step].status == "interrupted", (incident, step)
    # on the host: a command ran at most once per journaled start, and every success ran it
    host = lab.hosts["h1"].root
    succeeded = Counter(s for final in finals.values() for s in STEPS if final.steps[s].status == "succeeded")
    for step in STEPS:
        runs = host / f"runs-{step}"
        ran = len(runs.read_text().splitlines()) if runs.exists() else 0
        assert succeeded[step] <= ran <= starts[step], (step, succeeded[step], ran, starts[step])

    lost = sum(c.get("lost", 0) for c in cycles)
    survived = sum(1 for c in kills if not c.get("problem") and c.get("lost", 0) == 0)
    behind = sum(1 for c in kills if c.get("seal_behind") == 1)
    torn = sum(1 for c in kills if c.get("torn_bytes"))
    closed = sum(1 for f in finals.values() if f.status == "closed")
    print(
        f"FIGURE kill9: {survived}/{len(kills)} kills survived, {lost} records lost; {len(cut_short)} steps "
        f"interrupted mid-run, 0 run again; seal one record behind after {behind} kills, torn tail after {torn}; "
        f"{len(cycles)} cycles over {len(finals)} incidents ({closed} closed) in {took:.0f} s, seed {SEED}"
    )
    assert survived == len(kills) and lost == 0
