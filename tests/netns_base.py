"""What every network-namespace test needs (../shared/docs/test-environment.md "Bastions and cut
links"): the ``ip`` command and whether this machine can make namespaces at all."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=10)


def netns_usable() -> str:
    """Empty when this machine can make namespaces, else why not (the test is skipped then)."""
    if os.geteuid() != 0 or shutil.which("ip") is None or not Path(SSHD).exists():
        return "needs root, iproute2 and OpenSSH's sshd"
    return ""
