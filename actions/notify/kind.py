"""Notifications from the communication plan: Slack, the status page, e-mail.

A step fills its ``template`` (Python ``str.format``) with the incident's facts and sends it over
a channel of the config's ``[notify]``. A notification that fails is reported in the output and
journaled as a warning, and the step still ends ok with ``delivered = false``: telling people
must never block the rollback itself. The step runs on the warroom machine (no targets).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from actions.base import LOCAL_HOST, Action, HostOutcome, PlannedCommand, PreflightContext, Probe, StepContext, StepRun
from actions.notify.params import NotifyParams, template_problem
from actions.notify.send import CHANNELS, DeliveryResult, send
from actions.params import ParamError
from console.model.errors import ActionError, CheckWarning, WarroomError
from console.model.facts import FACTS, incident_facts

if TYPE_CHECKING:
    from console.model.plan import PlannedStep
    from console.model.runbook import Step

__all__ = ["FACTS", "DeliveryResult", "NotifyAction", "incident_facts", "send", "template_problem"]

UNKNOWN = "unknown"


class NotifyAction(Action):
    kind = "notify"
    needs_targets = False
    params_model = NotifyParams
    commands_hint = "a notify step runs no commands; give params.channel and params.template"

    @classmethod
    def check_step(cls, step: Step) -> tuple[str, str] | None:
        if step.targets:
            return ("targets", "a notify step runs on the warroom machine: remove targets")
        return super().check_step(step)

    def plan(self, step: PlannedStep) -> list[PlannedCommand]:
        hosts = step.hosts or (LOCAL_HOST,)
        try:
            p: NotifyParams = self.parse_params(step.params, step.timeout)
        except ParamError as exc:
            return [PlannedCommand(host, f"invalid {exc}") for host in hosts]
        channel = str(p.channel)
        where = {"slack": "Slack webhook", "statuspage": "status-page webhook", "email": "e-mail"}.get(channel, channel)
        subject = f" subject {p.subject!r}" if p.subject else ""
        text = f"send {channel} ({where} from [notify.{channel}]){subject}: {p.template!r}"
        return [PlannedCommand(host, text) for host in hosts]

    def preflight(self, ctx: PreflightContext) -> list[Probe]:
        """The channel configured and its secret resolvable: a warning when not (a notification
        never blocks the rollback, so neither does its preflight)."""
        channel = str(ctx.step.params.get("channel", ""))

        async def run() -> str:
            settings = getattr(ctx.config.notify, channel, None) if channel in CHANNELS else None
            if settings is None:
                raise CheckWarning(f"channel {channel!r} is not configured in [notify]: it will not be sent")
            key = {"slack": "webhook_url", "statuspage": "url", "email": "password"}[channel]
            if getattr(settings, key, None):
                try:
                    ctx.secret(f"notify.{channel}.{key}")
                except WarroomError as exc:
                    raise CheckWarning(f"{exc}: the {channel} notifications will not be sent") from None
            return "configured"

        return [Probe(LOCAL_HOST, f"notify channel {channel}", run)]

    async def run(self, ctx: StepContext) -> StepRun:
        host = (ctx.step.hosts or (LOCAL_HOST,))[0]
        sink = ctx.sink(host)
        started = time.monotonic()
        try:
            p: NotifyParams = self.step_params(ctx.step)
        except ActionError as exc:  # the plan checks params; a bad one still never blocks the rollback
            channel = str(ctx.step.params.get("channel", "?"))
            result: DeliveryResult | None = DeliveryResult(channel, False, "-", error=str(exc))
            text = ""
        else:
            channel, facts = str(p.channel), _facts(ctx)
            text, subject = _fill(ctx, host, str(p.template), facts), _fill(ctx, host, p.subject, facts)
            sink.write(f"notify {channel}: {text}\n".encode())
            try:
                config = ctx.config
            except WarroomError as exc:  # no config: report it, never block the rollback
                result = DeliveryResult(channel, False, "-", error=str(exc))
            else:
                result = await self._deliver(ctx, config, p, text, subject, facts)
        if result is None:
            outcome = HostOutcome(host, "cancelled", error=f"step {ctx.step.id}: {channel} notification cancelled")
        else:
            outcome = _report(ctx, host, sink, result, text)
        outcome.bytes, outcome.sha256 = sink.close()
        outcome.duration = time.monotonic() - started
        return StepRun({host: outcome})

    @staticmethod
    async def _deliver(ctx, config, p: NotifyParams, text: str, subject: str, facts) -> DeliveryResult | None:
        """The delivery, unless the driver cancels first (None)."""
        channel = str(p.channel)
        sending = asyncio.create_task(
            send(config, channel, text, subject=subject, secret=ctx.secret, facts=facts, timeout=p.timeout)
        )
        cancelled = asyncio.create_task(ctx.cancelled.wait())
        try:
            done, _ = await asyncio.wait(
                {sending, cancelled}, timeout=ctx.step.timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            cancelled.cancel()
        if sending in done:
            return sending.result()
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)
        if ctx.cancelled.is_set():
            return None
        return DeliveryResult(channel, False, "-", error=f"not sent within the step timeout ({ctx.step.timeout}s)")


def _report(ctx: StepContext, host: str, sink, result: DeliveryResult, text: str) -> HostOutcome:
    facts = {**result.facts(), "message": text}
    if result.delivered:
        sink.write(f"delivered over {result.channel} to {result.target}: {result.detail}\n".encode())
        return HostOutcome(host, "ok", facts=facts)
    warning = f"{result.channel} notification NOT delivered: {result.error}; the rollback continues"
    sink.write(f"{warning}\n".encode())
    ctx.warn(host, f"step {ctx.step.id}: {warning}")
    return HostOutcome(host, "ok", facts=facts)


def _fill(ctx: StepContext, host: str, template: str, facts: dict[str, str]) -> str:
    """The filled template; one that cannot be filled (a placeholder rendered braces into it) is
    sent as written, with a warning, rather than holding the message back."""
    try:
        return template.format(**facts)
    except (KeyError, ValueError, IndexError, AttributeError) as exc:
        ctx.warn(host, f"step {ctx.step.id}: template cannot be filled ({exc}); sent as written")
        return template


def _facts(ctx: StepContext) -> dict[str, str]:
    """The incident's facts, or what the step itself knows when the context carries no incident."""
    state = getattr(ctx, "incident", None)
    if state is not None and state.plan is not None:
        clock = getattr(ctx, "clock", None)
        now = clock.now() if clock is not None else datetime.now(UTC)
        return incident_facts(state, now)
    return {**dict.fromkeys(FACTS, UNKNOWN), "phase": ctx.step.phase}
