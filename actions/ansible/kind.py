"""The ``ansible`` step kind: a playbook (or one module, ad hoc) run through ansible-runner against
the step's hosts, every host's events streamed to its output and its outcome journaled.

Ansible runs here, on the warroom machine, and reaches the hosts with the OpenSSH client under the
same rule as warroom's own transport: the host key strictly from the configured known_hosts.
Each host ends ok, changed, failed or unreachable (with task counts) or not attempted, when a
failure policy stopped the play before its turn; a cancel or a timeout kills ansible-playbook's
whole process group and says which hosts had a task in flight (their outcome is unknown).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from actions.ansible import install
from actions.ansible.job import OutcomeBuilder, build_job
from actions.ansible.params import AnsibleParams
from actions.ansible.playbook import describe
from actions.ansible.runner import run_job
from actions.ansible.tally import Tally
from actions.ansible.workspace import Workspace, leftovers
from actions.base import LOCAL_HOST, Action, PlannedCommand, PreflightContext, Probe, StepContext, StepRun
from actions.params import ParamError
from console.model.errors import ActionError

if TYPE_CHECKING:
    from console.model.plan import PlannedStep


class AnsibleAction(Action):
    kind = "ansible"
    params_model = AnsibleParams
    commands_hint = "an ansible step runs params.playbook or params.module; give params ({known})"
    path_params = ("playbook", "inventory")
    """Paths read relative to the runbook file (the plan makes them absolute)."""

    @classmethod
    def secret_keys(cls, params: dict[str, Any]) -> dict[str, str]:
        found = params.get("secret_vars")
        if not isinstance(found, dict):
            return {}
        return {f"secret_vars.{name}": key for name, key in found.items() if isinstance(key, str)}

    def plan(self, step: PlannedStep) -> list[PlannedCommand]:
        try:
            p: AnsibleParams = self.parse_params(step.params, step.timeout)
        except ParamError as exc:
            return [PlannedCommand(host, f"invalid {exc}") for host in step.hosts]
        lines = [command_line(p, step)]
        if not p.ad_hoc:
            try:
                lines += describe(p.playbook)
            except ActionError as exc:
                lines.append(f"(plays not listed: {exc})")
        return [PlannedCommand(host, line) for host in step.hosts for line in lines]

    def preflight(self, ctx: PreflightContext) -> list[Probe]:
        """Ansible installed (with how to install it), the playbook and inventory readable."""
        params = ctx.step.params

        async def run() -> str:
            problem = install.missing()
            if problem:
                raise ActionError(problem)
            for key in ("playbook", "inventory"):
                path = params.get(key)
                if path:
                    try:
                        with open(path, "rb"):  # noqa: PTH123
                            pass
                    except OSError as exc:
                        raise ActionError(f"step {ctx.step.id}: params.{key} {path}: {exc.strerror}") from None
            if params.get("playbook"):
                describe(params["playbook"])
            return "installed" + (", playbook readable" if params.get("playbook") else "")

        return [Probe(LOCAL_HOST, f"ansible for step {ctx.step.id}", run)]

    async def run(self, ctx: StepContext) -> StepRun:
        p: AnsibleParams = self.step_params(ctx.step)
        install.require(ctx.step.id)
        hosts = list(ctx.step.hosts)
        sinks = {h: ctx.sink(h) for h in hosts}
        started = time.monotonic()
        tally = Tally(hosts)
        owner = f"{getattr(getattr(ctx, 'incident', None), 'id', 'no-incident')}/{ctx.step.id}"
        still = leftovers(owner)
        if still:
            pids = " ".join(map(str, still))
            raise ActionError(
                f"step {ctx.step.id}: an earlier attempt's ansible run is still running on this machine "
                f"(pids {pids}; warroom stopped while it ran): wait for it, or stop it (kill {pids}), then retry"
            )
        workspace = Workspace(owner)
        try:
            job = build_job(workspace, ctx, p)
            for sink in sinks.values():
                sink.write(f"$ {command_line(p, ctx.step)}\n".encode())

            def on_event(event: dict[str, Any]) -> None:
                for host, text in tally.fold(event):
                    for target in [host] if host else hosts:
                        sinks[target].write(f"{text}\n".encode())

            finished = await run_job(job, on_event, ctx.cancelled, ctx.step.timeout)
        finally:
            workspace.close()
        outcomes = OutcomeBuilder(ctx, p, tally, finished).outcomes()
        for host, outcome in outcomes.items():
            sinks[host].write(f"RECAP {tally.hosts[host].summary()}\n".encode())
            outcome.bytes, outcome.sha256 = sinks[host].close()
            outcome.duration = time.monotonic() - started
        return StepRun(outcomes)


def command_line(p: AnsibleParams, step: PlannedStep) -> str:
    """What runs, as the operator reads it: secrets by their variable name only."""
    words = (
        ["ansible", "all", "-m", p.module, *(["-a", repr(p.args)] if p.args else [])]
        if p.ad_hoc
        else ["ansible-playbook", p.playbook]
    )
    if p.check:
        words += ["--check", "--diff"]
    words += ["-i", p.inventory or "<generated from the config's hosts>"]
    limit = p.limit or (",".join(step.hosts) if p.inventory else "")
    if limit:
        words += ["--limit", limit]
    words += ["--forks", str(p.forks)]
    if p.serial != "":
        words.append(f"[serial {p.serial}]")
    if p.max_fail_percentage is not None:
        words.append(f"[max_fail_percentage {p.max_fail_percentage}]")
    if p.vars:
        words.append("-e " + " ".join(f"{k}={v}" for k, v in p.vars.items()))
    if p.secret_vars:
        words.append("-e " + " ".join(f"{k}=<secret {v}>" for k, v in p.secret_vars.items()))
    return " ".join(words)
