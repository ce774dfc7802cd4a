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

from console.model import defaults
from console.model.errors import InputError, WarroomError

if TYPE_CHECKING:
    from console.model.config import LoadedConfig
    from console.model.plan import Plan
    from console.model.runbook import LoadedRunbook
    from screens.startup import RunEnvironment

SEVERITIES = ("P0", "P1", "P2", "P3")
INCIDENT_COMMANDS = ("tick", "note", "comms", "close")
"""``console.host.incident_command.NAMES``, spelt here so the table needs no import."""
SESSION_ENTRY = "console.cli"
"""This module: an SSH session's console runs its ``main`` (the host is handed the name, never imports it)."""
SESSION_PRELOAD = ("screens.launch", "screens.app", "screens.war_room", "console.host.incident_command")
"""What the SSH server's fork server imports once before forking session consoles."""


PAINT_FIRST = ("run", "drill")
"""Commands that may start the console: their parser is built without the incident commands'
(``console.host.incident_command`` imports the engine, which their first frame does not wait for)."""


def _parser(incident_commands: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="warroom", description="Drive an incident rollback step by step, with a journal and a report."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(p: argparse.ArgumentParser, required: bool = True) -> None:
        p.add_argument("-c", "--config", required=required, help="config file (see config.toml.example)")
        p.add_argument("--runbook", help="runbook name or file (default: the config's environment.runbook)")

    p = sub.add_parser("init", help="write a commented starter config for a runbook, from its declared variables")
    p.add_argument("-o", "--output", default="config.toml", help="where to write it (default: config.toml)")
    p.add_argument("--runbook", default=defaults.RUNBOOK, help="runbook name or file (default: the built-in one)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")

    p = sub.add_parser("check", help="validate the config and preflight every host")
    with_config(p)

    p = sub.add_parser("plan", help="print the resolved runbook without touching anything")
    with_config(p)
    p.add_argument("--severity", choices=SEVERITIES, help="mark this severity's RTO and rollback rule")

    p = sub.add_parser("run", help="open (or resume) an incident and run the rollback")
    with_config(p)
    p.add_argument("--headless", action="store_true", help="no screen: run every automated step in order")
    p.add_argument("--severity", help="incident severity (default P0; the console's dialog preselects it)")
    p.add_argument("--trigger", help="what triggered the rollback (the console's dialog preselects it)")
    p.add_argument(
        "--confirm",
        action="append",
        default=[],
        metavar="WORD[,WORD]",
        help="headless: run the destructive steps asking for these confirmation words",
    )
    p.add_argument("--yes", action="store_true", help="headless: run every destructive step without asking")
    p.add_argument(
        "--detected-at", help="when the problem was detected, ISO 8601 (default: now); the RTO counts from it"
    )
    p.add_argument("--incident", help="resume this incident (id or directory)")
    p.add_argument("--retry", action="append", default=[], metavar="STEP", help="retry this failed step")
    p.add_argument("--skip", action="append", default=[], metavar="STEP", help="skip this step (with --reason)")
    p.add_argument("--reason", default="", help="why the --skip steps are skipped")
    p.add_argument(
        "--force", action="store_true", help="start even if the preflight gate fails (the failed checks are journaled)"
    )
    p.add_argument("--as", dest="actor", default=None, help="who drives (default: the login name)")
    p.add_argument("--state-dir", help="where incidents are kept (default: from the config)")
    p.add_argument("-v", "--verbose", action="store_true", help="stream every output line")

    p = sub.add_parser("drill", help="rehearse the built-in rollback against a throw-away sandbox")
    p.add_argument("--headless", action="store_true", help="no screen: run the whole rollback and print the score")
    p.add_argument("--fail", metavar="STEP", help="rehearse a failure of this step")
    p.add_argument("--severity", default="P0", help="incident severity (default P0)")
    p.add_argument("--dir", help="build the sandbox here (default: a temporary directory)")
    p.add_argument("--keep", action="store_true", help="keep the sandbox afterwards")
    p.add_argument("--state-dir", help="keep the drill's incidents here (default: inside the sandbox)")
    p.add_argument("--as", dest="actor", default=None, help="who drives (default: the login name)")
    p.add_argument("-v", "--verbose", action="store_true", help="stream every output line")
    p.add_argument("--serve", type=int, metavar="PORT", help="let trainees join as observers over SSH on PORT")
    p.add_argument("--listen", default="127.0.0.1", help="address for --serve (default 127.0.0.1)")
    p.add_argument("--authorized-keys", help="trainees' public keys (default ~/.ssh/authorized_keys)")

    p = sub.add_parser("serve", help="run the incident for the team: unix socket and built-in SSH server")
    with_config(p)
    p.add_argument("--incident", help="serve this existing incident (id or directory)")
    p.add_argument("--severity", default="P0", help="severity of a new incident (default P0)")
    p.add_argument("--trigger", default="unspecified", help="what triggered the rollback")
    p.add_argument("--detected-at", help="when the problem was detected, ISO 8601 (default: now)")
    p.add_argument("--listen", help="SSH listen address (default: server.listen)")
    p.add_argument("--port", type=int, help="SSH port (default: server.port)")
    p.add_argument("--as", dest="actor", default=None, help="who opens the incident (default: the login name)")
    p.add_argument(
        "--force", action="store_true", help="open even if the preflight gate fails (the failed checks are journaled)"
    )
    p.add_argument("--state-dir", help="where incidents are kept (default: from the config)")

    p = sub.add_parser("watch", help="follow a running incident read-only in the console")
    p.add_argument("incident", nargs="?", help="incident id or directory (default: the one running)")
    p.add_argument("-c", "--config", help="config file (for its state_dir)")
    p.add_argument("--state-dir", help="where incidents are kept")

    # Internal (an SSH session's console, started by warroom serve): a subparser given no help= is
    # left out of the command list, while help=SUPPRESS would list it as "==SUPPRESS==".
    p = sub.add_parser("attach")
    p.add_argument("--socket", required=True)
    p.add_argument("--via", default="ssh")

    p = sub.add_parser("incidents", help="list incidents and their status")
    p.add_argument("-c", "--config", help="config file (for its state_dir)")
    p.add_argument("--state-dir", help="where incidents are kept")

    p = sub.add_parser("journal", help="journal tools")
    jsub = p.add_subparsers(dest="journal_command", required=True, metavar="ACTION")
    v = jsub.add_parser("verify", help="check an incident journal's checksums, chain and seal")
    v.add_argument("incident", help="incident id, directory or journal file")
    v.add_argument(
        "--last-hash",
        metavar="HASH",
        help="a last hash kept elsewhere (the report's): the journal must still hold that record",
    )
    v.add_argument("-c", "--config", help="config file (for its state_dir)")
    v.add_argument("--state-dir", help="where incidents are kept")

    if incident_commands:
        from console.host import incident_command

        incident_command.add_parsers(sub)  # tick, note, comms, close

    p = sub.add_parser("report", help="write the incident report (Markdown, HTML or JSON) from the journal")
    p.add_argument("incident", help="incident id, directory or journal file")
    p.add_argument("--format", default="md", metavar="FORMAT", help="md (default), html or json")
    p.add_argument("-o", "--output", help="write to this file (default: standard output)")
    p.add_argument("-c", "--config", help="config file (for its state_dir; its secrets are masked too)")
    p.add_argument("--state-dir", help="where incidents are kept")
    return parser


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
    from console.model.plan import build_plan
    from console.model.plan_text import render_plan

    config, runbook = _load(args)
    sys.stdout.write(render_plan(build_plan(runbook, config), KINDS, args.severity))
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
    )
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
    args = _parser(incident_commands=not argv or argv[0] not in PAINT_FIRST).parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except WarroomError as exc:
        from console.model.sanitize import neutralise

        print(neutralise(f"warroom: {exc.title}: {exc}"), file=sys.stderr)
        return 2 if isinstance(exc, InputError) else 1
    except KeyboardInterrupt:
        print("warroom: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
