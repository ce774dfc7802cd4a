"""What a healthy answer looks like: status, a body substring, JSON fields by dotted path.

Pure functions, so the rules are tested without a server and explained in the plan as written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

EXCERPT = 120
_MISSING = object()


@dataclass(frozen=True)
class Expectation:
    status: int = 200
    body: str = ""
    json_fields: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        parts = [f"status {self.status}"]
        if self.body:
            parts.append(f"body contains {self.body!r}")
        parts += [f"json {path} = {json.dumps(value)}" for path, value in self.json_fields.items()]
        return ", ".join(parts)

    def problem(self, status: int, body: bytes) -> str:
        """Why this answer is not healthy, or "" when it is."""
        if status != self.status:
            return f"status {status}, expected {self.status}{_excerpt(body)}"
        text = body.decode("utf-8", errors="replace")
        if self.body and self.body not in text:
            return f"body does not contain {self.body!r}{_excerpt(body)}"
        if not self.json_fields:
            return ""
        try:
            document = json.loads(text)
        except ValueError:
            return f"body is not JSON{_excerpt(body)}"
        for path, expected in self.json_fields.items():
            actual = lookup(document, path)
            if actual is _MISSING:
                return f"json {path} is missing{_excerpt(body)}"
            if not same(actual, expected):
                return f"json {path} is {json.dumps(actual)[:60]}, expected {json.dumps(expected)}"
        return ""


def flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{checks = {db = "up"}}`` and ``{"checks.db" = "up"}`` both become ``{"checks.db": "up"}``."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def lookup(document: Any, path: str) -> Any:
    node = document
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def same(actual: Any, expected: Any) -> bool:
    """Equal and of the same kind: ``true`` is not ``1`` and ``"1"`` is not ``1``."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return actual == expected
    return type(actual) is type(expected) and actual == expected


def _excerpt(body: bytes) -> str:
    """A short, printable start of the body: enough to tell a maintenance page from an error."""
    if not body:
        return ""
    text = body[: EXCERPT * 4].decode("utf-8", errors="replace")
    text = "".join(c if c.isprintable() else " " for c in text)
    text = " ".join(text.split())
    if not text:
        return ""
    return f" (body: {text[:EXCERPT]!r}{'…' if len(text) > EXCERPT else ''})"
