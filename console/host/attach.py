"""The engine's unix socket: how a TUI in another process (``warroom watch``, an SSH session)
follows an incident live and sends commands.

Newline-delimited JSON. The client's first line is a hello: ``{"token": T}`` (a one-time token the
SSH server issued for an authenticated user and role), ``{"user": NAME}`` (a local process of
the socket's owner: always an observer) or ``{"user": NAME, "act": true}`` (a command-line client
of the socket's owner — ``warroom tick``, ``note``, ``comms``, ``close`` — acting as NAME with the
role the engine's table of users gives NAME: whoever serves the incident and the config's
``[[server.users]]``; the engine's rules then decide as for that user's console), with the
client's ``protocol``; a hello of another protocol version is refused before anything is joined
or journaled. The server answers with a
welcome naming how many journal records follow, those records one line each (so the welcome does
not grow with the journal), then streams records, output batches and progress, and answers
commands::

    -> {"id": 7, "cmd": "tick", "args": {"step": "s", "check": "c", "result": "pass"}}
    <- {"reply": 7, "ok": true, "result": null}
    <- {"reply": 7, "error": {"title": "Refused", "message": "...", "refused": true}}

The messages are built and read by :mod:`console.host.wire` on both ends.

The actor is bound here, from the token, never read from a command: a crafted command from an
observer's connection reaches the engine as the observer and is refused and journaled there.
A line longer than :data:`console.host.wire.MAX_COMMAND_LINE` is refused (journaled) and its client
dropped; the engine caps each argument (:data:`console.host.wire.MAX_ARGUMENT`).

The seat belongs to the connections that can drive as its holder (a driver's console, by token):
when the last of them goes, the seat is released after ``seat_grace`` unless one comes back. A
watcher under the same name (``warroom watch``) or a command-line client neither keeps it nor
cancels that grace.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import secrets
import socket
import struct
from pathlib import Path
from typing import Any

from console.engine import Actor, Engine
from console.host.wire import (
    COMMAND_ARGS,
    COMMAND_ID,
    COMMAND_NAME,
    HELLO_TOKEN,
    HELLO_USER,
    MAX_COMMAND_LINE,
    MAX_NAME,
    OUTPUT,
    RECORD,
    encode,
    error,
    event_message,
    hello_acts,
    hello_protocol_refusal,
    hello_text,
    hello_via,
    reply_error,
    reply_ok,
    welcome,
)
from console.model import rules
from console.model.errors import CommandRefused, IncidentError, WarroomError

log = logging.getLogger("warroom.attach")

MAX_BACKLOG = 20000  # records queued for one slow client before it is dropped (it can reconnect)
OUTPUT_LINES_KEPT = 5000
"""Lines of one host's output waiting for a client: a console's pane shows the last 5000 (its
ring), so a client that fell behind gets the newest, not a backlog to work through after the step
ended (the spool file holds everything; ``o`` reads it)."""
HELLO_TIMEOUT = 10.0


SOCKET_NAME = "attach.sock"
POINTER_NAME = "attach.path"
MAX_SOCKET_PATH = 100  # AF_UNIX paths are limited to 108 bytes on Linux


def socket_path_for(incident_dir: Path) -> Path:
    """The incident directory's own socket, or one in a private runtime directory when the
    incident directory's path is too long for AF_UNIX."""
    path = incident_dir / SOCKET_NAME
    if len(str(path).encode()) <= MAX_SOCKET_PATH:
        return path
    runtime = Path(os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/warroom-{os.getuid()}")
    base = runtime / "warroom" if os.environ.get("XDG_RUNTIME_DIR") else runtime
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = base.lstat()
    if base.is_symlink() or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise IncidentError(f"{base}: not a private directory of this user; refusing to put a socket there")
    # the id alone is not unique across state directories (a drill's and a team's run, two test runs)
    where = hashlib.sha256(str(incident_dir.absolute()).encode()).hexdigest()[:12]
    return base / f"{incident_dir.name}-{where}.sock"


def locate_socket(incident_dir: Path) -> Path:
    """Where a running engine for this incident listens (the server writes a pointer file)."""
    pointer = incident_dir / POINTER_NAME
    if pointer.is_file():
        return Path(pointer.read_text().strip())
    return incident_dir / SOCKET_NAME


class AttachServer:
    """Serves one engine on ``path`` (mode 0600, in the owner-only incident directory)."""

    def __init__(self, engine: Engine, path: Path | None = None, *, seat_grace: float = 60.0) -> None:
        self.engine = engine
        self.path = path or socket_path_for(engine.directory)
        self.seat_grace = seat_grace
        self._tokens: dict[str, Actor] = {}
        self._uncounted: set[str] = set()
        """Tokens whose connection is not journaled as presence (see :meth:`issue_token`)."""
        self._server: asyncio.AbstractServer | None = None
        self._clients: set[asyncio.Task[None]] = set()
        self._grace: dict[str, asyncio.Task[None]] = {}
        self._holders: dict[str, set[str]] = {}
        """user name -> the connections that can hold the seat as that user (driver consoles)."""
        self._bound = False
        """``path`` is this server's socket (and so is its to remove)."""
        self._pointed = False
        """The pointer file is this server's (and so is its to remove)."""

    def issue_token(self, actor: Actor, *, counted: bool = True) -> str:
        """A one-time credential for a child process that will attach as ``actor``. ``counted=False``:
        its connection is not journaled as presence (the SSH session it serves is counted itself)."""
        token = secrets.token_urlsafe(24)
        self._tokens[token] = actor
        if not counted:
            self._uncounted.add(token)
        return token

    async def start(self) -> None:
        if self.path.is_symlink() or (self.path.exists() and not self.path.is_socket()):
            raise IncidentError(f"{self.path}: exists and is not a socket; refusing to replace it")
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=str(self.path), limit=MAX_COMMAND_LINE)
        finally:
            os.umask(old)
        self._bound = True
        self.path.chmod(0o600)
        self._pointer.write_text(f"{self.path}\n")
        self._pointed = True

    @property
    def _pointer(self) -> Path:
        return self.engine.directory / POINTER_NAME

    async def close(self) -> None:
        """Stop serving and remove the socket and pointer, if this server made them: after a
        refused start the file at ``path`` (or the pointer) belongs to somebody else."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._clients) + list(self._grace.values()):
            task.cancel()
        await asyncio.gather(*self._clients, *self._grace.values(), return_exceptions=True)
        bound, pointed, self._bound, self._pointed = self._bound, self._pointed, False, False
        try:
            if bound:
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
        finally:
            if pointed:
                with contextlib.suppress(FileNotFoundError):
                    self._pointer.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        try:
            await self._session(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            log.info("attach client dropped: %s", exc)
        except asyncio.CancelledError:
            log.info("attach client closed: the engine is stopping")
        finally:
            self._clients.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    def _actor_for(self, hello: dict[str, Any], writer: asyncio.StreamWriter) -> Actor | str:
        """Who the client is, or why it is refused."""
        token = hello_text(hello, HELLO_TOKEN)
        if token is not None:
            return self._tokens.pop(token, None) or "unknown or used token"
        if _peer_uid(writer) != os.getuid():
            return "unknown or used token"
        name = hello_text(hello, HELLO_USER) or "local"
        if len(name) > MAX_NAME:
            return f"a user name is at most {MAX_NAME} characters"
        if not hello_acts(hello):
            return Actor(name, "observer")
        role = self.engine.users.get(name)
        if role is None:
            drivers = ", ".join(sorted(n for n, r in self.engine.users.items() if r == "driver")) or "none"
            return f"{name} is not a user of this incident (drivers: {drivers})"
        return Actor(name, role)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hello = json.loads(await asyncio.wait_for(reader.readline(), HELLO_TIMEOUT) or b"{}")
        hello = hello if isinstance(hello, dict) else {}
        refusal = hello_protocol_refusal(hello)
        if refusal is not None:
            writer.write(encode(error("Wrong attach protocol", refusal)))
            await writer.drain()
            return
        token = hello_text(hello, HELLO_TOKEN)
        counted = token not in self._uncounted
        self._uncounted.discard(token or "")
        actor = self._actor_for(hello, writer)
        if isinstance(actor, str):
            writer.write(encode(error("Refused", actor)))
            await writer.drain()
            return
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        unsent: dict[tuple, dict[str, Any]] = {}  # (step, attempt, host) -> its output message still queued

        def enqueue(event: Any) -> None:
            message = event_message(event)
            if message is None:
                return
            if OUTPUT in message:
                output = message[OUTPUT]
                key = (output["step"], output["attempt"], output["host"])
                queued = unsent.get(key)
                if queued is not None:  # not sent yet: the new lines join it, the oldest beyond the pane's go
                    lines = queued[OUTPUT]["lines"]
                    lines.extend(output["lines"][-OUTPUT_LINES_KEPT:])
                    del lines[:-OUTPUT_LINES_KEPT]
                    return
                output["lines"] = list(output["lines"][-OUTPUT_LINES_KEPT:])
                message["key"] = key
                unsent[key] = message
            elif queue.qsize() > MAX_BACKLOG:
                queue.put_nowait(None)  # records must not be lost: drop the client instead
                return
            queue.put_nowait(message)

        unsubscribe = self.engine.subscribe(enqueue)
        connection = self.engine.join(actor, hello_via(hello)) if counted else ""
        # A command-line client never sits in the seat: the driver it acts as (a headless run, a
        # console elsewhere) keeps it, and a console that left is not back because of it. Nor does
        # a watcher: only a connection that can drive as the holder holds the seat.
        seated = not hello_acts(hello)
        holds = seated and actor.role == "driver"
        if holds:
            self._holders.setdefault(actor.name, set()).add(connection)
            self._cancel_grace(actor.name)
        driver_before = self.engine.state.driver
        journal = list(self.engine.records)
        greeting = welcome(actor.name, actor.role, str(self.engine.directory), len(journal))
        sender = asyncio.create_task(self._send(writer, greeting, journal, queue, unsent))
        dropped = False
        try:
            dropped = await self._commands(reader, actor, queue)
        finally:
            unsubscribe()
            if dropped:  # let the refusal reach the client before the connection closes
                queue.put_nowait(None)
                await asyncio.wait([sender], timeout=5)
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            if counted:
                self.engine.leave(actor, connection)
            if holds:
                self._holders[actor.name].discard(connection)
            driving = rules.is_driver(actor, self.engine.state)
            if not seated and driving and driver_before != actor.name:
                # it took a free seat for its command and went before giving it back (killed)
                self.engine.drop_seat(f"{actor.name}'s command-line client left without releasing the seat")
            elif holds and driving and not self._holding(actor.name):
                self._grace[actor.name] = asyncio.create_task(self._drop_after_grace(actor.name))

    async def _send(self, writer: asyncio.StreamWriter, greeting: dict[str, Any], journal, queue, unsent) -> None:
        """The welcome, the journal so far one record a line, then whatever the engine publishes."""
        writer.write(encode(greeting))
        for record in journal:
            writer.write(encode({RECORD: record}))
            if writer.transport.get_write_buffer_size() > MAX_COMMAND_LINE:
                await writer.drain()
        await writer.drain()
        while True:
            message = await queue.get()
            if message is None:
                writer.close()
                return
            if "key" in message:  # an output message leaves the queue: later lines make a new one
                unsent.pop(message.pop("key"), None)
            writer.write(encode(message))
            if queue.empty():
                await writer.drain()

    async def _commands(self, reader: asyncio.StreamReader, actor: Actor, queue) -> bool:
        """Answer the client's commands until it goes (False) or sends an over-long line (True:
        refused and journaled without its content; the rest of the stream cannot be trusted)."""
        while True:
            try:
                line = await reader.readline()
            except ValueError as exc:  # asyncio's LimitOverrunError, as readline raises it
                if "not found" in str(exc):
                    await _skip_line(reader)
                reason = f"a command line longer than {MAX_COMMAND_LINE} bytes; the connection is closed"
                refused = self.engine.refuse(actor, "?", reason)
                queue.put_nowait(reply_error(None, refused.title, str(refused), refused=True))
                return True
            if not line:
                return False
            try:
                message = json.loads(line)
                ident, name, args = message.get(COMMAND_ID), message.get(COMMAND_NAME), message.get(COMMAND_ARGS, {})
            except (ValueError, AttributeError):
                queue.put_nowait(error("Bad message", "not a JSON command object"))
                continue
            try:
                if not isinstance(name, str):
                    raise self.engine.refuse(actor, "?", "command name must be a string")
                reply = reply_ok(ident, await self.engine.execute(actor, name, args))
            except CommandRefused as exc:
                reply = reply_error(ident, exc.title, str(exc), refused=True)
            except WarroomError as exc:
                reply = reply_error(ident, exc.title, str(exc), refused=False)
            queue.put_nowait(reply)

    def _holding(self, name: str) -> bool:
        """A connection that can drive as ``name`` is attached (a watcher of that name is not one)."""
        return bool(self._holders.get(name))

    def _cancel_grace(self, name: str) -> None:
        task = self._grace.pop(name, None)
        if task is not None:
            task.cancel()

    async def _drop_after_grace(self, name: str) -> None:
        await asyncio.sleep(self.seat_grace)
        self._grace.pop(name, None)
        if self.engine.state.driver == name and not self._holding(name):
            self.engine.drop_seat(f"{name} disconnected and did not return within {self.seat_grace:.0f}s")


async def _skip_line(reader: asyncio.StreamReader) -> None:
    """Read past the rest of an over-long line (bounded in time): a unix socket closed with unread
    input is reset, and the client would lose the refusal sent just before."""
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(HELLO_TIMEOUT):
            while chunk := await reader.read(64 * 1024):
                if b"\n" in chunk:
                    return


def _peer_uid(writer: asyncio.StreamWriter) -> int | None:
    sock = writer.get_extra_info("socket")
    if sock is None:
        return None
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    return struct.unpack("3i", creds)[1]
