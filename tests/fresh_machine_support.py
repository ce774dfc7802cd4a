"""The CLI as a new user runs it: HOME is a directory of the test's own (no ~/.ssh in it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def warroom(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(REPO)}
    env.pop("WARROOM_STATE_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args], capture_output=True, text=True, env=env, cwd=home, timeout=60
    )
