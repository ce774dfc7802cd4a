"""The war room through Textual's Pilot: every binding and modal, roles, keymap, opening an incident."""

from __future__ import annotations

import json
import time

import pytest
from textual.widgets import Input, Log, OptionList, RadioSet
from ui_support import ALICE, OLIVE, make_app, make_session

from console.host.session import LocalSession, Session
from console.model.errors import CommandRefused
from screens.app import WarroomApp
from screens.modals.choice import ChoiceModal
from screens.modals.confirm import ConfirmStepModal
from screens.modals.help import HelpModal
from screens.modals.open_incident import OpenIncidentModal
from screens.modals.output import OutputModal
from screens.modals.prompt import PromptModal
from screens.panes.checklist import ChecklistPane
from screens.panes.logs import LogPane
from screens.war_room import WarRoomScreen

pytestmark = pytest.mark.sshd
SIZE = (140, 44)


async def settle(pilot, session: Session, step: str, timeout: float = 15) -> str:
    """Wait until ``step`` has run and finished, letting the UI process its messages."""
    deadline = time.monotonic() + timeout
    while True:
        await pilot.pause(0.05)
        status = session.state.steps[step].status
        if session.state.steps[step].attempts and status != "running":
            await pilot.pause(0.1)
            return status
        assert time.monotonic() < deadline, f"{step} still {status}"


async def started(pilot, session: Session, step: str) -> None:
    """Wait until ``step`` is running (its remote command has begun)."""
    for _ in range(100):
        await pilot.pause(0.05)
        if session.state.steps[step].status == "running":
            return
    raise AssertionError(f"{step} never started")


def slow_session(tmp_path, lab) -> tuple[Session, WarroomApp]:
    """A session whose step ``slow`` runs for two minutes on every host (until cancelled)."""
    session = make_session(tmp_path, lab)
    for host in lab.hosts.values():
        (host.root / "slow").touch()
    return session, make_app(session)


async def start_slow(pilot, session: Session) -> None:
    select(pilot.app, "slow")
    await pilot.press("r")
    await started(pilot, session, "slow")


def select(app: WarroomApp, step: str, check: str = "") -> None:
    tree = app.screen.query_one(ChecklistPane)
    key = ("check", step, check) if check else ("step", step, "")
    tree.move_cursor(tree._items[key])


def journal(session: Session) -> list[dict]:
    return [json.loads(line) for line in session.engine.journal.path.read_text().splitlines()]


async def type_text(pilot, text: str) -> None:
    await pilot.press(*list(text))


async def test_run_next_streams_output_per_host_and_switches_host(tmp_path, lab):
    session = make_session(tmp_path, lab)
    async with make_app(session).run_test(size=SIZE) as pilot:
        await pilot.press("n")
        assert await settle(pilot, session, "maintenance") == "succeeded"
        pane = pilot.app.screen.query_one(LogPane)
        log = pane.query_one(Log)
        assert pane.step == "maintenance" and pane.host == "app1"
        assert any(f"maintenance on {lab.hosts['app1'].root}" in line for line in log.lines)
        await pilot.press("h")
        assert pane.host == "app2"
        assert any(f"maintenance on {lab.hosts['app2'].root}" in line for line in log.lines)
        await pilot.press("o")
        await pilot.pause(0.3)
        assert isinstance(pilot.app.screen, OutputModal)
        assert any("done" in line for line in pilot.app.screen.query_one(Log).lines)
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, WarRoomScreen)


async def test_destructive_step_needs_the_typed_word(tmp_path, lab):
    session = make_session(tmp_path, lab)
    async with make_app(session).run_test(size=SIZE) as pilot:
        select(pilot.app, "restore-db")
        await pilot.press("r")
        modal = pilot.app.screen
        assert isinstance(modal, ConfirmStepModal)
        shown = " ".join(str(w.render()) for w in modal.query("Static"))
        assert "app1$" in shown and "app2$" in shown and "restoring on" in shown
        await type_text(pilot, "yes")
        await pilot.press("enter")
        assert isinstance(pilot.app.screen, ConfirmStepModal)
        assert "Type exactly 'restore'" in str(modal.query_one("#confirm-error").render())
        assert session.state.steps["restore-db"].status == "pending"
        modal.query_one(Input).value = ""
        await type_text(pilot, "restore")
        await pilot.press("enter")
        assert await settle(pilot, session, "restore-db") == "succeeded"
        started = [r for r in journal(session) if r["type"] == "step.started"]
        assert started[-1]["data"] == {"step": "restore-db", "attempt": 1, "hosts": ["app1", "app2"], "confirmed": True}


