"""The war room: checklist, output or activity (the shared timeline), RTO countdown, contacts; every action a binding.

Acting bindings are offered (:meth:`WarRoomScreen.offered`) by the session's role and the selected
item, so an observer's footer shows them disabled; pressed anyway, they are sent and the engine
refuses and journals them (:mod:`screens.attempts`). Export is the engine's too: no console writes
files on the server.
"""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Tree
from textual.worker import Worker, WorkerState

from actions import registry
from console.engine import Output, Progress
from console.host.remote import Disconnected
from console.host.session import Session
from console.model import events, rules
from console.model.errors import WarroomError
from console.model.keymap import ACTING, ACTIONS
from console.model.plan_text import planned_commands
from console.model.score import render_score
from console.model.timeline import comms_timeline

from .attempts import attempt, refused_by_engine
from .messages import JournalEvent, OutputBatch, ProgressUpdate, Tick
from .modals.choice import ChoiceModal
from .modals.confirm import ConfirmStepModal
from .modals.help import HelpModal
from .modals.output import OutputModal
from .modals.prompt import PromptModal
from .modals.score import ScoreModal
from .notices import notify_record
from .panes.activity import ActivityPane
from .panes.checklist import ChecklistPane, Item
from .panes.contacts import ContactsPane
from .panes.countdown import CountdownPane
from .panes.footer import WarRoomFooter
from .panes.header import IncidentHeader
from .panes.logs import LogPane
from .views import ViewsMixin

KEY_DISPLAY = {"slash": "/", "left_square_bracket": "[", "right_square_bracket": "]"}


def _binding(binding_id: str, *, show: bool = True) -> Binding:
    key, description = ACTIONS[binding_id]
    shown = KEY_DISPLAY.get(key)
    action = binding_id.replace("-", "_")
    return Binding(key, action, description, show=show, id=binding_id, tooltip=description, key_display=shown)


