"""The attach socket's wire format, named once: the server (:mod:`console.host.attach`) writes what
the client (:mod:`console.host.remote`) reads, so both take the names from here.

Every line is one JSON object. What the server sends carries one key naming its kind
(:data:`WELCOME`, :data:`RECORD`, :data:`OUTPUT`, :data:`PROGRESS`, :data:`REPLY`, :data:`ERROR`);
what the client sends is a hello, then commands (:data:`COMMAND_ID`, :data:`COMMAND_NAME`,
:data:`COMMAND_ARGS`). The builders and readers below (:func:`hello`, :func:`welcome`,
:func:`reply_ok`, :func:`reply_error`, :func:`error` and their readers) are the only places the
keys inside those messages are spelled.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any, NamedTuple

from console.engine import Output, Progress
from console.engine.commands import MAX_ARGUMENT as MAX_ARGUMENT  # the cap the engine applies

PROTOCOL = 2
"""2: the welcome names how many journal records follow it, one line each (1 sent them in it)."""
LINE_LIMIT = 64 * 1024 * 1024
"""The longest line a client reads: one record or one batch of output, never the whole journal."""
MAX_COMMAND_LINE = 1024 * 1024
"""The longest line the server reads from a client: a hello or a command (arguments of at most
:data:`MAX_ARGUMENT` characters each, escaped). A longer one is refused and the client dropped."""
MAX_NAME = 64
"""Characters of a user name in a hello (it is journaled as the actor of everything they do)."""
MAX_VIA = 32
"""Characters of a hello's ``via`` (journaled with the presence); a longer one is shown as ``socket``."""

WELCOME = "welcome"
"""The server's first line: protocol, actor, directory and how many journal records follow it (as
:data:`RECORD` lines), so that attaching works whatever the journal's size."""
RECORD = "record"
"""A journal record, as committed."""
OUTPUT = "output"
"""A transient batch of a step's output lines (:class:`console.engine.Output`)."""
PROGRESS = "progress"
"""A transient progress report of a step (:class:`console.engine.Progress`)."""
REPLY = "reply"
"""The answer to a command: its id, then ``ok`` and ``result``, or an :data:`ERROR`."""
ERROR = "error"
"""Why a hello, a command or a line was refused: ``title``, ``message`` and (for a command) ``refused``."""

COMMAND_ID = "id"
COMMAND_NAME = "cmd"
COMMAND_ARGS = "args"

STREAMED: dict[str, type[Output] | type[Progress]] = {OUTPUT: Output, PROGRESS: Progress}
"""The engine's transient events by the kind they travel under."""


