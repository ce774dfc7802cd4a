"""``warroom run`` and ``warroom drill`` paint before the slow part (issue 12): the entry and the
app import no step kind, pydantic or engine; the preparing screen is up while the startup runs,
quits on escape, and gives way to the open-incident dialog; an error found behind it is one line
once the terminal is restored."""

from __future__ import annotations

import asyncio
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from conftest import ssh_step, write_runbook

from console.model.plan import Plan
from screens.app import WarroomApp
from screens.preparing import PreparingScreen

HEAVY = ("asyncssh", "pydantic", "actions.registry", "console.engine", "docker", "httpx", "pymysql")
WARROOM = str(Path(sys.executable).with_name("warroom"))


def test_the_entry_and_the_app_import_nothing_slow_before_the_first_frame():
    probe = (
        "import sys; sys.argv = ['warroom', 'drill']\n"
        "import console.cli, console.drill.options, screens.app, screens.startup\n"
        "console.cli.args.parser(incident_commands=False)\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_the_cli_spells_the_incident_commands_as_their_module_does():
    from console.cli import INCIDENT_COMMANDS
    from console.host.incident_command import NAMES

    assert INCIDENT_COMMANDS == NAMES


def _plan() -> Plan:
    severity = {"P0": {"label": "Critical", "response_minutes": 5, "rollback": "yes", "rto_minutes": 30}}
    runbook = {"title": "Rehearsal", "version": "1"}
    return Plan(runbook, "lab", {}, (), {}, {}, severity, triggers=("Failed deploy",))


async def test_the_preparing_screen_is_up_while_the_startup_runs_then_the_dialog():
    release = asyncio.Event()

    async def startup():
        await release.wait()
        return _plan(), opener

    async def opener(opening):
        raise AssertionError("not opened in this test")

    app = WarroomApp(startup=startup, preparing="warroom drill: preparing the sandbox")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        assert isinstance(app.screen, PreparingScreen)
        shown = str(app.screen.query_one("#preparing-title").render())
        assert "preparing the sandbox" in shown
        release.set()
        await pilot.pause(0.3)
        assert type(app.screen).__name__ == "OpenIncidentModal"
        assert not any(isinstance(s, PreparingScreen) for s in app.screen_stack)


async def test_escape_on_the_preparing_screen_quits_without_waiting_for_the_startup():
    async def startup():
        await asyncio.sleep(3600)

    app = WarroomApp(startup=startup)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.1)
        await pilot.press("escape")
        await pilot.pause(0.1)
    assert app.return_value == 1


def test_a_bad_runbook_found_behind_the_first_frame_is_one_line_after_it(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[environment]\nname = "x"\n')  # no hosts, no runbook: refused on load
    runbook = write_runbook(tmp_path / "rb.toml", ssh_step("hello", "true"))
    out, code = _on_a_terminal([WARROOM, "run", "-c", str(config), "--runbook", str(runbook)])
    assert code == 2, out
    assert "preparing the incident" in out  # painted first
    after = out.rsplit("\x1b[?1049l", 1)[1]  # what is left once the alternate screen is gone
    after = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", after)  # the terminal modes it turns off
    lines = [line for line in after.replace("\r", "").splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("warroom: ") and "config.toml" in lines[0], lines
    assert "Traceback" not in out


def _on_a_terminal(argv: list[str], timeout: float = 30.0) -> tuple[str, int]:
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.pop("COLUMNS", None)
        os.environ.pop("LINES", None)
        os.environ["TERM"] = "xterm-256color"
        os.execvp(argv[0], argv)
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([fd], [], [], 0.1)[0]:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    else:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return seen.decode("utf-8", "replace"), os.waitstatus_to_exitcode(status)