class WarRoomScreen(ViewsMixin, Screen[None]):
    BINDINGS = [
        _binding("run-selected"),
        _binding("run-next"),
        _binding("cancel"),
        _binding("skip"),
        _binding("retry"),
        _binding("tick-pass"),
        _binding("tick-fail"),
        _binding("tick-na"),
        _binding("note"),
        _binding("comms-sent"),
        _binding("open-output"),
        _binding("export-report", show=False),
        _binding("next-host", show=False),
        _binding("close-incident", show=False),
        _binding("activity"),
        _binding("activity-filter", show=False),
        _binding("contacts-up", show=False),
        _binding("contacts-down", show=False),
        _binding("request-seat"),
        _binding("hand-over", show=False),
        _binding("help"),
        _binding("quit"),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self._unsubscribe: Any = None
        self._enabled: tuple[bool | None, ...] = ()

    # ----- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield IncidentHeader(self.session, id="header")
        with Horizontal(id="top"):
            yield CountdownPane(self.session, id="countdown")
            yield ContactsPane(self.session, id="contacts")
        with Horizontal(id="body"):
            yield ChecklistPane(self.session.state, id="checklist")
            with Vertical(id="right", classes="-output"):
                yield LogPane(self.session, id="logs")
                yield ActivityPane(self.session, id="activity")
        yield WarRoomFooter()

    def on_mount(self) -> None:
        self._unsubscribe = self.session.subscribe(self._on_engine_event)
        self.set_interval(1.0, lambda: self.post_message(Tick()))
        self.query_one(ChecklistPane).focus()
        self._follow_selection()

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()

    # ----- engine events -> messages -> panes ------------------------------------------------------
    def _on_engine_event(self, event: Any) -> None:
        if isinstance(event, Disconnected):
            self.call_later(self._disconnected)
        elif isinstance(event, Output):
            self.post_message(OutputBatch(event.step, event.attempt, event.host, event.lines))
        elif isinstance(event, Progress):
            self.post_message(ProgressUpdate(event.step, event.host, event.done, event.total, event.unit, event.label))
        else:
            self.post_message(JournalEvent(event))

    @on(OutputBatch)
    def _output(self, message: OutputBatch) -> None:
        self.query_one(LogPane).add(message.step, message.attempt, message.host, message.lines)

    def _disconnected(self) -> None:
        self.notify(
            markup=False,
            message="The connection to the incident's engine was lost; this screen is frozen.",
            title="Disconnected",
            severity="error",
            timeout=3600,
        )
        self._refresh_footer()

    @on(ProgressUpdate)
    def _progress(self, message: ProgressUpdate) -> None:
        self.query_one(LogPane).show_progress(message)

    @on(JournalEvent)
    def _journal(self, message: JournalEvent) -> None:
        record = message.record
        self._refresh_all()
        self.query_one(ActivityPane).add(record)
        notify_record(self, self.session, record)
        kind, mine = record["type"], record["actor"] == self.session.actor.name
        if kind == events.STEP_STARTED:
            self.query_one(LogPane).show(record["data"]["step"], force=True)
        elif (kind == events.STEP_FINISHED and record["data"]["outcome"] == "succeeded") or (
            kind == events.CHECK_TICKED and mine
        ):
            self.query_one(ChecklistPane).move_cursor_to_next_pending()
        elif kind == events.INCIDENT_CLOSED and getattr(self.app, "show_score", False):
            self.app.push_screen(ScoreModal(render_score(self.session.state)))

    @on(Tick)
    def _clock_tick(self) -> None:
        self.query_one(CountdownPane).refresh_countdown()
        self.query_one(ContactsPane).refresh_contacts()

    def _refresh_all(self) -> None:
        self.query_one(IncidentHeader).refresh_header()
        self.query_one(ChecklistPane).refresh_labels()
        self.query_one(CountdownPane).refresh_countdown()
        self.query_one(ContactsPane).refresh_contacts()
        self._refresh_footer()

    @on(Tree.NodeHighlighted)
    def _follow_selection(self) -> None:
        """Show the selected step's output; a step with none yet keeps the last output in view."""
        item = self.query_one(ChecklistPane).selected
        pane = self.query_one(LogPane)
        state = self.session.state
        chosen = item.step if item is not None and item.step else None
        if chosen and (state.steps[chosen].attempts or pane.attempt == 0):
            pane.show(chosen)
        elif pane.step is None and state.running:
            pane.show(state.running)
        self.query_one(ActivityPane).follow_step(chosen)
        self._refresh_footer()

    def _refresh_footer(self) -> None:
        """Rebuild the footer only when what may be pressed changed (a rebuild per record: ~45 ms a session)."""
        enabled = tuple(self.offered(b.replace("-", "_")) for b in ACTIONS)
        if enabled != self._enabled:
            self._enabled = enabled
            self.refresh_bindings()

    # ----- gating --------------------------------------------------------------------------------
    def _selected(self) -> Item | None:
        return self.query_one(ChecklistPane).selected

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """May the key run its action: when offered, or when the engine is to refuse it."""
        if refused_by_engine(action.replace("_", "-"), self.session):
            return True
        return self.offered(action)

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The footer shows what is offered: a key only sent to be refused is shown disabled."""
        shown = super().active_bindings
        return {key: b._replace(enabled=False) if self._only_refused(b) else b for key, b in shown.items()}

    def _only_refused(self, active: ActiveBinding) -> bool:
        binding = active.binding
        sent = active.node is self and refused_by_engine(binding.id or "", self.session)
        return sent and self.offered(binding.action) is not True

    def offered(self, action: str) -> bool | None:
        """Whether the footer, help and palette offer ``action`` (None: shown disabled)."""
        binding_id = action.replace("_", "-")
        if binding_id not in ACTIONS:
            return True
        if binding_id == "request-seat":
            return True if rules.may_request_seat(self.session.actor, self.session.state) else None
        if binding_id == "note":
            return True if rules.may_note(self.session.actor, self.session.state) else None
        if binding_id == "hand-over":
            return True if self.session.is_driver and self._seat_candidates() else None
        if binding_id in ACTING and not self.session.is_driver:
            return None
        state, plan = self.session.state, self.session.plan
        item = self._selected()
        step = plan.steps.get(item.step) if item and item.step else None
        status = state.steps[step.id].status if step else ""
        after = self._next_step()
        tickable = item is not None and item.kind == "check" and rules.may_tick(status)
        enabled = {
            "run-selected": step is not None and rules.may_start(step, state),
            "run-next": after is not None and rules.may_start(plan.steps[after], state),
            "cancel": rules.may_cancel(state),
            "skip": step is not None and rules.skippable(status),
            "retry": step is not None and rules.may_retry(step, state),
            "tick-pass": tickable,
            "tick-fail": tickable,
            "tick-na": tickable,
            "open-output": self.query_one(LogPane).spool_path() is not None,
            "close-incident": rules.may_close(state),
            "export-report": not rules.export_refusal(self.session.actor),
        }
        allowed = enabled.get(binding_id, True)
        return True if allowed else None

    def _next_step(self) -> str | None:
        return rules.next_runnable(self.session.plan, self.session.state)

    # ----- actions -------------------------------------------------------------------------------
    def send(self, name: str, **args: str) -> None:
        """Send a command to the engine (here or remote) from a worker; refusals are notified."""
        self._command(name, args)

    @work(group="commands", exit_on_error=False)
    async def _command(self, name: str, args: dict[str, str]) -> None:
        try:
            await self.session.command(name, **args)
        except WarroomError as exc:
            self.notify(markup=False, message=str(exc), title=exc.title, severity="error", timeout=8)

    def _refused_attempt(self, binding_id: str) -> bool:
        """Send the press of someone who may not act, for the engine to refuse (True: sent)."""
        if not refused_by_engine(binding_id, self.session):
            return False
        command, args = attempt(binding_id, self._selected(), self._next_step(), self.session.state.running)
        self.send(command, **args)
        return True

    def action_run_selected(self) -> None:
        if self._refused_attempt("run-selected"):
            return
        item = self._selected()
        if item and item.step:
            self._run(item.step, retry=False)

    def run_step_by_id(self, step_id: str) -> None:
        """Entry point for the command palette."""
        self._run(step_id, retry=False)

    def action_run_next(self) -> None:
        if self._refused_attempt("run-next"):
            return
        step_id = self._next_step()
        if step_id:
            self._run(step_id, retry=False)

    def action_retry(self) -> None:
        if self._refused_attempt("retry"):
            return
        item = self._selected()
        if item and item.step:
            self._run(item.step, retry=True)

    def _run(self, step_id: str, *, retry: bool) -> None:
        step = self.session.plan.steps[step_id]
        if step.destructive:
            commands = planned_commands(step, registry.KINDS)

            def confirmed(word: str | None) -> None:
                if word:
                    self._launch(step_id, word, retry)

            preview = (lambda: self.session.command("preview", step=step_id)) if self.session.is_driver else None
            self.app.push_screen(ConfirmStepModal(step, commands, retry=retry, preview=preview), confirmed)
        else:
            self._launch(step_id, "", retry)

    def _launch(self, step_id: str, confirm: str, retry: bool) -> None:
        self.send("retry" if retry else "start", step=step_id, confirm=confirm)

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            self.notify(
                markup=False,
                message=f"{type(error).__name__}: {error}",
                title="Internal error",
                severity="error",
                timeout=15,
            )

    def action_cancel(self) -> None:
        if self._refused_attempt("cancel"):
            return
        running = self.session.state.running
        if running:
            self.send("cancel", step=running)

    def action_skip(self) -> None:
        if self._refused_attempt("skip"):
            return
        item = self._selected()
        if not item or not item.step:
            return
        step_id = item.step

        def skip(reason: str | None) -> None:
            if reason:
                self.send("skip", step=step_id, reason=reason)

        self.app.push_screen(PromptModal(f"Skip {step_id}", "Why is this step skipped?"), skip)

    def _tick(self, result: str) -> None:
        if self._refused_attempt(f"tick-{result}"):
            return
        item = self._selected()
        if not item or item.kind != "check":
            return
        step_id, check_id = item.step, item.check

        def tick(note: str | None) -> None:
            if note is not None:
                self.send("tick", step=step_id, check=check_id, result=result, note=note)

        label = {"pass": "Pass", "fail": "Fail", "na": "Not applicable"}[result]
        self.app.push_screen(PromptModal(f"{label}: {check_id}", "Note (optional)", required=False), tick)

    def action_tick_pass(self) -> None:
        self._tick("pass")

    def action_tick_fail(self) -> None:
        self._tick("fail")

    def action_tick_na(self) -> None:
        self._tick("na")

    def action_note(self) -> None:
        if self._refused_attempt("note"):
            return

        def note(text: str | None) -> None:
            if text:
                self.send("note", text=text)

        limit = rules.OBSERVER_NOTE_LIMIT if self.session.actor.role == "observer" else None
        modal = PromptModal("Note", "Add a note to the shared timeline (everyone sees it)", max_length=limit)
        self.app.push_screen(modal, note)

    def action_comms_sent(self) -> None:
        if self._refused_attempt("comms-sent"):
            return
        items = comms_timeline(self.session.state, self.session.clock.now())
        order = {"overdue": 0, "due": 1, "upcoming": 2, "conditional": 3, "sent": 4}
        options: list[tuple[str, str]] = []
        for item in sorted(items, key=lambda i: order[i.status]):
            label = f"{item.when:<8} {item.status:<11} {item.channel} → {item.to}: {item.summary}"
            options.append((f"{item.id}|channel", f"{label}  [send via {item.channel}]"))
            options.append((f"{item.id}|manual", f"{label}  [record as sent another way]"))

        def sent(choice: tuple[str, str] | None) -> None:
            if choice:
                comm, _, via = choice[0].partition("|")
                self.send("comms", comm=comm, note=choice[1], via=via)

        self.app.push_screen(ChoiceModal("Send or record a message", options), sent)

    def action_export_report(self) -> None:
        if not self._refused_attempt("export-report"):
            self._export()

    @work(exclusive=True, group="export", exit_on_error=False)
    async def _export(self) -> None:
        """The engine writes report.md/.html/.json into the incident directory (a pure function of
        the journal); this console writes nothing itself."""
        try:
            names = await self.session.command("export")
        except WarroomError as exc:
            self.notify(str(exc), title=exc.title, severity="error", markup=False)
            return
        where = ", ".join(names)
        self.notify(f"{where} in {self.session.directory}", title="Report exported", timeout=10, markup=False)

    def action_open_output(self) -> None:
        pane = self.query_one(LogPane)
        path = pane.spool_path()
        if path is not None and path.exists():
            self.app.push_screen(OutputModal(path, f"{pane.step} · {pane.host} · attempt {pane.attempt}"))
        else:
            self.notify(markup=False, message="No output spooled for this step and host yet.", severity="warning")

    def action_next_host(self) -> None:
        self.query_one(LogPane).next_host()
        self._refresh_footer()

    def action_close_incident(self) -> None:
        if self._refused_attempt("close-incident"):
            return

        def close(choice: tuple[str, str] | None) -> None:
            if choice:
                self.send("close", outcome=choice[0], summary=choice[1])

        options = [("resolved", "resolved: the rollback is done"), ("aborted", "aborted: stopped without rollback")]
        required = "A summary is required to close the incident: what was done, what is left."
        modal = ChoiceModal("Close the incident", options, note_label="Summary (required)", note_required=required)
        self.app.push_screen(modal, close)

    def _seat_candidates(self) -> list[str]:
        return rules.seat_candidates(self.session.state, self.session.actor.name)

    def action_request_seat(self) -> None:
        if not self._refused_attempt("request-seat"):
            self.send("request-seat")

    def action_hand_over(self) -> None:
        asked = {r["by"] for r in self.session.state.seat_requests}
        options = [(n, f"{n}{'  (asked for the seat)' if n in asked else ''}") for n in self._seat_candidates()]

        def hand(choice: tuple[str, str] | None) -> None:
            if choice:
                self.send("hand-over", to=choice[0])

        self.app.push_screen(ChoiceModal("Hand the driver seat over to", options, note_label="(no note)"), hand)

    def action_help(self) -> None:
        rows = []
        active = list(self.active_bindings.values())
        for binding_id in ACTIONS:
            keys = [b.binding.key_display or b.binding.key for b in active if b.binding.id == binding_id]
            enabled = self.offered(binding_id.replace("-", "_")) is True
            rows.append((binding_id, ", ".join(keys) or "-", ACTIONS[binding_id][1], enabled))
        if not self.app.is_screen_installed("help"):
            self.app.install_screen(HelpModal(rows), "help")
        help_screen = self.app.get_screen("help")
        assert isinstance(help_screen, HelpModal)
        help_screen.show_rows(rows)
        self.app.push_screen("help")

    async def action_quit(self) -> None:
        running = self.session.state.running
        if running and self.session.is_driver:
            self.notify(
                markup=False,
                message=f"{running} is running: cancel it first (x), or wait.",
                title="Not quitting",
                severity="warning",
            )
            return
        self.app.exit()