async def test_failed_step_is_retried_and_a_running_step_cancelled(tmp_path, lab):
    session = make_session(tmp_path, lab)
    (lab.hosts["app2"].root / "fail").touch()
    async with make_app(session).run_test(size=SIZE) as pilot:
        select(pilot.app, "restore-db")
        await pilot.press("r")
        await type_text(pilot, "restore")
        await pilot.press("enter")
        assert await settle(pilot, session, "restore-db") == "failed"
        assert "ERROR 1045 access denied" in (session.output_path("restore-db", 1, "app2").read_text())
        (lab.hosts["app2"].root / "fail").unlink()
        await pilot.press("t")
        assert isinstance(pilot.app.screen, ConfirmStepModal)
        await type_text(pilot, "restore")
        await pilot.press("enter")
        assert await settle(pilot, session, "restore-db") == "succeeded"
        assert len(session.state.steps["restore-db"].attempts) == 2

        for host in lab.hosts.values():
            (host.root / "slow").touch()
        select(pilot.app, "slow")
        await pilot.press("r")
        await started(pilot, session, "slow")
        await pilot.pause(0.3)
        await pilot.press("x")
        assert await settle(pilot, session, "slow") == "cancelled"


async def test_skip_needs_a_reason(tmp_path, lab):
    session = make_session(tmp_path, lab)
    async with make_app(session).run_test(size=SIZE) as pilot:
        select(pilot.app, "slow")
        await pilot.press("s")
        assert isinstance(pilot.app.screen, PromptModal)
        await pilot.press("enter")
        assert isinstance(pilot.app.screen, PromptModal), "an empty reason is not accepted"
        await type_text(pilot, "db untouched")
        await pilot.press("enter")
        await pilot.pause()
        assert session.state.steps["slow"].status == "skipped"
        assert session.state.steps["slow"].skip_reason == "db untouched"


async def test_ticks_notes_and_comms(tmp_path, lab):
    session = make_session(tmp_path, lab)
    async with make_app(session).run_test(size=SIZE) as pilot:
        select(pilot.app, "notify", "admins")
        await pilot.press("p")
        await type_text(pilot, "paged")
        await pilot.press("enter")
        select(pilot.app, "notify", "status")
        await pilot.press("f")
        await pilot.press("enter")
        await pilot.pause()
        assert session.state.step_status("notify") == "failed"
        select(pilot.app, "notify", "status")
        await pilot.press("a")
        await type_text(pilot, "no status page")
        await pilot.press("enter")
        await pilot.pause()
        ticks = session.state.ticks
        assert (ticks[("notify", "admins")].result, ticks[("notify", "admins")].note) == ("pass", "paged")
        assert (ticks[("notify", "status")].result, ticks[("notify", "status")].by) == ("na", "alice")
        assert session.state.step_status("notify") == "succeeded"

        await pilot.press("m")
        await type_text(pilot, "db team joined")
        await pilot.press("enter")
        await pilot.pause()
        assert session.state.notes[-1]["text"] == "db team joined"

        await pilot.press("c")
        modal = pilot.app.screen
        assert isinstance(modal, ChoiceModal)
        options = modal.query_one(OptionList)
        assert options.get_option_at_index(0).id == "slack-ops|channel"  # due now, listed first
        await pilot.press("enter")
        await type_text(pilot, "posted")
        await pilot.press("enter")
        await pilot.pause()
        assert session.state.comms["slack-ops"]["note"] == "posted"


async def test_help_palette_and_close(tmp_path, lab):
    session = make_session(tmp_path, lab)
    async with make_app(session).run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(pilot.app.screen, HelpModal)
        rows = {row[0]: row for row in pilot.app.screen.rows}
        assert rows["run-next"] == ("run-next", "n", "Run next", True)
        assert rows["cancel"][3] is False  # nothing is running
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await pilot.pause()
        await type_text(pilot, "Run step: Step slow")
        await pilot.pause(0.3)
        await pilot.press("enter")
        assert await settle(pilot, session, "slow") == "succeeded"
        await pilot.press("ctrl+e")
        assert isinstance(pilot.app.screen, ChoiceModal)
        await pilot.press("enter")
        await type_text(pilot, "rolled back")
        await pilot.press("enter")
        await pilot.pause()
        assert session.state.status == "closed" and session.state.summary == "rolled back"
        assert pilot.app.screen.check_action("run_next", ()) is None


async def test_observer_sees_acting_bindings_disabled_and_the_engine_refuses(tmp_path, lab):
    session = make_session(tmp_path, lab, actor=OLIVE)
    async with make_app(session).run_test(size=SIZE) as pilot:
        screen = pilot.app.screen
        for action in ("run_next", "run_selected", "skip", "tick_pass", "comms_sent", "close_incident"):
            assert screen.offered(action) is None, action
            assert screen.check_action(action, ()) is True, action  # pressed, it is sent to be refused
        assert screen.offered("help") is True and screen.offered("note") is True  # observers may note
        footer_keys = {b.binding.id: b.enabled for b in screen.active_bindings.values() if b.binding.id}
        assert footer_keys["run-next"] is False and footer_keys["help"] is True
        await pilot.press("n", "s", "p")
        await pilot.pause(0.3)
        assert isinstance(pilot.app.screen, WarRoomScreen)
        assert all(not s.attempts for s in session.state.steps.values())
        pressed = [r["data"]["command"] for r in journal(session) if r["type"] == "command.refused"]
        assert pressed == ["start", "skip", "tick"]
        with pytest.raises(CommandRefused, match="observers watch only"):
            await session.command("start", step="maintenance")
        refused = [r for r in journal(session) if r["type"] == "command.refused"]
        assert refused[-1]["actor"] == "olive" and refused[-1]["data"]["command"] == "start"


