"""The attach socket's wire format, named once: the server (:mod:`console.host.attach`) writes what
the client (:mod:`console.host.remote`) reads, so both take the names from here.

Every line is one JSON object. What the server sends carries one key naming its kind
(:data:`WELCOME`, :data:`RECORD`, :data:`OUTPUT`, :data:`PROGRESS`, :data:`REPLY`, :data:`ERROR`);
what the client sends is a hello, then commands (:data:`COMMAND_ID`, :data:`COMMAND_NAME`,
:data:`COMMAND_ARGS`).
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from console.engine import Output, Progress

PROTOCOL = 1
LINE_LIMIT = 64 * 1024 * 1024  # the welcome carries the whole journal

WELCOME = "welcome"
"""The server's first line: protocol, actor, directory and every journal record so far."""
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
