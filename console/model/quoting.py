"""Putting variable values into shell text so that no value can change the shape of a command.

A command is scanned as the shell reads its quotes: at each ``{{ name }}`` the quoting context
(unquoted, inside ``"..."``, inside ``'...'``) decides how the value is written, so a value with
spaces, quotes, ``$(...)``, backticks or ``;`` arrives as one literal word, and a safe value
(``docker-compose.prod.yml``) renders unchanged. Nested command substitutions and here-documents
are not tracked: write placeholders in plain words or quoted strings.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator
from typing import Any, Literal

from console.model.variables import PLACEHOLDER

Context = Literal["unquoted", "double", "single"]
Lookup = Callable[[str], tuple[str, Any]]
"""A placeholder name -> ``(variable type, value)``."""


class QuotingError(ValueError):
    """A value cannot be written where its placeholder stands (a list inside quotes)."""


def contexts(text: str) -> Iterator[tuple[str, Context, int, int]]:
    """``(name, context, start, end)`` of each placeholder in shell text, in order."""
    state: Context = "unquoted"
    i, n = 0, len(text)
    while i < n:
        match = PLACEHOLDER.match(text, i) if text.startswith("{{", i) else None
        if match:
            yield match.group(1), state, match.start(), match.end()
            i = match.end()
            continue
        char = text[i]
        if state == "single":
            state = "unquoted" if char == "'" else state
        elif char == "\\":
            i += 1  # the next character is escaped (unquoted and in double quotes alike)
        elif state == "double":
            state = "unquoted" if char == '"' else state
        elif char == "'":
            state = "single"
        elif char == '"':
            state = "double"
        i += 1


def in_double(value: str) -> str:
    """``value`` as the body of a double-quoted word: ``\\ $ ` "`` escaped."""
    return value.replace("\\", "\\\\").replace("$", "\\$").replace("`", "\\`").replace('"', '\\"')


def quote_value(var_type: str, value: Any, context: Context) -> str:
    """One value written for its quoting context."""
    if var_type == "list":
        if context != "unquoted":
            raise QuotingError("a list is written only outside quotes (each element becomes one word)")
        return " ".join(shlex.quote(str(v)) for v in value)
    text = str(value)
    if var_type == "integer":
        return text
    if context == "single":
        return text.replace("'", "'\\''")
    if context == "double":
        return in_double(text)
    if var_type == "path" and text == "~":
        return "~"
    if var_type == "path" and text.startswith("~/"):
        return "~/" + shlex.quote(text[2:]) if text[2:] else "~/"
    return shlex.quote(text)


def render_shell(text: str, lookup: Lookup) -> str:
    """A command with every placeholder replaced by its value, quoted for where it stands."""
    out: list[str] = []
    last = 0
    for name, context, start, end in contexts(text):
        var_type, value = lookup(name)
        out.append(text[last:start])
        out.append(quote_value(var_type, value, context))
        last = end
    out.append(text[last:])
    return "".join(out)


def render_cwd(text: str, lookup: Lookup) -> str:
    """A ``cwd`` as the body of a double-quoted shell word: the author's text keeps ``$VARS``
    expanding (``\\``, ``"`` and backticks escaped, as always), values are escaped whole."""
    out: list[str] = []
    last = 0
    for match in PLACEHOLDER.finditer(text):
        var_type, value = lookup(match.group(1))
        if var_type == "list":
            raise QuotingError("a list cannot be a directory")
        out.append(_author_cwd(text[last : match.start()]))
        out.append(in_double(str(value)))
        last = match.end()
    out.append(_author_cwd(text[last:]))
    return "".join(out)


def _author_cwd(text: str) -> str:
    """``$VARS`` and ``${VAR}`` expand; a command substitution ``$(...)`` does not (a directory
    is named, nothing is run to find it)."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$(", "\\$(")


def cwd_text(body: str) -> str:
    """A rendered cwd as a plain path (for SFTP and display): the double-quote escapes undone."""
    out: list[str] = []
    i = 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body) and body[i + 1] in '\\$`"':
            out.append(body[i + 1])
            i += 2
            continue
        out.append(body[i])
        i += 1
    return "".join(out)


def render_raw(text: str, lookup: Lookup) -> Any:
    """A param or targets value: the raw value; a text that is exactly one placeholder keeps the
    value's own type (an integer stays an int, a list a list)."""
    whole = PLACEHOLDER.fullmatch(text.strip())
    if whole:
        return lookup(whole.group(1))[1]
    return PLACEHOLDER.sub(lambda m: _plain(lookup(m.group(1))[1]), text)


def _plain(value: Any) -> str:
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


__all__ = ["QuotingError", "contexts", "cwd_text", "quote_value", "render_cwd", "render_raw", "render_shell"]
