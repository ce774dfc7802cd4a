"""Opening an incident: severity and trigger, with the decision matrix in view.

A severity whose matrix row says rollback "maybe" (or "no") needs an explicit decision with a
reason before the rollback can go on; the decision is journaled with the opening.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from console.model.plan import Plan

OTHER = "Other (describe below)"


@dataclass(frozen=True)
class Opening:
    severity: str
    trigger: str
    decision: str = ""  # "" when the matrix says yes; else "rollback" with the reason
    reason: str = ""


class OpenIncidentModal(ModalScreen[Opening | None]):
    BINDINGS = [
        Binding("escape", "dismiss_none", "Quit", id="open-cancel"),
        Binding("ctrl+o", "submit", "Open incident", id="open-submit", priority=True),
    ]

    def __init__(self, plan: Plan, *, severity: str = "P0", trigger: str = "") -> None:
        super().__init__()
        self._plan = plan
        self._severity = severity
        self._trigger = _known_spelling(trigger.strip(), plan.triggers)

    def compose(self) -> ComposeResult:
        plan = self._plan
        matrix = Table(box=None, expand=False, padding=(0, 2))
        for column in ("Severity", "Respond within", "Rollback", "RTO"):
            matrix.add_column(column, style="bold" if column == "Severity" else "")
        for key, sev in plan.severity.items():
            matrix.add_row(
                Text(f"{key} {sev['label']}"),
                f"{sev['response_minutes']} min",
                Text(sev["rollback"]),
                f"{sev['rto_minutes']} min",
            )
        with Vertical(classes="dialog -wide") as dialog:
            dialog.border_title = escape(f"Open incident · {plan.runbook['title']} {plan.runbook['version']}")
            yield Static(matrix)
            yield Label("Severity")
            with RadioSet(id="severity"):
                for key, sev in plan.severity.items():
                    yield RadioButton(Text(f"{key} {sev['label']}"), value=key == self._severity, name=key)
            yield Label("Trigger")
            known = self._trigger in plan.triggers or not self._trigger
            with RadioSet(id="trigger"):
                for trigger in [*plan.triggers, OTHER]:
                    chosen = trigger == (self._trigger or plan.triggers[0]) if known else trigger == OTHER
                    yield RadioButton(Text(trigger), value=chosen, name=trigger)
            yield Input(
                value="" if known else self._trigger,
                placeholder="what happened (required for Other)",
                id="trigger-other",
            )
            yield Static("", id="decision-rule")
            yield Input(placeholder="why roll back anyway (required here)", id="decision-reason")
            yield Label("", id="open-error", classes="error")
            yield Button("Open incident (ctrl+o)", variant="error", id="open-ok")

    def on_mount(self) -> None:
        self._show_rule()
        self.query_one("#severity", RadioSet).focus()

    def _chosen(self, radio_id: str) -> str:
        pressed = self.query_one(f"#{radio_id}", RadioSet).pressed_button
        return pressed.name if pressed is not None and pressed.name else ""

    @on(RadioSet.Changed, "#severity")
    def _show_rule(self) -> None:
        severity = self._chosen("severity")
        rule = self._plan.severity[severity]["rollback"] if severity else "yes"
        text = {
            "yes": "Rollback required by the decision matrix.",
            "maybe": "Rollback MAYBE: decide explicitly — give the reason to roll back (journaled).",
            "no": "Rollback NOT required by the matrix: rolling back anyway needs a reason (journaled).",
        }[rule]
        self.query_one("#decision-rule", Static).update(text)
        self.query_one("#decision-reason", Input).display = rule != "yes"

    @on(Button.Pressed, "#open-ok")
    @on(Input.Submitted)
    def action_submit(self) -> None:
        error = self.query_one("#open-error", Label)
        severity = self._chosen("severity")
        trigger = self._chosen("trigger")
        if trigger == OTHER:
            trigger = self.query_one("#trigger-other", Input).value.strip()
            if not trigger:
                error.update(Text("Describe the trigger."))
                return
        rule = self._plan.severity[severity]["rollback"]
        reason = self.query_one("#decision-reason", Input).value.strip()
        if rule != "yes" and not reason:
            error.update(Text(f"{severity} says rollback {rule!r}: give the reason to roll back."))
            self.query_one("#decision-reason", Input).focus()
            return
        self.dismiss(Opening(severity, trigger, "rollback" if rule != "yes" else "", reason))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


def _known_spelling(trigger: str, known: Sequence[str]) -> str:
    """``--trigger`` as the runbook spells it when it names one of its triggers in another case, so
    the dialog preselects that trigger instead of "Other"."""
    return next((k for k in known if k.casefold() == trigger.casefold()), trigger)
