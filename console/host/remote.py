"""A session whose engine runs in another process, reached over the incident's unix socket.

State is rebuilt exactly as the engine builds it: a fold of the journal records it streams. The
UI cannot tell this session from a :class:`console.host.session.LocalSession`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from console.engine import Actor
from console.host.session import watchers
from console.host.wire import (
    COMMAND_ARGS,
    COMMAND_ID,
    COMMAND_NAME,
    LINE_LIMIT,
    RECORD,
    REPLY,
    WELCOME,
    Welcome,
    encode,
    hello,
    read_error,
    read_reply,
    read_welcome,
    streamed_event,
)
from console.model import rules
from console.model.clock import Clock, SystemClock
from console.model.errors import CommandRefused, IncidentError, NotServed, WarroomError
from console.model.incident_dir import output_path
from console.model.plan import Plan
from console.model.state import IncidentState, apply, fold

COMMAND_TIMEOUT = 60.0
SERVER_LINE_LIMIT = LINE_LIMIT
"""The longest line read from the engine (one record or one output batch; the journal comes one
record a line after the welcome, so attaching does not depend on its size)."""


class Disconnected:
    """Published when the engine's socket closes: the screen says so instead of freezing."""


class RemoteSession:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, greeting: Welcome, records: list[dict]
    ) -> None:
        """``greeting``: the server's first line; ``records``: the journal it sent after it."""
        self._reader = reader
        self._writer = writer
        self.actor = Actor(greeting.actor_name, greeting.actor_role)
        self._directory = Path(greeting.directory)
        self._state = fold(records)
        self.records: list[dict[str, Any]] = records
        """The journal as streamed (the activity pane starts from it)."""
        self._subscribers: list[Callable[[Any], None]] = []
        self._unheard: list[Any] | None = []  # records and a disconnect before the screen subscribed
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._clock = SystemClock()
        self.connected = True
        self._task = asyncio.get_running_loop().create_task(self._listen())

    @classmethod
    async def connect(
        cls, path: Path, *, token: str | None = None, user: str | None = None, via: str = "watch", act: bool = False
    ) -> RemoteSession:
        """``act``: a command-line client acting as ``user`` (see :mod:`console.host.attach`)."""
        try:
            reader, writer = await asyncio.open_unix_connection(str(path), limit=SERVER_LINE_LIMIT)
        except OSError as exc:
            raise NotServed(f"cannot attach to {path}: {exc.strerror or exc} (is the incident running?)") from None
        writer.write(encode(hello(via, token=token, user=user, act=act)))
        await writer.drain()
        line = await reader.readline()
        message = json.loads(line) if line else {}
        if WELCOME not in message:
            writer.close()
            failure = read_error(message, "no welcome" if line else "connection closed")
            raise IncidentError(f"attach to {path} refused: {failure.message}", title=failure.title)
        greeting = read_welcome(message)
        records = []
        for _ in range(greeting.records):
            record = await _next_record(reader)
            if record is None:
                writer.close()
                raise IncidentError(f"attach to {path}: the engine did not send the whole journal")
            records.append(record)
        return cls(reader, writer, greeting, records)

    # ----- what the UI reads ----------------------------------------------------------------
    @property
    def state(self) -> IncidentState:
        return self._state

    @property
    def plan(self) -> Plan:
        assert self._state.plan is not None
        return self._state.plan

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def is_driver(self) -> bool:
        return rules.is_driver(self.actor, self._state)

    @property
    def watchers(self) -> int:
        return watchers(self._state)

    @property
    def directory(self) -> Path:
        return self._directory

    def output_path(self, step_id: str, attempt: int, host: str) -> Path:
        return output_path(self._directory, step_id, attempt, host)

    def subscribe(self, subscriber: Callable[[Any], None]) -> Callable[[], None]:
        """The first subscriber also hears what arrived since the welcome: the state already holds
        it, but a pane drawn before the screen subscribed would otherwise stay stale."""
        self._subscribers.append(subscriber)
        unheard, self._unheard = self._unheard or [], None
        for event in unheard:
            subscriber(event)
        return lambda: self._subscribers.remove(subscriber)

    # ----- commands ---------------------------------------------------------------------------
    async def command(self, name: str, **args: Any) -> Any:
        if not self.connected:
            raise IncidentError("not connected to the incident's engine any more")
        ident = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        try:
            self._writer.write(encode({COMMAND_ID: ident, COMMAND_NAME: name, COMMAND_ARGS: args}))
            await self._writer.drain()
        except ConnectionError:
            self._pending.pop(ident, None)
            raise IncidentError(f"{name}: the connection to the incident's engine was lost") from None
        try:
            return await asyncio.wait_for(future, COMMAND_TIMEOUT)
        except TimeoutError:
            raise IncidentError(
                f"{name}: no answer from the engine in {COMMAND_TIMEOUT:.0f}s; it may still act on it — "
                "check the journal before sending it again"
            ) from None
        finally:
            self._pending.pop(ident, None)

    async def aclose(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await self._writer.wait_closed()

    # ----- the stream -------------------------------------------------------------------------
    async def _listen(self) -> None:
        try:
            while line := await self._reader.readline():
                self._dispatch(json.loads(line))
        except (ConnectionError, ValueError, asyncio.IncompleteReadError):
            pass  # handled below: the session is marked disconnected either way
        finally:
            self.connected = False
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(IncidentError("the incident's engine went away"))
            self._publish(Disconnected())

    def _dispatch(self, message: dict[str, Any]) -> None:
        if RECORD in message:
            record = message[RECORD]
            if record["seq"] <= self._state.seq:
                return  # already in the welcome's snapshot
            apply(self._state, record)
            self.records.append(record)
            self._publish(record)
        elif (event := streamed_event(message)) is not None:
            self._publish(event)
        elif REPLY in message:
            future = self._pending.get(message[REPLY])
            if future is None or future.done():
                return
            result, error = read_reply(message)
            if error is None:
                future.set_result(result)
            else:
                cls = CommandRefused if error.refused else WarroomError
                future.set_exception(cls(error.message, title=error.title))

    def _publish(self, event: Any) -> None:
        if self._unheard is not None and isinstance(event, dict | Disconnected) and len(self._unheard) < 10000:
            self._unheard.append(event)
        for subscriber in list(self._subscribers):
            subscriber(event)


async def _next_record(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """One journal record of those that follow the welcome (None: the stream ended or is not one)."""
    try:
        line = await reader.readline()
        message = json.loads(line) if line else None
    except ValueError:  # not JSON, or a line over the limit
        return None
    record = message.get(RECORD) if isinstance(message, dict) else None
    return record if isinstance(record, dict) else None
