"""Terminal control sequences from hosts never reach a terminal raw (finding 1).

A server picks its disconnect reason (and sends it before its host key is checked); a backup's
file name and a zip's member names are whatever is on the host. They are neutralised where they
enter warroom (connection errors, facts, previews) and again where text is shown (every
notification, the confirm dialog, ``warroom check``).
"""

from __future__ import annotations

import asyncio
import gzip
import threading
import zipfile
from pathlib import Path

import asyncssh
import pytest
from conftest import write_runbook
from mysql_support import ALICE, SOCKET, mysql_step, rig, small_dump
from ui_support import make_app, make_session

from actions.base import Target
from actions.registry import KINDS
from actions.transport import connect
from console.cli import main
from console.engine import Engine
from console.model.config import load_config
from console.model.errors import HostUnreachable
from console.model.plan import build_plan
from console.model.runbook import load_runbook

pytest_plugins = ["mysql_fixtures"]
ESCAPES = "\x1b]0;PWNED\x07\x1b[2J\x1b[31m"
RAW = ("\x1b", "\x07", "\x9b")
SIZE = (140, 44)


class Rude(asyncssh.SSHServer):
    """Hangs up at once with a reason full of escape sequences (before any key is checked)."""

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        asyncio.get_running_loop().call_soon(
            conn.disconnect, asyncssh.DISC_HOST_NOT_ALLOWED_TO_CONNECT, f"go away {ESCAPES} now"
        )


