"""The ``ssh`` step kind: a step's shell commands as one ``set -e`` script, run by the login shell
of every target host at once over the SSH transport (:mod:`actions.transport`)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from actions.base import Action, HostOutcome, PlannedCommand, PreflightContext, Probe, StepContext, StepRun, Target
from actions.params import NoParams
from actions.sudo import sudo_password_key, sudo_probes
from actions.transport import cwd_probes, run_script, wrap_script
from console.model.errors import ActionError

if TYPE_CHECKING:
    from console.model.plan import PlannedStep
    from console.model.runbook import Step


def build_script(step: PlannedStep, *, sudo_password: bool = False) -> str:
    return wrap_script(
        step.commands, cwd=step.cwd, secret_vars=tuple(step.secret_env), sudo=step.sudo, sudo_password=sudo_password
    )


def display_command(step: PlannedStep) -> str:
    """What the operator reads in plans and confirmations: no script plumbing, no secrets."""
    secrets = " ".join(f"{var}=<secret {key}>" for var, key in step.secret_env.items())
    body = " && ".join(step.commands)
    if step.sudo:
        body = f"sudo sh -c '{body}'"
    parts = [p for p in (f"cd {step.cwd}" if step.cwd else "", f"{secrets} {body}".strip() if secrets else body) if p]
    return " && ".join(parts)


class SSHAction(Action):
    kind = "ssh"
    params_model = NoParams
    unknown_params = "an ssh step takes no params (its commands say what it does); remove {names}"
    runs_commands = True

    @classmethod
    def check_step(cls, step: Step) -> tuple[str, str] | None:
        problem = super().check_step(step)
        if problem:
            return problem
        if not step.commands:
            return ("commands", "an ssh step needs at least one command")
        return None

    def preflight(self, ctx: PreflightContext) -> list[Probe]:
        """The cwd its commands run in exists on every host; with ``sudo``, sudo lets the user in."""
        return [*cwd_probes(ctx), *(sudo_probes(ctx) if ctx.step.sudo else [])]

    def plan(self, step: PlannedStep) -> list[PlannedCommand]:
        text = display_command(step)
        return [PlannedCommand(host, text) for host in step.hosts]

    async def run(self, ctx: StepContext) -> StepRun:
        secrets = [ctx.secret(key) for key in ctx.step.secret_env.values()]
        if any("\n" in s for s in secrets):
            raise ActionError(f"step {ctx.step.id}: a secret for secret_env contains a newline")
        stdin = "".join(f"{s}\n" for s in secrets).encode()
        results = await asyncio.gather(*(self._run_on(ctx, target, stdin) for target in ctx.targets))
        return StepRun({r.host: r for r in results})

    async def _run_on(self, ctx: StepContext, target: Target, stdin: bytes) -> HostOutcome:
        """A host's own script: with sudo and a ``sudo_password``, that password is stdin's first line."""
        if not (ctx.step.sudo and target.sudo_password):
            return await run_script(ctx, target, build_script(ctx.step), stdin)
        password = ctx.secret(sudo_password_key(target))
        if "\n" in password:
            raise ActionError(f"step {ctx.step.id}: {sudo_password_key(target)} contains a newline")
        return await run_script(
            ctx, target, build_script(ctx.step, sudo_password=True), f"{password}\n".encode() + stdin
        )
