"""Writes the stand-in commands into ``<sandbox>/bin``.

Each command is a three-line Python script (run by the interpreter that runs warroom, in
isolated mode so nothing from the caller's environment leaks in) that hands its arguments to
:func:`console.drill.tools.main`. The tools package itself is copied into
``<sandbox>/libexec/drill_tools`` so the sandbox keeps working on its own, e.g. when kept with
``--keep`` and poked at by hand.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

from console.drill import tools

STANDINS = ("php", "composer", "flutter", "docker-compose", "systemctl", "journalctl", "sudo", "mysql")
LINUX_SHEBANG_MAX = 250

SCRIPT = """\
import sys
sys.path.insert(0, {libexec!r})
import drill_tools
sys.exit(drill_tools.main({root!r}, {tool!r}, sys.argv[1:]))
"""


def host_has(command: str) -> bool:
    """Whether the normal PATH (the sandbox's bin left out) has ``command``."""
    return shutil.which(command, path=os.environ.get("PATH") or os.defpath) is not None


def write_standins(root: Path, bin_dir: Path, libexec: Path, *, curl: bool | None = None) -> list[str]:
    """Write every stand-in; ``curl`` only when asked or when the host has no real curl."""
    libexec.mkdir(parents=True, exist_ok=True)
    bin_dir.mkdir(parents=True, exist_ok=True)
    package = Path(tools.__file__).parent
    shutil.copytree(package, libexec / "drill_tools", ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    names = list(STANDINS)
    if curl or (curl is None and not host_has("curl")):
        names.append("curl")
    for name in names:
        body = SCRIPT.format(libexec=str(libexec), root=str(root), tool=name)
        shebang = f"#!{sys.executable} -IS\n"
        if len(shebang) > LINUX_SHEBANG_MAX:  # the kernel would cut it: go through sh instead
            target = libexec / f"{name}.py"
            target.write_text(body, encoding="utf-8")
            text = f'#!/bin/sh\nexec "{sys.executable}" -IS "{target}" "$@"\n'
        else:
            text = shebang + body
        path = bin_dir / name
        path.write_text(text, encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return names
