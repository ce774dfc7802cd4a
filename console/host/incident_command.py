"""``warroom tick | note | comms | close``: one command for an incident from the command line.

A running incident gets the command through its attach socket, acting as the named user with the
role its engine gives that user (whoever serves it and the config's ``[[server.users]]``). A stopped
one is resumed under the incident lock by an engine in this process, the user a driver unless the
config names them an observer. Either way the command goes through ``Engine.execute``: every rule
and refusal is the engine's, and journaled. A driver who finds the seat free takes it for the one
command and gives it back; a seat held by someone else stays theirs and the engine refuses.

Ids are checked against the incident's own plan first (read from its journal, nothing written), so
a typo is one line listing the valid ids instead of a journaled refusal.
"""

from __future__ import annotations

import argparse
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.engine import Actor, Engine
from console.engine.actor import Role
from console.engine.incident import CLOSE_OUTCOMES, TICK_RESULTS
from console.host.attach import locate_socket
from console.host.remote import RemoteSession
from console.host.session import LocalSession, Session
from console.model.config import LoadedConfig
from console.model.errors import IncidentError, InputError, NotServed, WarroomError
from console.model.incidents import is_live
from console.model.journal import read_records
from console.model.state import IncidentState, fold

NAMES = ("tick", "note", "comms", "close")
"""The CLI commands this module serves (each the engine command of the same name)."""
VIA = "cli"
"""How a command-line client shows in the incident's presence records."""


@dataclass(frozen=True)
class IncidentCommand:
    """One engine command by name, with its arguments as the attach socket carries them."""

    name: str
    args: dict[str, str]

    @property
    def sends_message(self) -> bool:
        """A comms item sent through its channel (needs the config's ``[notify]``), not recorded."""
        return self.name == "comms" and self.args.get("via") == "channel"


def tick(step: str, check: str, result: str, note: str = "") -> IncidentCommand:
    if result not in TICK_RESULTS:
        raise InputError(f"tick: result must be one of {', '.join(TICK_RESULTS)}, not {result!r}")
    return IncidentCommand("tick", {"step": step, "check": check, "result": result, "note": note})


def note(text: str) -> IncidentCommand:
    if not text.strip():
        raise InputError("note: the text is empty")
    return IncidentCommand("note", {"text": text})


def comms(comm: str, *, sent: bool, note: str = "") -> IncidentCommand:
    """``sent``: record a message sent another way; else send it through its configured channel."""
    return IncidentCommand("comms", {"comm": comm, "note": note, "via": "manual" if sent else "channel"})


def close(outcome: str, summary: str) -> IncidentCommand:
    if outcome not in CLOSE_OUTCOMES:
        raise InputError(f"close: outcome must be one of {', '.join(CLOSE_OUTCOMES)}, not {outcome!r}")
    if not summary.strip():
        raise InputError("close needs --summary TEXT: what happened and how it ended, for the report")
    return IncidentCommand("close", {"outcome": outcome, "summary": summary.strip()})


@dataclass(frozen=True)
class Sent:
    """What became of a command the engine accepted."""

    incident: str
    actor: Actor
    running: bool
    """Through a running engine's socket (else through the journal of a stopped incident)."""
    command: IncidentCommand
    result: Any

    def line(self) -> str:
        a = self.command.args
        what = {
            "tick": lambda: f"{a.get('step')}/{a.get('check')} ticked {a.get('result')}",
            "note": lambda: "note added",
            "comms": lambda: f"{a.get('comm')}: {self.result or 'recorded'}",
            "close": lambda: f"closed: {a.get('outcome')}",
        }[self.command.name]()
        route = "through its running engine" if self.running else "through its journal (not running)"
        return f"incident {self.incident}: {what} by {self.actor.name} ({self.actor.role}), {route}"


async def send(directory: Path, command: IncidentCommand, user: str, config: LoadedConfig | None) -> Sent:
    """Check ``command``'s ids against the incident's plan, then send it as ``user``: to the
    running engine if one serves the incident, else through the journal under the lock."""
    check_ids(command, _read_state(directory))
    try:
        remote = await RemoteSession.connect(locate_socket(directory), user=user, via=VIA, act=True)
    except NotServed:
        return await _send_stopped(directory, command, user, config)
    try:
        result = await _act(remote, command)
        return Sent(remote.state.id, remote.actor, True, command, result)
    finally:
        await remote.aclose()


