"""Splitting a SQL dump into statements the way the ``mysql`` client does, streaming, in bytes.

Bytes, not text: dumps carry BLOBs as escaped binary strings that are not valid UTF-8. Quoted
strings ('…' and "…" with backslash escapes, `…` identifiers), ``--``/``#``/``/* */`` comments and
``DELIMITER`` lines are honoured; ``/*!NNNNN … */`` version comments are statement text, as the
client sends them and the server runs them. Scanning is one compiled regex per delimiter with
possessive quantifiers, so a megabyte INSERT is split in C, resumed at a token boundary when a
read ends mid-statement, and never rescanned. A ``;`` statement is scanned row by row where it
can be (``(...)`` groups without nesting), counting the parentheses inside quotes and comments
(``Statement.quoted``), so the census counts an INSERT's rows from the text as it is instead of
scanning it a second time: on two cores the reading competes with the server for CPU.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(slots=True)
class Statement:
    number: int
    line: int
    text: bytes
    quoted: int = -1
    """How many ``(`` are inside quoted strings, quoted names and comments; -1: not tracked
    (a nested or unbalanced parenthesis, a version comment, another delimiter)."""


class DumpError(Exception):
    """The dump itself is broken (truncated, unterminated string); names statement and line."""

    def __init__(self, number: int, line: int, reason: str) -> None:
        super().__init__(f"statement {number} (line {line}): {reason}")
        self.number, self.line, self.reason = number, line, reason


# Whitespace and comments between statements: skipped, never sent. Version comments stay.
_LEAD = re.compile(rb"(?:\s++|--(?:\n|[\x00-\x09\x0b-\x20][^\n]*+\n)|#[^\n]*+\n|/\*(?!!|M!)(?:[^*]++|\*(?!/))*+\*/)*+")
# What may still become a comment once the next chunk arrives.
_PARTIAL = re.compile(rb"(?:#[^\n]*+|--[^\n]*+|-|/|/\*(?!!|M!)(?:[^*]++|\*(?!/))*+)\Z")
_DELIMITER = re.compile(rb"DELIMITER[ \t]++(\S++)[^\n]*+\n", re.IGNORECASE)
_TOKENS = (
    rb"'(?:[^'\\]++|\\.)*+'",
    rb'"(?:[^"\\]++|\\.)*+"',
    rb"`[^`]*+`",
    rb"#[^\n]*+\n",
    rb"--(?:\n|[\x00-\x09\x0b-\x20][^\n]*+\n)",
    rb"--(?=[^\x00-\x20])",
    rb"-(?=[^-])",
    rb"/\*(?!!|M!)(?:[^*]++|\*(?!/))*+\*/",
    rb"/\*M?!",
    rb"/(?=[^*])",
)
# Row tracking (';' statements): the tokens of a row, but no version comment, parenthesis or ';'.
_ROW_TOKENS = rb"[^'\"`#/\-;()]++|" + rb"|".join(t for t in _TOKENS if t != rb"/\*M?!")
# ... and those without a '(' inside, so that a row made of them holds only its own.
_BARE_TOKENS = rb"[^'\"`#/\-;()]++|'(?:[^'\\(]++|\\[^(])*+'|\"(?:[^\"\\(]++|\\[^(])*+\"|`[^`(]*+`|" + rb"|".join(
    _TOKENS[5:7] + _TOKENS[9:]
)
# Top level: the tokens above, and whole rows of bare tokens.
_FAST = re.compile(rb"(?:" + _BARE_TOKENS + rb"|\((?:" + _BARE_TOKENS + rb")*+\))*+", re.DOTALL)
_IN_ROW = re.compile(rb"(?:" + _ROW_TOKENS + rb")*+", re.DOTALL)
_MORE = -1  # tracking needs more data
_QUOTE_NAMES = {ord("'"): "a quoted string", ord('"'): "a quoted string", ord("`"): "a quoted identifier"}


def _body(delimiter: bytes) -> re.Pattern[bytes]:
    """Everything up to the delimiter, token by token; stops early at an unfinished token."""
    first = re.escape(delimiter[:1])
    plain = rb"[^'\"`#/\-" + first + rb"]++"
    tokens = [plain, *_TOKENS]
    guard = b""
    if len(delimiter) > 1:  # a lone ';' inside a ';;' block is plain text
        tokens.append(first + rb"(?=" + rb"." * (len(delimiter) - 1) + rb")")
        guard = rb"(?!" + re.escape(delimiter) + rb")"
    # One byte: no token starts with it, so the scan stops there without a lookahead per token.
    return re.compile(rb"(?:" + guard + rb"(?:" + rb"|".join(tokens) + rb"))*+", re.DOTALL)


class Splitter:
    """Feed chunks, get complete statements; ``finish()`` raises :class:`DumpError` on a torn end."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0  # start of the statement (or gap) being scanned
        self._scan = -1  # where the body scan resumes, -1 if not inside a statement
        self._quoted = -1  # the statement's quoted parentheses so far; -1: not tracked
        self.line = 1  # the line self._pos is on
        self.delimiter = b";"
        self._body = _body(self.delimiter)
        self.number = 0

    def feed(self, data: bytes) -> list[Statement]:
        if self._pos > 65536 and self._pos * 2 > len(self._buf):
            del self._buf[: self._pos]
            if self._scan >= 0:
                self._scan -= self._pos
            self._pos = 0
        self._buf += data
        return self._split(final=False)

    def finish(self) -> list[Statement]:
        """The end of the dump: a last statement without its delimiter means it was cut off."""
        self._buf += b"\n"  # ends a trailing line comment
        return self._split(final=True)

    def _split(self, final: bool) -> list[Statement]:
        buf, out, end = self._buf, [], len(self._buf)
        while True:
            if self._scan < 0:
                start = _LEAD.match(buf, self._pos).end()
                self.line += buf.count(b"\n", self._pos, start)
                self._pos = start
                if start >= end or (not final and _incomplete(buf, start, end)):
                    return out
                if buf[start : start + 9].upper() == b"DELIMITER" and buf[start + 9 : start + 10] in (b" ", b"\t"):
                    m = _DELIMITER.match(buf, start)
                    if m is None:
                        if final:
                            raise DumpError(self.number + 1, self.line, "DELIMITER without a delimiter")
                        return out
                    self.delimiter = m.group(1)
                    self._body = _body(self.delimiter)
                    self.line += 1
                    self._pos = m.end()
                    continue
                self._scan, self._quoted = start, 0 if self.delimiter == b";" else -1
            if self._quoted >= 0:
                stop = self._track(buf, self._scan, final)
                if stop == _MORE:
                    return out
                if stop >= 0:
                    self._scan = stop
            if self._quoted < 0:
                stop = self._body.match(buf, self._scan).end()
            if buf.startswith(self.delimiter, stop):
                self.number += 1
                text = bytes(memoryview(buf)[self._pos : stop]).rstrip()
                out.append(Statement(self.number, self.line, text, self._quoted))
                after = stop + len(self.delimiter)
                self.line += buf.count(b"\n", self._pos, after)
                self._pos, self._scan = after, -1
                continue
            self._scan = stop
            if not final:
                return out
            raise DumpError(self.number + 1, self.line, self._torn_reason(stop, end))

    def _track(self, buf: bytearray, scan: int, final: bool) -> int:
        """Scan rows from ``scan`` (at top level), adding quoted parentheses to ``_quoted``.

        Returns where it stopped at top level (the delimiter, or something tracking leaves to
        the plain scan: ``_quoted`` is then -1), or ``_MORE`` when a row or token runs past the
        data so far (``_scan`` stays at its start, to be scanned again with more data)."""
        while True:
            scan = _FAST.match(buf, scan).end()
            if buf.startswith(b";", scan):
                return scan
            row = buf.startswith(b"(", scan)
            pos = _IN_ROW.match(buf, scan + row).end()
            if row and buf.startswith(b")", pos):
                self._quoted += buf.count(b"(", scan + 1, pos)
                scan = pos + 1
                continue
            if not row and pos > scan:  # a quote or comment with a '(' at top level
                self._quoted += buf.count(b"(", scan, pos)
                scan = pos
                continue
            self._scan = scan
            unfinished = pos >= len(buf) or self._body.match(buf, pos).end() == pos
            if unfinished and not buf.startswith((b"(", b";"), pos) and not final:
                return _MORE
            self._quoted = -1  # nested, unbalanced, a version comment: left to the plain scan
            return scan

    def _torn_reason(self, stop: int, end: int) -> str:
        buf = self._buf
        if stop >= end - 1:  # only the newline finish() added is left
            text = bytes(buf[self._pos : self._pos + 60]).decode("utf-8", "replace").split("\n")[0]
            return (
                f"the dump ends before this statement's {self.delimiter.decode(errors='replace')!r} "
                f"(truncated?); it starts {text!r}"
            )
        line = self.line + buf.count(b"\n", self._pos, stop)
        what = _QUOTE_NAMES.get(buf[stop], "a comment" if buf[stop : stop + 2] == b"/*" else "a token")
        return f"the dump ends inside {what} opened on line {line} (truncated or corrupt)"


def _incomplete(buf: bytearray, start: int, end: int) -> bool:
    """Could the text from ``start`` still turn into a comment or a DELIMITER line?"""
    if end - start < 10 and b"DELIMITER "[: end - start] == bytes(buf[start:end]).upper():
        return True
    return _PARTIAL.match(buf, start) is not None


def split(chunks: Iterable[bytes]) -> Iterator[Statement]:
    """Every statement of a dump given as chunks of bytes, in order."""
    splitter = Splitter()
    for chunk in chunks:
        yield from splitter.feed(chunk)
    yield from splitter.finish()
