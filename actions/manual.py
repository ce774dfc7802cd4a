"""Manual steps: verification checklists the driver ticks; nothing runs on a host."""

from __future__ import annotations

from typing import TYPE_CHECKING

from actions.base import Action, PlannedCommand, StepContext, StepRun
from actions.params import NoParams

if TYPE_CHECKING:
    from console.model.plan import PlannedStep
    from console.model.runbook import Step


class ManualAction(Action):
    kind = "manual"
    automated = False
    needs_targets = False
    params_model = NoParams
    unknown_params = "a manual step takes no params (its checks say what the driver verifies); remove {names}"

    @classmethod
    def check_step(cls, step: Step) -> tuple[str, str] | None:
        if not step.checks:
            return ("checks", "a manual step needs at least one check")
        if step.commands:
            return ("commands", 'a manual step runs no commands; use kind = "ssh"')
        return cls.check_params(step)

    def plan(self, step: PlannedStep) -> list[PlannedCommand]:
        return []

    async def run(self, ctx: StepContext) -> StepRun:
        return StepRun()
