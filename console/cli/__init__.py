"""The ``warroom`` command line. Every failure is one titled line, never a traceback.

Each command imports what it needs when it runs: ``run`` and ``drill`` paint their first frame
before the step kinds, pydantic and the engine load (``benchmarks/drill_first_paint.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING

from console.cli.args import INCIDENT_COMMANDS, PAINT_FIRST, SESSION_ENTRY, SESSION_PRELOAD, parser
from console.model.errors import InputError, WarroomError

if TYPE_CHECKING:
    from console.model.config import LoadedConfig
    from console.model.plan import Plan
    from console.model.runbook import LoadedRunbook
    from screens.startup import RunEnvironment


def _load(args: argparse.Namespace) -> tuple[LoadedConfig, LoadedRunbook]:
    """The config and its runbook. A runbook that is not there is the config key's fault (or the
    option's); any other runbook error names the runbook file and its own key."""
    from actions.registry import KINDS
    from console.model.config import load_config
    from console.model.errors import RunbookMissing
    from console.model.runbook import load_runbook

    config = load_config(args.config)
    if args.runbook:
        return config, load_runbook(args.runbook, KINDS)
    ref = config.runbook_ref()  # a relative path is read beside the config
    try:
        return config, load_runbook(ref, KINDS)
    except RunbookMissing as exc:
        written = config.model.environment.runbook
        looked = f" (looked for {ref}, beside the config)" if ref != written else ""
        raise config.error(("environment", "runbook"), f"{written}: {exc.problem}{looked}") from None


