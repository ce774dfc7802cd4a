"""Resolving ``env:NAME`` / ``file:PATH`` references, and keeping resolved values out of output.

Every value resolved here is remembered by the :class:`Redactor`, which output spooling, the
journal writer and the report pass text through.
"""

from __future__ import annotations

import logging
import os
import re
import weakref
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from console.model.errors import SecretError

REDACTED = "********"
MIN_SECRET_LINE = 8
"""A line of a multi-line secret this long is masked on its own (shorter ones would mask words)."""
_URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<userinfo>[^/@\s:]+(?::[^/@\s]*)?)@", re.I)
_URL_USERINFO_BYTES = re.compile(_URL_USERINFO.pattern.encode(), re.I)
URL_HOLD = 1024  # user-info longer than this, cut in the middle of a line, is given up on
_SCHEME_CHARS = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-"


class Redactor:
    """Replaces every known secret value (and URL user-info) with a fixed mask."""

    def __init__(self) -> None:
        self._values: set[str] = set()

    def add(self, value: str) -> None:
        if len(value) >= 3:
            self._values.add(value)
        if "\n" in value:  # a multi-line secret (a PEM key) reaches output a line per read
            for line in value.splitlines():
                line = line.strip()
                if len(line) >= MIN_SECRET_LINE and not line.startswith("-----"):  # not the PEM armour
                    self._values.add(line)

    @property
    def values(self) -> frozenset[str]:
        return frozenset(self._values)

    def text(self, text: str) -> str:
        for value in sorted(self._values, key=len, reverse=True):
            text = text.replace(value, REDACTED)
        return _URL_USERINFO.sub(lambda m: f"{m['scheme']}{REDACTED}@", text)

    def bytes(self, data: bytes) -> bytes:
        for value in sorted(self._values, key=len, reverse=True):
            data = data.replace(value.encode(), REDACTED.encode())
        if b"://" in data:
            data = _URL_USERINFO_BYTES.sub(lambda m: m["scheme"] + REDACTED.encode() + b"@", data)
        return data

    def needed(self, text: str) -> bool:
        """Cheap test before the full pass: a known secret or a URL is in the text."""
        return "://" in text or any(value in text for value in self._values)

    def has_credentials(self, text: str) -> bool:
        """A URL with user-info, or a known secret value, is written in the text."""
        return bool(_URL_USERINFO.search(text)) or any(value in text for value in self._values)

    def hold_from(self, data: bytes, *, mid_line: bool = False) -> int:
        """Where the end of ``data`` could be the start of a secret still arriving: output up to
        there can be written out, the rest must wait for the next read to be masked whole.
        ``mid_line``: the cut is not at a newline, so a URL's user-info may be in the way too."""
        hold = len(data)
        for value in self._values:
            secret = value.encode()
            start = max(0, len(data) - len(secret) + 1)
            while (start := data.find(secret[:1], start, hold)) >= 0:
                if secret.startswith(data[start:]):
                    hold = start
                    break
                start += 1
        return min(hold, _url_hold(data)) if mid_line else hold

    def longest(self) -> int:
        return max((len(v.encode()) for v in self._values), default=0)


def _url_hold(data: bytes) -> int:
    """Where a ``scheme://user:pass@`` still incomplete at the end of ``data`` starts (it holds
    no whitespace, so only the last word can be one), or ``len(data)``."""
    tail_start = max(0, len(data) - URL_HOLD)
    word_start = max(data.rfind(space, tail_start) for space in (b" ", b"\t", b"\n", b"\r", b"\x0b", b"\x0c")) + 1
    word_start = max(word_start, tail_start)
    word = data[word_start:]
    scheme_end = word.rfind(b"://")
    if scheme_end >= 0:
        if b"/" in word[scheme_end + 3 :] or b"@" in word[scheme_end + 3 :]:
            return len(data)  # past the user-info already: masked whole, or none there
        head = word[:scheme_end]
    else:
        head = word[:-2] if word.endswith(b":/") else word[:-1] if word.endswith(b":") else word
    return word_start + len(head.rstrip(_SCHEME_CHARS)) if head or scheme_end >= 0 else len(data)


def resolve_ref(ref: str, *, where: str, redactor: Redactor | None = None) -> str:
    """Resolve one reference; ``where`` names the config key for the error message."""
    if ref.startswith("env:"):
        name = ref[4:]
        value = os.environ.get(name)
        if value is None:
            raise SecretError(f"{where}: environment variable {name} is not set")
    elif ref.startswith("file:"):
        path = Path(os.path.expanduser(ref[5:]))
        try:
            value = path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise SecretError(f"{where}: cannot read secret file {path}: {exc.strerror}") from None
    else:
        raise SecretError(f"{where}: not a secret reference (use env:NAME or file:PATH)")
    if redactor is not None:
        redactor.add(value)
    return value


def lookup(model: Any, dotted: str) -> Any:
    """Follow ``a.b.c`` through nested pydantic models; KeyError if any part is missing."""
    node = model
    for part in dotted.split("."):
        if node is None:
            raise KeyError(dotted)
        if isinstance(node, dict):
            if part not in node:
                raise KeyError(dotted)
            node = node[part]
        elif isinstance(node, BaseModel) and part in type(node).model_fields:
            node = getattr(node, part)
        else:
            raise KeyError(dotted)
    if node is None:
        raise KeyError(dotted)
    return node


_LOG_REDACTORS: weakref.WeakSet[Redactor] = weakref.WeakSet()


def redact_logs(redactor: Redactor) -> None:
    """Log records pass through ``redactor`` as they are made: a driver's exception or traceback
    can quote a secret, and whatever handler writes the log (stderr, a file) sees it masked."""
    if not _LOG_REDACTORS:
        logging.setLogRecordFactory(_redacting_factory(logging.getLogRecordFactory()))
    _LOG_REDACTORS.add(redactor)


def _redacting_factory(base: Any) -> Any:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        redactors = list(_LOG_REDACTORS)
        if not redactors:
            return record
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed call: logging reports it when it is emitted
            return record
        trace = logging.Formatter().formatException(record.exc_info) if record.exc_info else None
        for redactor in redactors:
            message = redactor.text(message)
            trace = redactor.text(trace) if trace else trace
        record.msg, record.args = message, ()
        if trace:
            record.exc_text = trace
        return record

    return make