def encode(message: dict[str, Any]) -> bytes:
    return (json.dumps(message, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def event_message(event: Any) -> dict[str, Any] | None:
    """What the server sends for something the engine published (None: not for clients)."""
    if isinstance(event, dict):
        return {RECORD: event}
    for kind, cls in STREAMED.items():
        if isinstance(event, cls):
            return {kind: {f.name: getattr(event, f.name) for f in fields(event)}}
    return None


def streamed_event(message: dict[str, Any]) -> Output | Progress | None:
    """The transient event an :data:`OUTPUT` or :data:`PROGRESS` message carries (None: neither)."""
    for kind, cls in STREAMED.items():
        if kind in message:
            return cls(**message[kind])
    return None


# ----- hello: the client's first line ------------------------------------------------------------
HELLO_PROTOCOL = "protocol"
HELLO_VIA = "via"
HELLO_TOKEN = "token"
HELLO_USER = "user"
HELLO_ACT = "act"
"""With a user name: a same-uid command-line client that acts as that user (``warroom tick``)."""


def hello(via: str, *, token: str | None = None, user: str | None = None, act: bool = False) -> dict[str, Any]:
    """The client's hello: a token (a seat handed out by the host) or, for a same-uid process, a
    name: an observer, unless ``act`` asks to act as that user (with the role the engine gives them)."""
    message: dict[str, Any] = {HELLO_PROTOCOL: PROTOCOL, HELLO_VIA: via}
    message.update({HELLO_TOKEN: token} if token else {HELLO_USER: user or "local"})
    if act and not token:
        message[HELLO_ACT] = True
    return message


def hello_acts(message: dict[str, Any]) -> bool:
    """The hello asks to act as its user (a command-line client), not to watch."""
    return message.get(HELLO_ACT) is True and HELLO_TOKEN not in message


def hello_text(message: dict[str, Any], key: str) -> str | None:
    """A hello's non-empty text value (None: missing or not text)."""
    value = message.get(key)
    return value if isinstance(value, str) and value else None


def hello_via(message: dict[str, Any]) -> str:
    """How the client says it is connected, as journaled: short text, else ``socket``."""
    via = hello_text(message, HELLO_VIA)
    return via if via is not None and len(via) <= MAX_VIA else "socket"


def hello_protocol_refusal(message: dict[str, Any]) -> str | None:
    """Why a hello of another protocol version is refused (None: it speaks ours). A hello naming no
    version is a hand-written client (a script, a test) and is taken at its word."""
    theirs = message.get(HELLO_PROTOCOL, PROTOCOL)
    if theirs == PROTOCOL:
        return None
    return f"the client speaks attach protocol {theirs!r}, this engine speaks {PROTOCOL}: use the same warroom version"


# ----- welcome: the server's first line ----------------------------------------------------------
WELCOME_PROTOCOL = "protocol"
WELCOME_ACTOR = "actor"
WELCOME_DIRECTORY = "directory"
WELCOME_RECORDS = "records"
ACTOR_NAME = "name"
ACTOR_ROLE = "role"


class Welcome(NamedTuple):
    actor_name: str
    actor_role: str
    directory: str
    records: int
    """How many :data:`RECORD` lines follow: the journal so far."""


def welcome(actor_name: str, actor_role: str, directory: str, records: int) -> dict[str, Any]:
    return {
        WELCOME: {
            WELCOME_PROTOCOL: PROTOCOL,
            WELCOME_ACTOR: {ACTOR_NAME: actor_name, ACTOR_ROLE: actor_role},
            WELCOME_DIRECTORY: directory,
            WELCOME_RECORDS: records,
        }
    }


def read_welcome(message: dict[str, Any]) -> Welcome:
    """What a :data:`WELCOME` message carries."""
    body = message[WELCOME]
    actor = body[WELCOME_ACTOR]
    return Welcome(actor[ACTOR_NAME], actor[ACTOR_ROLE], body[WELCOME_DIRECTORY], body[WELCOME_RECORDS])


# ----- replies and errors ------------------------------------------------------------------------
REPLY_OK = "ok"
REPLY_RESULT = "result"
ERROR_TITLE = "title"
ERROR_MESSAGE = "message"
ERROR_REFUSED = "refused"


class Failure(NamedTuple):
    """An :data:`ERROR` as read: title (None: none given), message, and whether a command was refused."""

    title: str | None
    message: str
    refused: bool


def error(title: str, message: str) -> dict[str, Any]:
    """A refused hello or an unreadable line."""
    return {ERROR: {ERROR_TITLE: title, ERROR_MESSAGE: message}}


def read_error(message: dict[str, Any], default: str) -> Failure:
    """The error a message carries (``default``: the text when it names none)."""
    body = message.get(ERROR) or {}
    return Failure(body.get(ERROR_TITLE), body.get(ERROR_MESSAGE, default), bool(body.get(ERROR_REFUSED)))


def reply_ok(ident: Any, result: Any) -> dict[str, Any]:
    return {REPLY: ident, REPLY_OK: True, REPLY_RESULT: result}


def reply_error(ident: Any, title: str, message: str, *, refused: bool) -> dict[str, Any]:
    return {REPLY: ident, ERROR: {ERROR_TITLE: title, ERROR_MESSAGE: message, ERROR_REFUSED: refused}}


def read_reply(message: dict[str, Any]) -> tuple[Any, Failure | None]:
    """A reply's result, or (None, why the command failed)."""
    if ERROR in message:
        return None, read_error(message, "error")
    return message.get(REPLY_RESULT), None
