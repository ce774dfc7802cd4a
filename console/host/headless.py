"""``warroom run --headless``: every automated step in order, plain progress lines, no screen.

It stops at the first failure (exit 1) and never re-runs a step whose outcome is unknown: an
interrupted step waits for the operator's explicit ``--retry`` or ``--skip``. Nobody is at a keyboard
to type a destructive step's confirmation word, so the operator gives it up front (``--confirm
WORD`` or ``--yes``); without it the run stops before that step, its hosts untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

from console.engine import Actor, Engine, Output
from console.engine.preflight import preflight_gate
from console.host.incident_host import IncidentHost
from console.model import rules
from console.model.clock import Clock, SystemClock, parse_iso
from console.model.config import LoadedConfig
from console.model.errors import CommandRefused, InputError
from console.model.plan import Plan, PlannedStep
from console.model.sanitize import neutralise
from console.model.spool import tail_lines

TAIL_LINES = 15


@dataclass
class HeadlessOptions:
    severity: str = "P0"
    trigger: str = "unspecified"
    detected_at: str | None = None
    incident: Path | None = None
    retry: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    reason: str = ""
    verbose: bool = False
    confirm: frozenset[str] = frozenset()
    """Confirmation words given up front: the destructive steps asking for one of them may run."""
    yes: bool = False
    """Every destructive step may run (``--yes``; the drill confirms its own steps)."""

    def confirms(self, step: PlannedStep) -> bool:
        """The operator said up front that this step may run (a step that is not destructive may)."""
        return not step.destructive or self.yes or step.confirm in self.confirm

    force: bool = False
    """Start a new incident even when the preflight gate fails (the failed lines are journaled)."""


class Autopilot(Protocol):
    """Acts for the people at the manual steps: ``warroom drill`` ticks their checks and closes."""

    def manual_step(self, engine: Engine, actor: Actor, step: PlannedStep, printer: Printer) -> None: ...

    def finished(self, engine: Engine, actor: Actor, printer: Printer) -> None: ...


class Printer:
    """Plain progress lines, time-stamped relative to the incident start."""

    def __init__(self, out: TextIO, clock: Clock, opened_at: str) -> None:
        self.out = out
        self.clock = clock
        self.start = parse_iso(opened_at)

    def line(self, text: str) -> None:
        elapsed = int((self.clock.now() - self.start).total_seconds())
        sign = "-" if elapsed < 0 else ""
        elapsed = abs(elapsed)
        self.out.write(f"[T+{sign}{elapsed // 60:02d}:{elapsed % 60:02d}] {text}\n")
        self.out.flush()


async def run_headless(
    plan: Plan,
    config: LoadedConfig,
    state_root: Path,
    actor: Actor,
    options: HeadlessOptions,
    *,
    out: TextIO = sys.stdout,
    clock: Clock | None = None,
    autopilot: Autopilot | None = None,
) -> int:
    clock = clock or SystemClock()
    check_confirm_words(plan, options.confirm)
    gate = None
    if options.incident is None:  # before anything is opened or touched; a refusal raises PreflightFailed
        gate = await preflight_gate(plan, config, force=options.force, out=out)
    host = IncidentHost.open_or_resume(
        state_root,
        plan,
        config,
        actor,
        incident=options.incident,
        severity=options.severity,
        trigger=options.trigger,
        detected_at=options.detected_at,
        clock=clock,
        preflight=gate,
    )
    async with host:  # `warroom watch` can follow a headless run too
        return await _drive(host.engine, actor, options, out, clock, autopilot)


async def _drive(
    engine: Engine, actor: Actor, options: HeadlessOptions, out: TextIO, clock: Clock, autopilot: Autopilot | None
) -> int:
    state = engine.state
    plan = engine.plan
    printer = Printer(out, clock, state.opened_at)
    severity = plan.severity[state.severity]
    verb = "resumed" if options.incident else "opened"
    printer.line(
        f"incident {state.id} {verb}: {plan.runbook['title']} {plan.runbook['version']} on {plan.environment}, "
        f"{state.severity} {severity['label']}, RTO {severity['rto_minutes']} min, trigger: {state.trigger}"
    )
    printer.line(f"journal: {engine.journal.path}")
    for resume in state.resumes[-1:]:
        if "torn_record" in resume:
            torn = resume["torn_record"]
            printer.line(f"! a torn last record ({torn['bytes']} bytes) was set aside as {torn['saved_as']}")
    interrupted = [s.id for s in state.steps.values() if s.status == "interrupted"]
    for step_id in interrupted:
        printer.line(f"! step {step_id} was interrupted - outcome unknown")
        for host, pgid in (await engine.remote_alive(step_id)).items():
            printer.line(f"! its command is still running on {host} (process group {pgid})")
    if state.status != "open":
        printer.line(f"incident is {state.status}; nothing to run")
        return 1
    if state.driver is None:
        engine.take_seat(actor)
    try:
        for step_id in options.skip:
            engine.skip_step(actor, step_id, options.reason or "skipped from the command line")
            printer.line(f"- {step_id} skipped: {options.reason or 'skipped from the command line'}")
    except CommandRefused as exc:
        printer.line(f"✗ {exc}")
        return 1
    if options.verbose:
        engine.subscribe(lambda event: _echo(event, out))
    loop = asyncio.get_running_loop()
    with _cancel_on_signals(loop, engine, actor, printer):
        for step in plan.ordered_steps():
            if not step.automated:
                if autopilot is not None:
                    autopilot.manual_step(engine, actor, step, printer)
                continue
            status = engine.state.steps[step.id].status
            if rules.settled(status):
                continue
            retry = rules.retryable(status)
            if retry and step.id not in options.retry:
                printer.line(
                    f"✗ step {step.id} is {status}"
                    + (" - outcome unknown; check the hosts" if status == "interrupted" else "")
                    + f"; rerun with --retry {step.id} or --skip {step.id} --reason TEXT"
                )
                return 1
            if not options.confirms(step):
                _stop_before(engine, step, options, printer)
                return 1
            ok = await _run_one(engine, actor, step, retry, printer)
            if not ok:
                printer.line(
                    f"stopped. Resume with: warroom run -c CONFIG --headless --incident {engine.state.id} "
                    f"(--retry {step.id} or --skip {step.id} --reason TEXT)"
                )
                return 1
    printer.line("all automated steps succeeded")
    if autopilot is not None:
        autopilot.finished(engine, actor, printer)
    open_checks = engine.state.open_checks()
    if open_checks:
        printer.line(f"{len(open_checks)} manual checks still open:")
        for step_id, _, text in open_checks:
            out.write(f"    [ ] {plan.steps[step_id].title}: {text}\n")
    return 0


async def _run_one(engine: Engine, actor: Actor, step: PlannedStep, retry: bool, printer: Printer) -> bool:
    phase = engine.plan.phase_of(step.id)
    marker = " [destructive]" if step.destructive else ""
    verb = "retry" if retry else "run"
    printer.line(f"▶ {phase.title} / {step.id}: {step.title} ({verb} on {', '.join(step.hosts)}){marker}")
    try:
        status = await engine.run_step(actor, step.id, confirm=step.confirm, retry=retry)
    except CommandRefused as exc:  # e.g. the interrupted command still runs on a host
        printer.line(f"✗ {exc}")
        return False
    attempt = engine.state.steps[step.id].attempt
    assert attempt is not None
    for host in step.hosts:
        result = attempt.results.get(host, {})
        code = result.get("exit_code")
        detail = f"exit {code}" if code is not None else (result.get("error") or "done")
        facts = result.get("facts") or {}
        if "ansible" in facts:  # an ansible step: ok/changed/failed/unreachable with its task counts
            counts = " ".join(f"{k}={v}" for k, v in facts.items() if isinstance(v, int) and not isinstance(v, bool))
            detail = f"ansible {facts['ansible']}, {counts}"
        line = f"   {host}: {result.get('status', '?')} ({detail}, {result.get('duration', 0):.1f}s)"
        printer.out.write(neutralise(line) + "\n")
        if result.get("status") != "ok":
            if result.get("error") and code is not None:
                printer.out.write(f"     {neutralise(result['error'])}\n")
            _print_tail(engine.output_path(step.id, attempt.number, host), printer.out)
    mark = "✓" if status == "succeeded" else "✗"
    printer.line(f"{mark} {step.id} {status}" + (f": {neutralise(attempt.error)}" if attempt.error else ""))
    return status == "succeeded"


def check_confirm_words(plan: Plan, words: frozenset[str]) -> None:
    """A word no destructive step asks for is a typo: refused before the incident is opened."""
    asked = sorted({step.confirm for step in plan.ordered_steps() if step.destructive})
    unknown = sorted(words - set(asked))
    if unknown:
        known = ", ".join(asked) or "none: the plan has no destructive step"
        raise InputError(f"--confirm {unknown[0]}: no destructive step asks for this word (words: {known})")


def _stop_before(engine: Engine, step: PlannedStep, options: HeadlessOptions, printer: Printer) -> None:
    """Why the run stops before an unconfirmed destructive step, and the words that let it go on."""
    printer.line(f"✗ stopped before {step.id}: destructive; confirm with --confirm {step.confirm} or --yes")
    state = engine.state
    ahead = [s for s in engine.plan.ordered_steps() if s.automated and not rules.settled(state.steps[s.id].status)]
    words = sorted({s.confirm for s in ahead if s.destructive} | options.confirm)
    retry = f" --retry {step.id}" if rules.retryable(state.steps[step.id].status) else ""
    printer.line(
        f"nothing ran on {', '.join(step.hosts)} for {step.id}. Resume with: warroom run -c CONFIG --headless "
        f"--incident {state.id}{retry} --confirm {','.join(words)}"
    )


def _print_tail(path: Path, out: TextIO) -> None:
    if not path.exists():
        return
    lines, _ = tail_lines(path, 8192, TAIL_LINES)
    for line in lines:
        out.write(f"     | {neutralise(line)}\n")
    out.write(f"     (full output: {path})\n")


def _echo(event: object, out: TextIO) -> None:
    if isinstance(event, Output):
        for line in event.lines:
            out.write(f"     {event.host}| {neutralise(line)}\n")
        out.flush()


@contextlib.contextmanager
def _cancel_on_signals(loop: asyncio.AbstractEventLoop, engine: Engine, actor: Actor, printer: Printer):
    """Ctrl-C, SIGTERM or a hang-up cancels the running step (and its remote processes) first."""

    def cancel(signame: str) -> None:
        running = engine.state.running
        if running:
            printer.line(f"{signame}: cancelling {running} (stopping remote processes)")
            with contextlib.suppress(CommandRefused):
                engine.cancel_step(actor, running)

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        try:
            loop.add_signal_handler(sig, cancel, sig.name)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):
            continue  # not the main thread (tests): no signal handling needed there
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
