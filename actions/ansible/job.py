"""One ansible step attempt made concrete: the job (inventory, config, 0600 extra vars, the policy
copy of the playbook) and, once it ran, each host's outcome."""

from __future__ import annotations

from typing import Any

from actions.ansible.params import AnsibleParams
from actions.ansible.playbook import with_policy
from actions.ansible.runner import Finished, Job
from actions.ansible.tally import Tally
from actions.ansible.workspace import Workspace, inventory, ssh_args
from actions.base import HostOutcome, StepContext
from console.model.errors import WarroomError


def _groups(ctx: StepContext) -> dict[str, list[str]]:
    try:
        return dict(ctx.config.groups)
    except WarroomError:  # no config at hand (a test's bare engine): the hosts alone
        return {}


def build_job(workspace: Workspace, ctx: StepContext, p: AnsibleParams) -> Job:
    """Write the run's files; the secrets of ``secret_vars`` are resolved here, and only here."""
    step = ctx.step
    common = ""
    if p.inventory:
        # a team's own inventory: its hosts' keys are still checked strictly, against the
        # configured known_hosts of the step's hosts (unless its own ssh args say otherwise)
        known = sorted({t.known_hosts for t in ctx.targets})
        if len(known) == 1:
            common = ssh_args(known[0], ctx.targets[0].connect_timeout)
        else:
            common = "-o StrictHostKeyChecking=yes -o BatchMode=yes"
        inventory_path = p.inventory
    else:
        inventory_path = str(workspace.write_inventory(inventory(ctx.targets, _groups(ctx))))
    workspace.write_config(common)
    extra: dict[str, Any] = dict(p.vars)
    extra |= {name: ctx.secret(key) for name, key in p.secret_vars.items()}
    cmdline = ["-e", f"@{workspace.write_extravars(extra)}"] if extra else []
    if p.check:
        cmdline += ["--check", "--diff"]
    playbook = p.playbook
    if playbook and (p.serial != "" or p.max_fail_percentage is not None):
        playbook = with_policy(playbook, workspace.root / "play", p.serial, p.max_fail_percentage)
    limit = p.limit or (",".join(step.hosts) if p.inventory else "")
    return Job(
        workspace=workspace,
        playbook=playbook,
        module=p.module,
        module_args=p.args,
        inventory=inventory_path,
        limit=limit,
        forks=p.forks,
        verbosity=p.verbosity,
        cmdline=cmdline,
    )


class OutcomeBuilder:
    """Each host's :class:`HostOutcome` from the tally and how the run ended."""

    def __init__(self, ctx: StepContext, p: AnsibleParams, tally: Tally, finished: Finished) -> None:
        self.ctx, self.p, self.tally, self.finished = ctx, p, tally, finished

    def outcomes(self) -> dict[str, HostOutcome]:
        tally, finished, step = self.tally, self.finished, self.ctx.step
        tally.settle()
        if tally.strangers:
            names = ", ".join(sorted(tally.strangers))
            self.ctx.warn(
                step.hosts[0],
                f"step {step.id}: ansible also ran on {names}, not among the step's hosts "
                "(not in its fan-out or journal); narrow params.limit or the inventory",
            )
        in_flight = tally.in_flight()
        found = {}
        for host, t in tally.hosts.items():
            facts = t.facts()
            if self.p.check:
                facts["check_mode"] = True
            if finished.stopped_by:
                outcome = self._stopped(host, facts, in_flight.get(host, ""))
            else:
                outcome = self._ended(host, facts)
            found[host] = outcome
        return found

    def _stopped(self, host: str, facts: dict[str, Any], task: str) -> HostOutcome:
        t = self.tally.hosts[host]
        how = "cancelled" if self.finished.stopped_by == "cancel" else "timed_out"
        said = "cancelled" if how == "cancelled" else f"timed out after {self.ctx.step.timeout}s"
        if task:
            facts |= {"ansible": "in flight", "in_flight": task}
            error = f"{said} while task {task!r} was in flight on {host}: outcome unknown"
        elif t.outcome in ("failed", "unreachable"):
            return HostOutcome(host, "failed" if t.outcome == "failed" else "error", error=t.failure, facts=facts)
        elif not t.started:
            facts["ansible"] = "not attempted"
            error = f"{said} before {host} was attempted"
        else:
            facts["ansible"] = "stopped"
            error = f"{said} between tasks on {host}, after {sum(t.counts.values())} task(s)"
        return HostOutcome(host, how, exit_code=self.finished.rc, error=error, facts=facts)

    def _ended(self, host: str, facts: dict[str, Any]) -> HostOutcome:
        t = self.tally.hosts[host]
        outcome = t.outcome
        if outcome in ("ok", "changed"):
            return HostOutcome(host, "ok", exit_code=0, facts=facts)
        if outcome == "failed":
            return HostOutcome(host, "failed", exit_code=self.finished.rc, error=t.failure, facts=facts)
        if outcome == "unreachable":
            return HostOutcome(host, "error", exit_code=self.finished.rc, error=t.failure, facts=facts)
        general = [line for line in self.tally.general if "ERROR" in line or "error" in line.lower()]
        if general and not any(h.started for h in self.tally.hosts.values()):
            why = " ".join(general[-1].split())[:300]
        else:
            why = (
                "not attempted: ansible stopped before this host's turn (a failure policy: "
                "max_fail_percentage, any_errors_fatal, or a failed serial batch)"
                if any(h.counts["failed"] or h.unreachable for h in self.tally.hosts.values())
                else "not attempted: no play of the playbook targets this host"
            )
        return HostOutcome(host, "error", exit_code=self.finished.rc, error=why, facts=facts)