@pytest.fixture
def rude_server():
    """The server on its own event loop in a thread: ``warroom check`` runs its own loop."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict = {}

    async def serve() -> None:
        key = asyncssh.generate_private_key("ssh-ed25519")
        holder["server"] = await asyncssh.create_server(Rude, "127.0.0.1", 0, server_host_keys=[key])
        started.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(serve(), loop)
    assert started.wait(10)
    yield holder["server"].sockets[0].getsockname()[1]
    holder["server"].close()
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def clean(text: str) -> None:
    assert not any(c in text for c in RAW), repr(text)


async def test_a_disconnect_reason_is_neutralised_in_the_connection_error(tmp_path, rude_server):
    known = tmp_path / "known_hosts"
    known.write_text("")
    target = Target("h1", "127.0.0.1", rude_server, "ops", None, str(known), 5.0, 0)
    with pytest.raises(HostUnreachable) as caught:
        await connect(target)
    message = str(caught.value)
    clean(message)
    assert "go away ^[]0;PWNED^G^[[2J^[[31m now" in message and "\n" not in message


def test_warroom_check_prints_a_disconnect_reason_as_text(tmp_path, rude_server, capsys):
    known = tmp_path / "known_hosts"
    known.write_text("")
    runbook = write_runbook(
        tmp_path / "rb.toml",
        '\n[[phases.steps]]\nid = "s"\ntitle = "S"\nkind = "ssh"\ntargets = "app"\ncommands = ["true"]\n',
    )
    config = tmp_path / "config.toml"
    config.write_text(
        f'[environment]\nname = "t"\nstate_dir = "{tmp_path / "state"}"\nrunbook = "{runbook}"\n\n'
        f'[hosts.h1]\naddress = "127.0.0.1"\nport = {rude_server}\nuser = "ops"\nknown_hosts = "{known}"\n'
        'connect_timeout = 5\n\n[groups]\napp = ["h1"]\n'
    )
    assert main(["check", "-c", str(config)]) == 1
    out, err = capsys.readouterr()
    clean(out + err)
    assert "go away ^[]0;PWNED^G" in out


@pytest.mark.sshd
@pytest.mark.skipif(not Path(SOCKET).exists(), reason="MariaDB not running: run ./scripts/setup-services")
async def test_a_backup_file_and_zip_member_named_with_escapes_enter_as_text(tmp_path, lab, db, monkeypatch):
    dump = small_dump(tmp_path / "small.sql")
    r = await rig(tmp_path, lab, db, monkeypatch, mysql_step("find", operation="find-backup"))
    name = f"2025-01-10 {ESCAPES} backup.zip"
    member = f"db-dumps/{ESCAPES}mysql-salonmanager.sql.gz"
    with zipfile.ZipFile(r.backups / name, "w") as z:
        z.writestr(member, gzip.compress(dump.sql.read_bytes()))
    try:
        assert await r.engine.run_step(ALICE, "find") == "succeeded"
        found = r.facts("find")["backup"]
        clean(str(found))
        assert found["name"] == "2025-01-10 ^[]0;PWNED^G^[[2J^[[31m backup.zip"
        assert found["member"].startswith("db-dumps/^[]0;PWNED^G")
    finally:
        await r.engine.aclose()
    journal = r.engine.journal.path.read_text()
    assert "\\u001b" not in journal and "\x1b" not in journal
    assert "PWNED" in journal


@pytest.mark.sshd
async def test_every_notification_and_the_confirm_preview_show_escapes_as_text(tmp_path, lab):
    session = make_session(tmp_path, lab)
    async with make_app(session).run_test(size=SIZE) as pilot:
        pilot.app.screen.notify(f"host said {ESCAPES}", title=f"t{ESCAPES}", markup=False)
        await pilot.pause()
        shown = list(pilot.app._notifications)
        assert shown, "no notification"
        for note in shown:
            clean(note.message + note.title)
        assert any("host said ^[]0;PWNED^G" in n.message for n in shown)


async def test_what_a_host_said_reaches_the_confirm_preview_as_text(tmp_path, rude_server):
    """A destructive step's preview (shown in the confirm dialog) of a host that hangs up with
    escape sequences in its reason."""
    from test_storage_git import step

    known = tmp_path / "known_hosts"
    known.write_text("")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[environment]\nname = "t"\n\n[hosts.h1]\naddress = "127.0.0.1"\nport = {rude_server}\nuser = "ops"\n'
        f'known_hosts = "{known}"\nconnect_timeout = 5\n\n[groups]\napp = ["h1"]\n'
    )
    runbook = load_runbook(write_runbook(tmp_path / "rb.toml", step("checkout", "git", cwd="/srv/app")), KINDS)
    plan = build_plan(runbook, load_config(config))
    engine = Engine.open(tmp_path / "state", plan, ALICE, severity="P0", trigger="t")
    engine.take_seat(ALICE)
    try:
        preview = await engine.preview_step(ALICE, "checkout")
    finally:
        await engine.aclose()
    clean(preview["h1"])
    assert "cannot read HEAD" in preview["h1"] and "go away ^[]0;PWNED^G^[[2J" in preview["h1"], preview


async def test_a_secret_holding_a_control_character_is_masked_before_it_is_neutralised(engine):
    """A key file with CRLF line ends: neutralising first would turn its CR into ``^M`` and the
    secret would no longer match its mask."""
    secret = "line-one-of-the-key\r\nline-two-of-the-key"
    engine.redactor.add(secret)
    engine.step_warning("restore", 0, "h1", f"the host printed {secret} and {ESCAPES}")
    journal = engine.journal.path.read_text()
    assert "line-one-of-the-key" not in journal and "line-two-of-the-key" not in journal
    assert "\\u001b" not in journal and "^[]0;PWNED^G" in journal


async def test_a_progress_label_naming_a_host_file_is_published_as_text(engine):
    from console.engine.context import StepContext

    seen = []
    engine.subscribe(seen.append)
    ctx = StepContext(engine, engine.plan.steps["restore"], 1)
    ctx.progress("h1", 10, 100, "bytes", f"reading 2025 {ESCAPES}.sql.gz")
    [progress] = [e for e in seen if type(e).__name__ == "Progress"]
    clean(progress.label)
    assert progress.label == "reading 2025 ^[]0;PWNED^G^[[2J^[[31m.sql.gz"
