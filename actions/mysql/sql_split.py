"""Splitting a SQL dump into statements the way the ``mysql`` client does, streaming, in bytes.

Bytes, not text: dumps carry BLOBs as escaped binary strings that are not valid UTF-8. Quoted
strings ('…' and "…" with backslash escapes, `…` identifiers), ``--``/``#``/``/* */`` comments and
``DELIMITER`` lines are honoured; ``/*!NNNNN … */`` version comments are statement text, as the
client sends them and the server runs them. Scanning is one compiled regex per delimiter with
possessive quantifiers, so a megabyte INSERT is split in C, resumed at a token boundary when a
read ends mid-statement, and never rescanned. The same scan notes whether a comment, or a quoted
string or name holding a parenthesis, occurred (``Statement.plain``): without one, every
parenthesis is SQL's own, and the census counts an INSERT's rows without a second scan.
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
    plain: bool = False
    """No comment in the text, and no parenthesis inside a quoted string or name."""


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
# Tokens whose parentheses (if any) are SQL's own; quotes without a parenthesis inside come first.
_PLAIN_TOKENS = (
    rb"'(?:[^'\\()]++|\\[^()])*+'",
    rb'"(?:[^"\\()]++|\\[^()])*+"',
    rb"`[^`()]*+`",
    rb"--(?=[^\x00-\x20])",
    rb"-(?=[^-])",
    rb"/(?=[^*])",
)
# The others, in one capturing group: a quoted string or name holding a parenthesis, a comment.
_ODD_TOKENS = (
    rb"'(?:[^'\\]++|\\.)*+'",
    rb'"(?:[^"\\]++|\\.)*+"',
    rb"`[^`]*+`",
    rb"#[^\n]*+\n",
    rb"--(?:\n|[\x00-\x09\x0b-\x20][^\n]*+\n)",
    rb"/\*(?!!|M!)(?:[^*]++|\*(?!/))*+\*/",
    rb"/\*M?!",
)
_QUOTE_NAMES = {ord("'"): "a quoted string", ord('"'): "a quoted string", ord("`"): "a quoted identifier"}


def _body(delimiter: bytes) -> re.Pattern[bytes]:
    """Everything up to the delimiter, token by token; stops early at an unfinished token.

    Group 1 is set if an odd token (:data:`_ODD_TOKENS`) was among them."""
    first = re.escape(delimiter[:1])
    plain = rb"[^'\"`#/\-" + first + rb"]++"
    tokens = [plain, *_PLAIN_TOKENS]
    guard = b""
    if len(delimiter) > 1:  # a lone ';' inside a ';;' block is plain text
        tokens.append(first + rb"(?=" + rb"." * (len(delimiter) - 1) + rb")")
        guard = rb"(?!" + re.escape(delimiter) + rb")"
    # One byte: no token starts with it, so the scan stops there without a lookahead per token.
    tokens.append(rb"(" + rb"|".join(_ODD_TOKENS) + rb")")
    return re.compile(rb"(?:" + guard + rb"(?:" + rb"|".join(tokens) + rb"))*+", re.DOTALL)


class Splitter:
    """Feed chunks, get complete statements; ``finish()`` raises :class:`DumpError` on a torn end."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0  # start of the statement (or gap) being scanned
        self._scan = -1  # where the body scan resumes, -1 if not inside a statement
        self._odd = False  # whether the statement being scanned had an odd token so far
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
                self._scan, self._odd = start, False
            m = self._body.match(buf, self._scan)
            stop = m.end()
            self._odd = self._odd or m.start(1) >= 0
            if buf.startswith(self.delimiter, stop):
                self.number += 1
                text = bytes(memoryview(buf)[self._pos : stop]).rstrip()
                out.append(Statement(self.number, self.line, text, not self._odd))
                after = stop + len(self.delimiter)
                self.line += buf.count(b"\n", self._pos, after)
                self._pos, self._scan = after, -1
                continue
            self._scan = stop
            if not final:
                return out
            raise DumpError(self.number + 1, self.line, self._torn_reason(stop, end))

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