def _cmd_init(args: argparse.Namespace) -> int:
    from actions.registry import KINDS
    from console.model.runbook import load_runbook
    from console.model.starter import write_starter

    runbook = load_runbook(args.runbook, KINDS)
    path = Path(args.output)
    write_starter(runbook, path, force=args.force)
    print(f"wrote {path} for runbook {runbook.id}; edit the hosts, then: warroom check -c {path}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    """The config and runbook, then the same preflight gate a run passes before its first step."""
    from console.engine.preflight import render, run_gate
    from console.model.plan import build_plan
    from console.model.sanitize import neutralise

    config, runbook = _load(args)
    plan = build_plan(runbook, config)
    print(f"{config.source.name}: valid; runbook {runbook.id} {runbook.model.runbook.version}: valid")
    result = asyncio.run(run_gate(plan, config))
    sys.stdout.write(neutralise(render(result)))  # a host's answers (a disconnect reason) shown as text
    if not result.passed:
        print("a run would be refused: fix the failed lines (or start it anyway with warroom run --force)")
        return 1
    return 0


def _cmd_plan(args: argparse.Namespace) -> int:
    from actions.registry import KINDS
    from console.model.history import run_history
    from console.model.incident_dir import incidents_dir, state_root
    from console.model.plan import build_plan
    from console.model.plan_text import render_plan

    config, runbook = _load(args)
    plan = build_plan(runbook, config)
    if args.severity and args.severity not in plan.severity:
        raise InputError(f"--severity {args.severity}: runbook {runbook.id} defines {', '.join(plan.severity)}")
    history = run_history(incidents_dir(state_root(config, args.state_dir)), plan) if args.severity else None
    sys.stdout.write(render_plan(plan, KINDS, args.severity, history.to_dict(plan) if history else None))
    if args.check:
        from console.cli.plan_check import plan_check

        return plan_check(plan, config)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    if args.skip and not args.reason:
        raise InputError("--skip needs --reason: say why the step is skipped")
    if not args.headless and (args.confirm or args.yes):
        raise InputError("--confirm and --yes are for --headless: the console asks for each word")
    if not args.headless and not args.incident:
        return _run_console(args)
    from console.engine import Actor
    from console.host.headless import HeadlessOptions, run_headless
    from console.model.incident_dir import incident_dir, state_root

    config, runbook = _load(args)
    plan = _bound_plan(args, config, runbook)
    severity = args.severity or "P0"
    detected_at = _detected_at(args.detected_at) if args.detected_at else None
    root = state_root(config, args.state_dir)
    actor = Actor(args.actor or getpass.getuser(), "driver")
    if not args.headless:  # a resumed incident: refused before any screen (IncidentHost.resume)
        from screens.launch import run_console  # the core stays importable without Textual

        resumed = {"incident": incident_dir(root, args.incident), "trigger": args.trigger or ""}
        return run_console(plan, config, root, actor, severity=severity, detected_at=detected_at, **resumed)
    options = HeadlessOptions(
        severity=severity,
        trigger=args.trigger or "unspecified",
        confirm=frozenset(w.strip() for words in args.confirm for w in words.split(",") if w.strip()),
        yes=args.yes,
        detected_at=detected_at,
        incident=incident_dir(root, args.incident) if args.incident else None,
        retry=tuple(args.retry),
        skip=tuple(args.skip),
        reason=args.reason,
        verbose=args.verbose,
        force=args.force,
    )
    return asyncio.run(run_headless(plan, config, root, actor, options))


def _bound_plan(args: argparse.Namespace, config: LoadedConfig, runbook: LoadedRunbook) -> Plan:
    from console.model.plan import build_plan

    plan = build_plan(runbook, config)
    severity = args.severity or "P0"
    if severity not in plan.severity:
        raise InputError(f"--severity {severity}: runbook {runbook.id} defines {', '.join(plan.severity)}")
    return plan


def _run_environment(args: argparse.Namespace) -> RunEnvironment:
    """The config, runbook (its step kinds) and bound plan: loaded behind the console's first frame."""
    from console.model.incident_dir import state_root
    from screens.startup import RunEnvironment

    config, runbook = _load(args)
    return RunEnvironment(_bound_plan(args, config, runbook), config, state_root(config, args.state_dir))


def _run_console(args: argparse.Namespace) -> int:
    from screens.startup import run_console_first

    return run_console_first(
        lambda: _run_environment(args),
        title=f"warroom run: preparing the incident ({args.config})",
        actor=args.actor or getpass.getuser(),
        severity=args.severity or "P0",
        trigger=args.trigger or "",
        detected_at=_detected_at(args.detected_at) if args.detected_at else None,
        force=args.force,
    )


def _cmd_drill(args: argparse.Namespace) -> int:
    from console.drill.options import DrillOptions

    options = DrillOptions(
        headless=args.headless,
        fail=args.fail,
        severity=args.severity,
        directory=Path(args.dir) if args.dir else None,
        keep=args.keep,
        state_dir=Path(args.state_dir).expanduser().resolve() if args.state_dir else None,
        verbose=args.verbose,
        actor=args.actor,
        serve_port=args.serve,
        listen=args.listen,
        authorized_keys=Path(args.authorized_keys) if args.authorized_keys else None,
        ansible=args.ansible,
        http=args.http,
    )
    if args.ansible:
        options.trigger = "Game day: rehearsal of an ansible step"
    if not options.headless:
        from screens.startup import drill_console_first

        def make_drill():  # in the startup thread, behind the first frame
            from console.drill.run import ConsoleDrill

            return ConsoleDrill(options)

        return drill_console_first(make_drill, options, session_entry=SESSION_ENTRY, session_preload=SESSION_PRELOAD)
    from console.drill.run import run_drill

    return run_drill(options)


def _detected_at(text: str) -> str:
    """An ISO 8601 moment in the past, normalised to UTC; naive times are taken as UTC."""
    from console.model.clock import SystemClock, iso, parse_iso

    try:
        moment = parse_iso(text)
    except ValueError:
        raise InputError(f"--detected-at {text!r}: not an ISO 8601 time (e.g. 2026-11-29T02:55:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment > SystemClock().now():
        raise InputError(f"--detected-at {text!r}: is in the future")
    return iso(moment)


def _root_for(args: argparse.Namespace) -> Path:
    from console.model.config import load_config
    from console.model.incident_dir import state_root

    config = load_config(args.config) if args.config else None
    return state_root(config, args.state_dir)


def _cmd_serve(args: argparse.Namespace) -> int:
    from console.engine import Actor
    from console.host.serve import ServeOptions, serve
    from console.model.incident_dir import incident_dir, state_root
    from console.model.plan import build_plan

    config, runbook = _load(args)
    plan = build_plan(runbook, config)
    root = state_root(config, args.state_dir)
    options = ServeOptions(
        incident=incident_dir(root, args.incident) if args.incident else None,
        severity=args.severity,
        trigger=args.trigger,
        detected_at=_detected_at(args.detected_at) if args.detected_at else None,
        listen=args.listen,
        port=args.port,
        session_entry=SESSION_ENTRY,
        session_preload=SESSION_PRELOAD,
        force=args.force,
        http=args.http,
    )
    actor = Actor(args.actor or getpass.getuser(), "driver")
    return asyncio.run(serve(plan, config, root, actor, options))


def _cmd_watch(args: argparse.Namespace) -> int:
    from console.host.attach import locate_socket
    from console.model.incident_dir import incident_dir
    from console.model.incidents import list_incidents
    from screens.launch import run_attached  # the console is a client; the core stays headless

    root = _root_for(args)
    if args.incident:
        directory = incident_dir(root, args.incident)
    else:
        live = [r for r in list_incidents(root) if r.status == "open (live)"]
        if len(live) != 1:
            found = ", ".join(r.id for r in live) or "none"
            raise InputError(f"name the incident to watch: {len(live)} running in {root} ({found})")
        directory = incident_dir(root, live[0].id)
    return run_attached(locate_socket(directory), user=getpass.getuser(), via="watch")


def _cmd_attach(args: argparse.Namespace) -> int:
    """A session child of the SSH server: the token arrives in the environment, not in argv."""
    import os

    from screens.launch import run_attached

    token = os.environ.pop("WARROOM_ATTACH_TOKEN", "")
    if not token:
        raise InputError("attach needs WARROOM_ATTACH_TOKEN (it is started by warroom serve)")
    return run_attached(Path(args.socket), token=token, via=args.via)


def _cmd_incident_command(args: argparse.Namespace) -> int:
    from console.host import incident_command
    from console.model.config import load_config
    from console.model.incident_dir import incident_dir, state_root

    command = incident_command.from_args(args)
    config = load_config(args.config) if args.config else None
    directory = incident_dir(state_root(config, args.state_dir), args.incident)
    sent = asyncio.run(incident_command.send(directory, command, args.actor or getpass.getuser(), config))
    print(sent.line())
    return 0


def _cmd_incidents(args: argparse.Namespace) -> int:
    from console.model.incidents import list_incidents

    rows = list_incidents(_root_for(args))
    if not rows:
        print("no incidents")
        return 0
    print(f"{'INCIDENT':<22} {'STATUS':<34} {'SEV':<4} {'RUNBOOK':<20} {'OPENED':<25} {'STEPS':<7} DRIVER")
    for r in rows:
        steps = f"{r.done}/{r.total}"
        print(f"{r.id:<22} {r.status:<34} {r.severity:<4} {r.runbook:<20} {r.opened_at:<25} {steps:<7} {r.driver}")
    return 0


def _cmd_journal(args: argparse.Namespace) -> int:
    from console.model.errors import SealMismatch
    from console.model.incident_dir import incident_dir
    from console.model.journal import check as check_journal

    directory = incident_dir(_root_for(args), args.incident)
    path = directory / "journal.jsonl"
    checked = check_journal(path)
    records = checked.records
    if args.last_hash:
        held = next((r for r in records if r["hash"] == args.last_hash.strip().lower()), None)
        if held is None:
            raise SealMismatch(
                str(path), f"no record has the hash {args.last_hash}: it was cut from the end, or the journal rewritten"
            )
        print(f"{path}: holds the hash given as record #{held['seq']} {held['type']}")
    last = records[-1] if records else None
    if last:
        print(
            f"{path}: ok, {len(records)} records, chain intact, last #{last['seq']} {last['type']} at {last['ts']}; "
            f"{checked.seal.describe()}"
        )
    else:
        print(f"{path}: ok, empty; {checked.seal.describe()}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from console.model.config import load_config
    from console.model.incident_dir import incident_dir, state_root
    from console.report import FORMATS, build_report, render, write_atomic
    from console.report.secretvalues import config_secrets

    if args.format not in FORMATS:
        raise InputError(f"--format {args.format}: unknown report format (use {', '.join(FORMATS)})")
    config = load_config(args.config) if args.config else None
    directory = incident_dir(state_root(config, args.state_dir), args.incident)
    report = build_report(directory, secrets=config_secrets(config))
    text = render(report, args.format)
    if args.output:
        write_atomic(Path(args.output), text)
        print(f"wrote {args.output} ({args.format}, incident {report['incident']['id']})", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


COMMANDS = {
    "init": _cmd_init,
    "check": _cmd_check,
    "plan": _cmd_plan,
    "run": _cmd_run,
    "drill": _cmd_drill,
    "serve": _cmd_serve,
    "watch": _cmd_watch,
    "attach": _cmd_attach,
    **dict.fromkeys(INCIDENT_COMMANDS, _cmd_incident_command),
    "incidents": _cmd_incidents,
    "journal": _cmd_journal,
    "report": _cmd_report,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser(incident_commands=not argv or argv[0] not in PAINT_FIRST).parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except WarroomError as exc:
        from console.model.sanitize import neutralise

        print(neutralise(f"warroom: {exc.title}: {exc}"), file=sys.stderr)
        return 2 if isinstance(exc, InputError) else 1
    except KeyboardInterrupt:
        print("warroom: interrupted", file=sys.stderr)
        return 130
