"""A full disk under the state directory (a 256 KiB tmpfs): the next command that must be journaled
is refused at once with one line naming the journal; a step whose start record cannot be written
never starts on its host; once there is room again, the incident resumes from a journal that
matches its seal, with nothing half-written in it.

Needs root (it mounts the tmpfs, and unmounts it in teardown).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ALICE, ssh_step, write_config, write_runbook

from actions.registry import KINDS
from console.engine import Engine
from console.model.config import load_config
from console.model.errors import JournalError
from console.model.journal import check
from console.model.plan import build_plan
from console.model.runbook import load_runbook

pytestmark = [
    pytest.mark.sshd,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"), reason="mounting a tmpfs needs root"),
]
REFUSED_WITHIN = 1.0


@pytest.fixture
def tiny_state(tmp_path: Path):
    state = tmp_path / "state"
    state.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(state)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield state
    finally:
        subprocess.run(["umount", str(state)], check=True)


def fill(directory: Path) -> Path:
    """Write a file until the file system is full; returns it (delete it to make room)."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (4096, 512, 64, 1):
            chunk = b"x" * size
            while True:
                try:
                    if os.write(fd, chunk) < size:
                        break
                except OSError:
                    break
    finally:
        os.close(fd)
    return filler


async def test_a_full_disk_refuses_the_next_command_and_starts_no_step(tmp_path, lab, tiny_state):
    steps = ssh_step("first", 'touch "$HOSTDIR/ran-first"') + ssh_step("second", 'touch "$HOSTDIR/ran-second"')
    cfg = write_config(tmp_path / "config.toml", lab, ["h1"])
    config = load_config(cfg)
    plan = build_plan(load_runbook(write_runbook(tmp_path / "rb.toml", steps), KINDS), config)
    host = lab.hosts["h1"]
    engine = Engine.open(tiny_state, plan, ALICE, severity="P0", trigger="disk test", config=config)
    journal = engine.journal.path
    try:
        engine.take_seat(ALICE)
        assert await engine.run_step(ALICE, "first") == "succeeded"
        before = journal.read_bytes()
        filler = fill(tiny_state)

        started = time.monotonic()
        with pytest.raises(JournalError) as refused:
            engine.add_note(ALICE, "the disk is full")
        note_took = time.monotonic() - started
        message = str(refused.value)
        assert "No space left on device" in message and "journal" in message and "\n" not in message

        started = time.monotonic()
        with pytest.raises(JournalError, match="restart warroom to resume"):
            engine.start_step(ALICE, "second")
        start_took = time.monotonic() - started
        assert not engine._tasks and engine.state.steps["second"].status == "pending"
        await asyncio.sleep(0.5)
        assert not (host.root / "ran-second").exists(), "a step ran that could not be journaled"
        assert journal.read_bytes() == before, "a half-written record was left behind"
        assert check(journal).seal.status == "matches"
    finally:
        await engine.aclose()

    cli = subprocess.run(
        [sys.executable, "-m", "console.cli", "note", str(journal.parent), "still full", "--as", "alice"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 1 and "No space left on device" in cli.stderr
    assert len(cli.stderr.strip().splitlines()) == 1 and "Traceback" not in cli.stderr
    assert journal.read_bytes() == before

    filler.unlink()
    engine = Engine.resume(journal.parent, ALICE, config=config)
    try:
        assert engine.state.steps["second"].status == "pending"  # never started, so not interrupted either
        engine.take_seat(ALICE)
        assert await engine.run_step(ALICE, "second") == "succeeded"
    finally:
        await engine.aclose()
    assert (host.root / "ran-second").exists()
    checked = check(journal)
    assert checked.seal.status == "matches" and not checked.tail
    print(
        f"FIGURE full_disk: a note refused in {note_took * 1000:.1f} ms, a step start in {start_took * 1000:.1f} ms "
        f"(limit {REFUSED_WITHIN:.0f} s); 0 steps ran unjournaled; resumed with {len(checked.records)} records, "
        "seal matching"
    )
    assert note_took < REFUSED_WITHIN and start_took < REFUSED_WITHIN
