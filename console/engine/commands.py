"""Commands by name, as clients send them: one table of name -> arguments -> handler.

The local UI and the attach socket both come through :meth:`CommandsMixin.execute`; the actor is
bound by whoever accepted the client, never taken from the message. Unknown commands and
malformed arguments are refused and journaled like any other refusal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from console.engine.actor import Actor, Role
from console.engine.core import EngineCore
from console.model import rules
from console.model.errors import CommandRefused
from console.report import export_all

Args = dict[str, str]

MAX_ARGUMENT = 8192
"""Characters of one command argument: a note or a summary fits, a crafted 2 MB step name does not
become a 2 MB journal record (the refusal names the argument and this limit, not its value)."""
SHOWN = 40
"""Characters of a client's unknown name (a command, an argument) quoted in a journaled refusal."""


class CommandTarget(Protocol):
    """The engine as the command table calls it: the jobs :class:`~console.engine.incident.Engine`
    combines. A Protocol, because the table sits below that class (importing it would be a cycle)."""

    users: dict[str, Role]
    directory: Path

    def refuse(self, actor: Actor, command: str, reason: str, **args: Any) -> CommandRefused: ...
    def take_seat(self, actor: Actor) -> None: ...
    def request_seat(self, actor: Actor) -> None: ...
    def release_seat(self, actor: Actor) -> None: ...
    def hand_over(self, actor: Actor, to: Actor) -> None: ...
    def start_step(self, actor: Actor, step_id: str, *, confirm: str = "") -> asyncio.Task[None]: ...
    def retry_step(self, actor: Actor, step_id: str, *, confirm: str = "") -> asyncio.Task[None]: ...
    async def refuse_if_still_running(self, actor: Actor, step_id: str) -> None: ...
    def cancel_step(self, actor: Actor, step_id: str) -> None: ...
    def skip_step(self, actor: Actor, step_id: str, reason: str) -> None: ...
    async def preview_step(self, actor: Actor, step_id: str) -> dict[str, str]: ...
    def tick(self, actor: Actor, step_id: str, check_id: str, result: str, note: str = "") -> None: ...
    def add_note(self, actor: Actor, text: str) -> None: ...
    async def send_comms(self, actor: Actor, comm_id: str, note: str = "", *, via: str = "channel") -> str: ...
    def record_decision(self, actor: Actor, decision: str, reason: str) -> None: ...
    def change_severity(self, actor: Actor, severity: str, reason: str = "") -> None: ...
    def close(self, actor: Actor, outcome: str = "resolved", summary: str = "") -> None: ...


Handler = Callable[[CommandTarget, Actor, Args], Any]
"""(engine, actor, arguments) -> result (a coroutine for an ``awaited`` command)."""


@dataclass(frozen=True)
class Command:
    """A command's string arguments and what runs it. ``awaited`` handlers are coroutines whose
    result is the reply; the others return nothing to the client (a started step runs on)."""

    handler: Handler
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    awaited: bool = False


def _hand_over(engine: CommandTarget, actor: Actor, a: Args) -> None:
    role = engine.users.get(a["to"])
    if role is None:
        raise engine.refuse(actor, "hand-over", f"{a['to']} is not a known user", to=a["to"])
    engine.hand_over(actor, Actor(a["to"], role))


async def _export(engine: CommandTarget, actor: Actor, a: Args) -> list[str]:
    """The report files, written by the engine into its incident directory: a console never writes
    files on the server itself (an observer's is refused, journaled like any refusal)."""
    reason = rules.export_refusal(actor)
    if reason:
        raise engine.refuse(actor, "export", reason)
    paths = await asyncio.to_thread(export_all, engine.directory)
    return [path.name for path in paths]


async def _retry(engine: CommandTarget, actor: Actor, a: Args) -> None:
    await engine.refuse_if_still_running(actor, a["step"])
    engine.retry_step(actor, a["step"], confirm=a["confirm"])


COMMANDS: dict[str, Command] = {
    "take-seat": Command(lambda e, actor, a: e.take_seat(actor)),
    "request-seat": Command(lambda e, actor, a: e.request_seat(actor)),
    "release-seat": Command(lambda e, actor, a: e.release_seat(actor)),
    "hand-over": Command(_hand_over, ("to",)),
    "start": Command(lambda e, actor, a: e.start_step(actor, a["step"], confirm=a["confirm"]), ("step",), ("confirm",)),
    "retry": Command(_retry, ("step",), ("confirm",), awaited=True),
    "cancel": Command(lambda e, actor, a: e.cancel_step(actor, a["step"]), ("step",)),
    "skip": Command(lambda e, actor, a: e.skip_step(actor, a["step"], a["reason"]), ("step", "reason")),
    "tick": Command(
        lambda e, actor, a: e.tick(actor, a["step"], a["check"], a["result"], a["note"]),
        ("step", "check", "result"),
        ("note",),
    ),
    "note": Command(lambda e, actor, a: e.add_note(actor, a["text"]), ("text",)),
    "comms": Command(
        lambda e, actor, a: e.send_comms(actor, a["comm"], a["note"], via=a["via"] or "channel"),
        ("comm",),
        ("note", "via"),
        awaited=True,
    ),
    "decide": Command(lambda e, actor, a: e.record_decision(actor, a["decision"], a["reason"]), ("decision", "reason")),
    "severity": Command(
        lambda e, actor, a: e.change_severity(actor, a["severity"], a["reason"]), ("severity",), ("reason",)
    ),
    "close": Command(
        lambda e, actor, a: e.close(actor, a["outcome"] or "resolved", a["summary"]), (), ("outcome", "summary")
    ),
    "preview": Command(lambda e, actor, a: e.preview_step(actor, a["step"]), ("step",), awaited=True),
    "export": Command(_export, awaited=True),
}


class CommandsMixin(EngineCore):
    """The engine's one door for clients that name a command instead of calling a method."""

    async def execute(self: CommandTarget, actor: Actor, name: str, args: dict[str, Any]) -> Any:
        """One command by name, as a client sends it (local UI or the attach socket). ``self`` is
        typed as the engine the mixin ends up in: the table's handlers call its other jobs."""
        command = COMMANDS.get(name)
        if command is None:
            raise self.refuse(actor, name[:SHOWN], "unknown command")
        if not isinstance(args, dict):
            raise self.refuse(actor, name, "arguments must be an object")
        problem = _argument_problem(command, args)
        if problem:
            raise self.refuse(actor, name, problem)
        a = {k: args.get(k, "") for k in (*command.required, *command.optional)}
        result = command.handler(self, actor, a)
        return await result if command.awaited else None


def _argument_problem(command: Command, args: dict[str, Any]) -> str:
    unknown = set(args) - set(command.required) - set(command.optional)
    if unknown:
        return f"unknown argument {sorted(unknown)[0][:SHOWN]!r}"
    missing = [k for k in command.required if k not in args]
    if missing:
        return f"missing argument {missing[0]!r}"
    bad = [k for k, v in args.items() if not isinstance(v, str)]
    if bad:
        return f"argument {bad[0]!r} must be a string"
    long = [k for k, v in args.items() if len(v) > MAX_ARGUMENT]
    if long:
        return f"argument {long[0]!r} is {len(args[long[0]])} characters; the limit is {MAX_ARGUMENT}"
    return ""
