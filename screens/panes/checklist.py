"""The phase checklist: phases with windows, steps with status and fan-out, manual checks."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from console.model import rules
from console.model.state import IncidentState

ICONS = {
    "pending": ("○", "dim"),
    "running": ("◐", "bold yellow"),
    "succeeded": ("✓", "green"),
    "failed": ("✗", "bold red"),
    "timed_out": ("⏱", "bold red"),
    "cancelled": ("⊘", "red"),
    "skipped": ("⤼", "magenta"),
    "interrupted": ("?", "bold magenta"),
}
TICK_ICONS = {"pass": ("✓", "green"), "fail": ("✗", "bold red"), "na": ("–", "cyan")}


@dataclass(frozen=True)
class Item:
    """What a tree node stands for."""

    kind: str  # phase | step | check
    phase: str
    step: str = ""
    check: str = ""


class ChecklistPane(Tree[Item]):
    """One node per phase, step and manual check; labels are rebuilt from state on every change."""

    BORDER_TITLE = "Phases"

    def __init__(self, state: IncidentState, **kwargs) -> None:
        super().__init__("rollback", **kwargs)
        self.show_root = False
        self.guide_depth = 2
        self._state = state
        self._items: dict[tuple[str, str, str], TreeNode[Item]] = {}
        self._shown: dict[tuple[str, str, str], tuple[str, tuple]] = {}

    def on_mount(self) -> None:
        plan = self._state.plan
        assert plan is not None
        for phase in plan.phases:
            pnode = self.root.add("", data=Item("phase", phase.id), expand=True)
            self._items[("phase", phase.id, "")] = pnode
            for step_id in phase.steps:
                step = plan.steps[step_id]
                if step.checks:
                    snode = pnode.add("", data=Item("step", phase.id, step_id), expand=True)
                    for check_id, _ in step.checks:
                        cnode = snode.add_leaf("", data=Item("check", phase.id, step_id, check_id))
                        self._items[("check", step_id, check_id)] = cnode
                else:
                    snode = pnode.add_leaf("", data=Item("step", phase.id, step_id))
                self._items[("step", step_id, "")] = snode
        self.refresh_labels()
        self.call_after_refresh(self.move_cursor_to_next_pending)

    @property
    def selected(self) -> Item | None:
        node = self.cursor_node
        return node.data if node is not None else None

    def move_cursor_to_next_pending(self) -> None:
        state = self._state
        assert state.plan is not None
        for step in state.plan.ordered_steps():
            if not rules.settled(state.step_status(step.id)):
                node = self._items[("step", step.id, "")]
                if step.checks:
                    open_check = next((c for c, _ in step.checks if (step.id, c) not in state.ticks), step.checks[0][0])
                    node = self._items[("check", step.id, open_check)]
                self.move_cursor(node)
                return

    def refresh_labels(self) -> None:
        state = self._state
        plan = state.plan
        assert plan is not None
        for number, phase in enumerate(plan.phases, start=1):
            statuses = [state.step_status(s) for s in phase.steps]
            done = sum(rules.settled(s) for s in statuses)
            label = Text.assemble(
                (f"{number} {phase.title}", "bold"),
                (f" · T+{phase.start_minute}–{phase.end_minute}", "dim"),
                (f" · {done}/{len(statuses)}", "green" if done == len(statuses) else "dim"),
            )
            if any(rules.alarming(s) for s in statuses):
                label.append("  !", "bold red")
            self._set(("phase", phase.id, ""), label)
            for step_id in phase.steps:
                self._set(("step", step_id, ""), self._step_label(step_id))
                for check_id, text in plan.steps[step_id].checks:
                    self._set(("check", step_id, check_id), self._check_label(step_id, check_id, text))

    def _set(self, key: tuple[str, str, str], label: Text) -> None:
        """Relabel a node only when its text changed: each relabel re-renders and re-caches it."""
        shown = (label.plain, tuple(label.spans))
        if self._shown.get(key) != shown:
            self._shown[key] = shown
            self._items[key].set_label(label)

    def _step_label(self, step_id: str) -> Text:
        state = self._state
        assert state.plan is not None
        step = state.plan.steps[step_id]
        status = state.step_status(step_id)
        icon, style = ICONS.get(status, ("·", ""))
        label = Text.assemble((f"{icon} ", style), (step.title, "bold" if status == "running" else ""))
        attempt = state.steps[step_id].attempt
        if attempt is not None and step.hosts:
            ok = sum(1 for r in attempt.results.values() if r.get("status") == "ok")
            if attempt.results:
                label.append(f" · {ok}/{len(step.hosts)} ok", "green" if ok == len(step.hosts) else "red")
            duration = sum(r.get("duration", 0) for r in attempt.results.values()) / max(1, len(attempt.results))
            if attempt.results:
                label.append(f" · {duration:.1f}s", "dim")
        if status not in ("pending", "succeeded", "running"):
            label.append(f" · {status.replace('_', ' ')}", style)
        if step.destructive:
            label.append(" ⚠", "bold yellow")
        if not step.automated:
            label.append(" · manual", "dim italic")
        return label

    def _check_label(self, step_id: str, check_id: str, text: str) -> Text:
        tick = self._state.ticks.get((step_id, check_id))
        if tick is None:
            return Text.assemble(("[ ] ", "dim"), text)
        icon, style = TICK_ICONS[tick.result]
        label = Text.assemble((f"[{icon}] ", style), text, (f"  {tick.by} {tick.at[11:16]}", "dim"))
        if tick.note:
            label.append(f"  “{tick.note}”", "italic dim")
        return label
