"""``warroom plan --check``: every ansible step of the plan run in check mode with diff, before any
incident, and what each host would change shown per host. Nothing is changed on a host and
nothing is journaled; secrets given as extra vars are resolved for the run and masked in what is
shown."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from actions.ansible.kind import AnsibleAction
from actions.base import StepRun
from console.model.plan import Plan, PlannedStep
from console.model.sanitize import neutralise
from console.model.secrets import Redactor, resolve_ref


class _Lines:
    """A host's output kept in memory, masked, for printing once the check ran."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._data = bytearray()

    def write(self, data: bytes) -> None:
        self._data += data

    def close(self) -> tuple[int, str]:
        return len(self._data), ""

    def text(self) -> str:
        return neutralise(self._redactor.text(self._data.decode("utf-8", "replace")))


class _CheckContext:
    """The step context of a check run: no engine, no journal; the plan's targets and the config."""

    def __init__(self, plan: Plan, step: PlannedStep, config: Any, redactor: Redactor) -> None:
        self.step = step
        self.targets = [plan.targets[h] for h in step.hosts if h in plan.targets]
        self.cancelled = asyncio.Event()
        self._config, self._redactor = config, redactor
        self.outputs: dict[str, _Lines] = {}
        self.warnings: list[str] = []

    def secret(self, key: str) -> str:
        ref = self.step.secrets.get(key)
        if ref is None:
            from console.model.secrets import lookup

            ref = lookup(self._config, key)
        return resolve_ref(ref, where=f"step {self.step.id}: {key}", redactor=self._redactor)

    def sink(self, host: str) -> _Lines:
        return self.outputs.setdefault(host, _Lines(self._redactor))

    def progress(self, *_: Any, **__: Any) -> None:
        pass

    def warn(self, host: str, message: str) -> None:
        self.warnings.append(self._redactor.text(message))

    def remote_started(self, host: str, pgid: int) -> None:
        pass

    @property
    def connections(self) -> Any:
        return None

    @property
    def config(self) -> Any:
        return self._config


async def _check_step(plan: Plan, step: PlannedStep, config: Any, redactor: Redactor) -> tuple[StepRun, dict]:
    runs, outputs = StepRun(), {}
    for rendering in step.renderings():
        checked = replace(rendering, params={**rendering.params, "check": True})
        ctx = _CheckContext(plan, checked, config, redactor)
        run = await AnsibleAction().run(ctx)  # type: ignore[arg-type]
        runs.outcomes.update(run.outcomes)
        outputs |= {host: lines.text() for host, lines in ctx.outputs.items()}
    return runs, outputs


def check_plan(plan: Plan, config: Any) -> tuple[str, bool]:
    """The check-mode report of every ansible step (text) and whether every host passed."""
    redactor = Redactor()
    out: list[str] = []
    passed = True
    steps = [s for s in plan.ordered_steps() if s.kind == AnsibleAction.kind]
    if not steps:
        return "plan --check: no ansible step in this plan; nothing to check\n", True
    for step in steps:
        out.append(f"\nCheck mode of step {step.id} ({step.title}): ansible --check --diff, nothing is changed")
        run, outputs = asyncio.run(_check_step(plan, step, config, redactor))
        for host in step.hosts:
            outcome = run.outcomes.get(host)
            if outcome is None:
                out.append(f"  {host}: not checked")
                passed = False
                continue
            facts = outcome.facts
            verdict = facts.get("ansible", outcome.status)
            would = f"would change {facts.get('changed', 0)} task(s)" if verdict in ("ok", "changed") else verdict
            error = f": {outcome.error}" if outcome.error else ""
            out.append(f"  {host}: {would}{error}")
            passed = passed and outcome.status == "ok"
            out.extend(f"    {line}" for line in outputs.get(host, "").splitlines() if line.strip())
    return "\n".join(out) + "\n", passed
