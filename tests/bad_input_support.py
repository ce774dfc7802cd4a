"""What the bad-input tests break: the base config and runbook, the edits that break them, and the
CLI run whose stderr must be one titled line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MARK = "  # <-- here"

CONFIG = """\
[environment]
name = "test"
state_dir = "@TMP@/state"

[hosts.app1]
address = "127.0.0.1"
port = 22
user = "deploy"
identity_file = "@TMP@/id_ed25519"
known_hosts = "@TMP@/known_hosts"

[groups]
app = ["app1"]
"""

RUNBOOK = """\
triggers = ["Something broke"]

[runbook]
id = "testbook"
title = "Test rollback"
version = "2.0.0"

[severity.P0]
label = "Critical"
response_minutes = 5
rollback = "yes"
rto_minutes = 15

[vars.database.name]
type = "string"

[vars.database.user]
type = "string"

[vars.database.password]
type = "secret"

[[phases]]
id = "main"
title = "Main"
start_minute = 0
end_minute = 10

[[phases.steps]]
id = "hello"
title = "Hello"
kind = "ssh"
targets = "app"
commands = ["echo hi"]
"""

VARIANTS = """
[variants.deploy_mode]
options = ["docker", "systemd"]
default = "docker"
"""

COMM = """
[[comms]]
id = "status"
audience = "internal"
channel = "slack"
to = "ops"
summary = "Rollback started"
"""

DATABASE = """
[vars.database]
name = "salon"
user = "salon"
"""

Edit = Callable[[str], "str | bytes | None"]


def MISSING(text: str) -> None:
    """The file is not written at all."""


def sub(old: str, new: str) -> Edit:
    """Replace the one occurrence of ``old``."""

    def edit(text: str) -> str:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
        return text.replace(old, new)

    return edit


def mark(old: str, new: str | None = None) -> Edit:
    """Replace ``old`` (by itself, or by ``new``) and mark that line as the one to be reported."""
    return sub(old, (old if new is None else new) + MARK)


def add(extra: str) -> Edit:
    return lambda text: text + extra


def chain(*edits: Edit) -> Edit:
    def edit(text: str) -> str:
        for e in edits:
            text = e(text)
        return text

    return edit


@dataclass(frozen=True)
class Case:
    id: str
    blame: str  # "config" or "runbook": the file named in the message
    key: str  # the exact key path ("" when the file as a whole is the problem)
    phrase: str
    config: Edit | None = None
    runbook: Edit | None = None
    runbook_arg: str | None = None  # --runbook as given, when not the written file
    absent: str | None = None  # must not appear anywhere in the output (a secret)


def _prepare(tmp_path: Path) -> None:
    (tmp_path / "id_ed25519").write_text("not really a key\n")
    (tmp_path / "known_hosts").write_text("")
    (tmp_path / "a_directory").mkdir()
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")


def _write(path: Path, base: str, edit: Edit | None, tmp_path: Path) -> int | None:
    """Write ``base`` edited; return the number of the line marked to be reported, if any."""
    text = edit(base) if edit else base
    if text is None:
        return None
    if isinstance(text, bytes):
        path.write_bytes(text.replace(b"@TMP@", str(tmp_path).encode()))
        return None
    text = text.replace("@TMP@", str(tmp_path))
    path.write_text(text)
    marked = [n for n, line in enumerate(text.splitlines(), start=1) if line.endswith(MARK)]
    assert len(marked) <= 1, "mark one line only"
    return marked[0] if marked else None


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=60
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], head: str, phrase: str) -> str:
    err = result.stderr
    assert "Traceback" not in err, err
    assert result.returncode == 2, (result.returncode, result.stdout, err)
    assert err.endswith("\n") and len(err.splitlines()) == 1, f"not one line: {err!r}"
    assert err.startswith(head), f"\nexpected head: {head}\ngot:           {err}"
    assert phrase in err[len(head) :], f"\nexpected phrase: {phrase}\ngot: {err}"
    assert result.stdout == ""
    return err