async def test_keymap_from_config_remaps_a_binding(tmp_path, lab):
    session = make_session(tmp_path, lab)
    async with make_app(session, keymap={"run-next": "g"}).run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await pilot.pause(0.3)
        assert not session.state.steps["maintenance"].attempts
        await pilot.press("g")
        assert await settle(pilot, session, "maintenance") == "succeeded"


async def test_open_incident_modal_demands_a_decision_for_maybe(tmp_path, lab):
    template = make_session(tmp_path, lab)
    plan = template.plan
    await template.aclose()
    opened: list = []

    async def opener(opening):
        from console.engine import Engine

        engine = Engine.open(
            tmp_path / "state2",
            plan,
            ALICE,
            severity=opening.severity,
            trigger=opening.trigger,
            clock=template.clock,
            config=template.engine.config,
            incident_id="20261129-031000-open",
        )
        opened.append(opening)
        return LocalSession(engine, ALICE)

    app = WarroomApp(plan=plan, opener=opener)
    async with app.run_test(size=SIZE) as pilot:
        modal = pilot.app.screen
        assert isinstance(modal, OpenIncidentModal)
        severity = modal.query_one("#severity", RadioSet)
        severity.query("RadioButton")[1].value = True  # P1: rollback "maybe"
        await pilot.pause()
        assert "MAYBE" in str(modal.query_one("#decision-rule").render())
        await pilot.click("#open-ok")
        await pilot.pause()
        assert isinstance(pilot.app.screen, OpenIncidentModal)
        assert "give the reason" in str(modal.query_one("#open-error").render())
        modal.query_one("#decision-reason", Input).focus()
        await type_text(pilot, "bookings corrupt since deploy")
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert isinstance(pilot.app.screen, WarRoomScreen)
        state = pilot.app.screen.session.state
        assert state.severity == "P1" and state.driver == "alice"
        assert state.decisions[-1]["reason"] == "bookings corrupt since deploy"


async def test_quit_waits_for_a_running_step(tmp_path, lab):
    session, app = slow_session(tmp_path, lab)
    async with app.run_test(size=SIZE) as pilot:
        await start_slow(pilot, session)
        await pilot.press("q")
        await pilot.pause(0.2)
        assert app.is_running and isinstance(app.screen, WarRoomScreen)
        await pilot.press("x")
        assert await settle(pilot, session, "slow") == "cancelled"
        await pilot.press("q")
        await pilot.pause(0.2)
    assert not app.is_running


async def test_confirmation_shows_a_live_preview_from_the_hosts(tmp_path, lab):
    from test_storage_git import make_repo, open_engine, step

    engine = open_engine(
        tmp_path,
        lab,
        ["h1"],
        step("checkout", "git", cwd="$HOSTDIR/repo") + 'destructive = true\nconfirm = "checkout"\n',
    )
    make_repo(lab.hosts["h1"].root / "repo")
    session = LocalSession(engine, ALICE)
    async with make_app(session).run_test(size=SIZE) as pilot:
        select(pilot.app, "checkout")
        await pilot.press("r")
        modal = pilot.app.screen
        assert isinstance(modal, ConfirmStepModal)
        for _ in range(60):
            await pilot.pause(0.05)
            shown = str(modal.query_one("#confirm-preview").render())
            if "->" in shown:
                break
        assert "h1: HEAD v1.0.0 (" in shown and "-> v0.9.0 (" in shown
        await type_text(pilot, "checkout")
        await pilot.press("enter")
        assert await settle(pilot, session, "checkout") == "succeeded"


async def test_export_writes_the_three_reports_into_the_incident_directory(tmp_path, lab):
    session = make_session(tmp_path, lab)
    async with make_app(session).run_test(size=SIZE) as pilot:
        await pilot.press("n")
        assert await settle(pilot, session, "maintenance") == "succeeded"
        await pilot.press("e")
        for _ in range(100):
            await pilot.pause(0.05)
            if (session.directory / "report.json").exists():
                break
        for name in ("report.md", "report.html", "report.json"):
            assert (session.directory / name).stat().st_size > 0
        assert "maintenance" in (session.directory / "report.md").read_text()


async def test_ctrl_q_is_guarded_too_and_markup_in_messages_is_shown_as_text(tmp_path, lab):
    session, app = slow_session(tmp_path, lab)
    async with app.run_test(size=SIZE) as pilot:
        await start_slow(pilot, session)
        await pilot.press("ctrl+q")
        await pilot.pause(0.2)
        assert app.is_running and session.state.steps["slow"].status == "running"
        await session.command("note", text="[/] closing tag [Warning] and [/srv/app/storage]")
        with pytest.raises(CommandRefused):
            await session.command("tick", step="notify", check="[/]", result="pass")  # reason quotes "[/]"
        await pilot.pause(0.3)
        assert app.is_running
        await pilot.press("x")
        assert await settle(pilot, session, "slow") == "cancelled"
