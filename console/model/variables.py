"""Variables a runbook declares (``[vars]``): their names, types, defaults and descriptions.

A runbook says which values it needs from an environment instead of borrowing fixed config
sections: ``[vars.database.port]`` with ``type = "integer"`` declares ``database.port``. A table
whose ``type`` key is a string is a declaration; any other table is a namespace. The config
supplies the values (:mod:`console.model.varvalues`); the plan puts them into steps, quoted by
type (:mod:`console.model.quoting`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from console.model.errors import RunbookError
from console.model.tomlsource import TomlSource

TYPES: dict[str, str] = {
    "string": "a string",
    "path": "a path (a string)",
    "integer": "an integer",
    "url": "an http:// or https:// URL",
    "secret": "a secret reference (env:NAME or file:PATH)",
    "list": "a list of strings",
}
"""Every variable type, with how an error message names a value of it."""

HOST_VARS: dict[str, str] = {
    "host.name": "the host's name in the config",
    "host.address": "the host's address",
    "host.user": "the SSH user on the host",
}
"""Built-in per-host values; the namespace ``host`` is reserved for them."""

DECLARATION_KEYS = ("type", "default", "description")
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}")
"""``{{ name }}``: double braces, so shell braces in commands stay literal."""
_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENV_REF = re.compile(r"^env:[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Variable:
    """One declared variable."""

    name: str
    type: str
    description: str = ""
    default: Any = None
    has_default: bool = False

    @property
    def secret(self) -> bool:
        return self.type == "secret"


def is_secret_ref(value: Any) -> bool:
    return isinstance(value, str) and (bool(_ENV_REF.match(value)) or (value.startswith("file:") and len(value) > 5))


def type_problem(var_type: str, value: Any) -> str | None:
    """Why ``value`` is not a value of ``var_type`` (the words name the expected type), or None."""
    expected = f"expected {TYPES[var_type]}"
    if var_type == "integer":
        return None if isinstance(value, int) and not isinstance(value, bool) else expected
    if var_type == "list":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return None if ok else expected
    if not isinstance(value, str):
        return expected
    if var_type == "url":
        try:
            parts = urlsplit(value)
        except ValueError:  # "http://[127.0.0.1/": an unclosed IPv6 bracket
            return expected
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return expected
    if var_type == "secret" and not is_secret_ref(value):
        return f"{expected}; inline secrets are not allowed"
    return None


def flatten(table: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """``(key path, value)`` of every value under a values table: a sub-table is a namespace."""
    found: list[tuple[tuple[str, ...], Any]] = []
    for key, value in table.items():
        if isinstance(value, dict):
            found.extend(flatten(value, (*prefix, key)))
        else:
            found.append(((*prefix, key), value))
    return found


def declarations(raw: dict[str, Any], source: TomlSource) -> dict[str, Variable]:
    """The runbook's ``[vars]`` table as declarations by dotted name; a bad one is a runbook error."""
    found: dict[str, Variable] = {}
    _walk(raw, (), source, found)
    return found


def _walk(table: dict[str, Any], path: tuple[str, ...], source: TomlSource, found: dict[str, Variable]) -> None:
    for key, value in table.items():
        here = (*path, key)
        loc = ("vars", *here)
        if not _PART.match(key):
            raise source.error(
                loc, "a variable name part uses letters, digits and '_', starting with a letter", RunbookError
            )
        if here[0] == "host":
            raise source.error(loc, "'host' is reserved for host.name, host.address and host.user", RunbookError)
        if not isinstance(value, dict):
            raise source.error(loc, 'expected a table: [vars.NAME] with type = "string" (or a namespace)', RunbookError)
        if isinstance(value.get("type"), str):
            found[".".join(here)] = _declaration(".".join(here), value, loc, source)
        else:
            _walk(value, here, source, found)


def _declaration(name: str, table: dict[str, Any], loc: tuple, source: TomlSource) -> Variable:
    for key in table:
        if key not in DECLARATION_KEYS:
            raise source.error(
                (*loc, key), f"unknown key; a declaration has {', '.join(DECLARATION_KEYS)}", RunbookError
            )
    var_type = table["type"]
    if var_type not in TYPES:
        raise source.error((*loc, "type"), f"unknown type {var_type!r}; one of {', '.join(TYPES)}", RunbookError)
    description = table.get("description", "")
    if not isinstance(description, str):
        raise source.error((*loc, "description"), "expected a string", RunbookError)
    if "default" not in table:
        return Variable(name, var_type, description)
    default = table["default"]
    problem = type_problem(var_type, default)
    if problem:
        if var_type == "secret":
            problem = "a secret has no literal default; give a reference (env:NAME or file:PATH) or none"
        raise source.error((*loc, "default"), problem, RunbookError)
    return Variable(name, var_type, description, default, True)


__all__ = ["HOST_VARS", "PLACEHOLDER", "TYPES", "Variable", "declarations", "flatten", "is_secret_ref", "type_problem"]
