"""Is Ansible installed where warroom can drive it? ansible-runner (the library) and ansible-core's
``ansible-playbook``/``ansible`` commands, from the ``warroom[ansible]`` extra."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

from console.model.errors import ActionError

INSTALL_HINT = "install the extra: pip install 'warroom[ansible]' (ansible-runner and ansible-core)"


def bin_dir() -> Path:
    """Where this Python's scripts are: the venv's ``ansible-playbook`` is taken first."""
    return Path(sys.executable).parent


def search_path() -> str:
    return os.pathsep.join([str(bin_dir()), os.environ.get("PATH", os.defpath)])


def missing() -> str:
    """What is missing, as one line with how to install it; '' when ansible can run."""
    try:
        found = importlib.util.find_spec("ansible_runner") is not None
    except (ImportError, ValueError):  # a broken or blocked install
        found = False
    if not found:
        return f"ansible-runner is not installed: {INSTALL_HINT}"
    for command in ("ansible-playbook", "ansible"):
        if shutil.which(command, path=search_path()) is None:
            return f"{command} (ansible-core) is not installed: {INSTALL_HINT}"
    return ""


def require(step_id: str) -> None:
    problem = missing()
    if problem:
        raise ActionError(f"step {step_id}: {problem}")