async def _send_stopped(directory: Path, command: IncidentCommand, user: str, config: LoadedConfig | None) -> Sent:
    if command.sends_message and config is None:
        raise InputError("comms: sending through the channel needs -c CONFIG (its [notify]); or record it with --sent")
    actor = Actor(user, _configured_role(config, user))
    try:
        engine = Engine.resume(directory, actor, config=config)
    except IncidentError as exc:
        if is_live(directory):  # locked by a process that serves no socket (or stopped serving it)
            raise IncidentError(
                f"{exc}, which serves no attach socket: send the command from that process's console, "
                "or wait until it stops"
            ) from None
        raise
    try:
        engine.check_deadlines()  # an RTO that passed while nothing hosted the incident is journaled now
        result = await _act(LocalSession(engine, actor), command)
        return Sent(engine.state.id, actor, False, command, result)
    finally:
        await engine.aclose()


async def _act(session: Session, command: IncidentCommand) -> Any:
    """The command as ``session``'s user: a driver finding the seat free takes it for this command."""
    state = session.state
    take = session.actor.role == "driver" and state.status == "open" and state.driver is None
    if take:
        await session.command("take-seat")
    try:
        return await session.command(command.name, **command.args)
    finally:
        after = session.state
        if take and after.status == "open" and after.driver == session.actor.name:
            with contextlib.suppress(WarroomError):  # the engine takes a seat back from a client that left
                await session.command("release-seat")


def _configured_role(config: LoadedConfig | None, user: str) -> Role:
    """A stopped incident is driven by whoever resumes it, unless the config names them an observer."""
    users = config.model.server.users if config is not None else []
    return next((u.role for u in users if u.name == user), "driver")


def _read_state(directory: Path) -> IncidentState:
    records, _ = read_records(directory / "journal.jsonl", tolerate_torn_tail=True)
    state = fold(records)
    if state.plan is None:
        raise IncidentError(f"{directory}: journal does not start with incident.opened")
    return state


def check_ids(command: IncidentCommand, state: IncidentState) -> None:
    """An unknown step, check or comms id: one line naming the valid ones (nothing is sent)."""
    plan = state.plan
    assert plan is not None
    a = command.args
    if command.name == "tick":
        with_checks = [s for s in plan.ordered_steps() if s.checks]
        step = plan.steps.get(a["step"])
        if step is None or not step.checks:
            known = ", ".join(s.id for s in with_checks) or "none"
            raise InputError(f"tick: incident {state.id} has no step {a['step']!r} with checks (steps: {known})")
        checks = [c for c, _ in step.checks]
        if a["check"] not in checks:
            raise InputError(f"tick: step {step.id} has no check {a['check']!r} (checks: {', '.join(checks)})")
    elif command.name == "comms":
        known = [c["id"] for c in plan.comms]
        if a["comm"] not in known:
            raise InputError(
                f"comms: incident {state.id} has no message {a['comm']!r} (messages: {', '.join(known) or 'none'})"
            )


# ----- the command line ------------------------------------------------------------------------
def add_parsers(sub: argparse._SubParsersAction) -> None:
    """tick, note, comms, close: one command to a running incident (its socket) or a stopped one (its journal)."""

    def incident_command(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        p.add_argument("incident", help="incident id or directory")
        p.add_argument("-c", "--config", help="config file (its state_dir, server users and secrets to mask)")
        p.add_argument("--state-dir", help="where incidents are kept")
        p.add_argument("--as", dest="actor", metavar="NAME", help="who acts (default: the login name)")
        return p

    p = incident_command("tick", "tick a manual check of an incident (running or stopped)")
    p.add_argument("step", help="the manual step")
    p.add_argument("check", help="the check of that step")
    p.add_argument("result", choices=TICK_RESULTS, help="pass, fail or na")
    p.add_argument("--note", default="", help="a note kept with the tick")
    p = incident_command("note", "add a note to an incident's journal")
    p.add_argument("text", help="the note")
    p = incident_command("comms", "record a planned message as sent (--sent) or send it (--send)")
    p.add_argument("comm", metavar="ID", help="the message's id in the communication plan")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--sent", action="store_true", help="it was sent another way: record it")
    how.add_argument("--send", action="store_true", help="send it through its configured channel")
    p.add_argument("--note", default="", help="a note kept with it")
    p = incident_command("close", "close an incident")
    p.add_argument("outcome", choices=CLOSE_OUTCOMES, help="resolved or aborted")
    p.add_argument("--summary", required=True, help="what happened and how it ended (for the report)")


def from_args(args: argparse.Namespace) -> IncidentCommand:
    """The command that ``add_parsers``' subcommand ``args.command`` stands for."""
    if args.command == "tick":
        return tick(args.step, args.check, args.result, args.note)
    if args.command == "note":
        return note(args.text)
    if args.command == "comms":
        return comms(args.comm, sent=args.sent, note=args.note)
    return close(args.outcome, args.summary)
