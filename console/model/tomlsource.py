"""Reading TOML files so that every later error can name the file, the key path and the line.

``tomllib`` gives values but no positions, so :class:`TomlSource` keeps the text and maps a key
path (as pydantic reports it, e.g. ``("phases", 1, "steps", 0, "kind")``) back to the line that
defines it. The scan understands table headers, arrays of tables and ``key =`` lines, which is all
that hand-written config and runbook files use.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.model.errors import ConfigError

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")
_TOML_POS = re.compile(r"\(at line (\d+), column \d+\)")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _split_dotted(key: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", key)
    return [_unquote(p) for p in parts]


def _unquote(part: str) -> str:
    """A key part as TOML reads it: quotes dropped, escapes of a basic string decoded."""
    if part[:1] == "'":
        return part[1:-1]
    if part[:1] == '"':
        if "\\" not in part:
            return part[1:-1]
        try:
            return tomllib.loads(f"k = {part}")["k"]
        except tomllib.TOMLDecodeError:
            return part[1:-1]
    return part


@dataclass
class TomlSource:
    """A parsed TOML document that still knows where each key was written."""

    name: str
    text: str
    data: dict[str, Any]
    lines: dict[tuple[Any, ...], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.lines:
            self.lines = _index_lines(self.text)

    def line_of(self, loc: tuple[Any, ...]) -> int | None:
        """The line of the longest prefix of ``loc`` that the file spells out, if any."""
        for end in range(len(loc), 0, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None

    def error(self, loc: tuple[Any, ...], problem: str, cls: type[ConfigError] = ConfigError):
        """Build the one-line error for ``loc`` (the caller raises it)."""
        return cls(self.name, format_loc(loc), problem, self.line_of(loc))


def format_loc(loc: tuple[Any, ...]) -> str:
    """``("phases", 1, "steps", 0, "kind")`` -> ``phases[1].steps[0].kind``.

    A key that is not a bare TOML key is quoted as TOML would (``hosts."db 1"``), so the path
    stays one line and can be pasted back into the file.
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = str(part) if _BARE_KEY.match(str(part)) else json.dumps(str(part))
            out += f".{text}" if out else text
    return out


def _index_lines(text: str) -> dict[tuple[Any, ...], int]:
    index: dict[tuple[Any, ...], int] = {}
    counters: dict[tuple[Any, ...], int] = {}
    table: tuple[Any, ...] = ()
    in_multiline: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if raw.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        header = _HEADER.match(raw)
        if header and "=" not in raw.split("]")[0]:
            parts = _split_dotted(header.group(2))
            resolved: list[Any] = []
            for i, part in enumerate(parts):
                resolved.append(part)
                if i < len(parts) - 1 and tuple(resolved) in counters:
                    resolved.append(counters[tuple(resolved)])
            if header.group(1) == "[[":
                key = tuple(resolved)
                counters[key] = counters.get(key, -1) + 1
                index.setdefault(key, number)
                resolved.append(counters[key])
            table = tuple(resolved)
            _add(index, table, number)
            continue
        key = _KEY.match(raw)
        if key:
            _add(index, (*table, *_split_dotted(key.group(1))), number)
            for quote in ('"""', "'''"):
                if raw.count(quote) % 2 == 1:
                    in_multiline = quote
    return index


def _add(index: dict[tuple[Any, ...], int], loc: tuple[Any, ...], number: int) -> None:
    """Record ``loc`` and the tables it defines implicitly (``[a.b]`` defines ``a``) at ``number``."""
    for end in range(1, len(loc) + 1):
        index.setdefault(loc[:end], number)


def load_toml(path: Path, *, display: str | None = None, cls: type[ConfigError] = ConfigError) -> TomlSource:
    """Read and parse ``path``; a missing file or a syntax error becomes a one-line error."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise cls(name, "", "file not found") from None
    except IsADirectoryError:
        raise cls(name, "", "is a directory, not a file") from None
    except UnicodeDecodeError as exc:
        raise cls(name, "", f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})") from None
    except OSError as exc:
        raise cls(name, "", f"cannot read: {exc.strerror or exc}") from None
    return parse_toml(text, name, cls=cls)


def parse_toml(text: str, name: str, *, cls: type[ConfigError] = ConfigError) -> TomlSource:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        pos = _TOML_POS.search(message)
        line = int(pos.group(1)) if pos else None
        problem = _TOML_POS.sub("", message).strip()
        raise cls(name, "", f"not valid TOML: {problem}", line) from None
    return TomlSource(name, text, data)
