"""Strict validation of TOML documents against pydantic models, with one-line errors.

pydantic does the checking (unknown keys, types, required keys, ranges); this module only turns
its first complaint into ``file:line: key.path: problem`` wording an operator can act on at 3 a.m.
"""

from __future__ import annotations

import datetime
import difflib
import types
import typing
from collections.abc import Collection
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from console.model.errors import ConfigError
from console.model.tomlsource import TomlSource

M = TypeVar("M", bound=BaseModel)

# Plain-words descriptions of the string patterns the models use (see :func:`pattern`).
_PATTERN_WORDS: dict[str, str] = {}


def pattern(regex: str, words: str) -> str:
    """Register what ``regex`` means in plain words (for error messages) and return it."""
    _PATTERN_WORDS[regex] = words
    return regex


class FieldError(ValueError):
    """Raised by a model validator to blame one key of the table rather than the whole table."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class StrictModel(BaseModel):
    """Base for config and runbook models: unknown keys and silent coercions are refused."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


_TYPE_WORDS = {
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "float_type": "expected a number",
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "list_type": "expected an array",
    "dict_type": "expected a table",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
}


def validate(
    model: type[M],
    source: TomlSource,
    *,
    cls: type[ConfigError] = ConfigError,
    secret_keys: Collection[str] = (),
) -> M:
    """Validate ``source.data`` as ``model`` or raise the first problem as ``cls``.

    The value of a key named in ``secret_keys`` is never quoted back in the message.
    """
    try:
        return model.model_validate(source.data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        # An unknown key usually explains the "missing" one beside it (adress vs address): say it first.
        first = min(errors, key=lambda e: e["type"] != "extra_forbidden")
        loc = _clean_loc(first["loc"])
        if first["type"] == "extra_forbidden":  # the unknown key is the user's, whatever it looks like
            loc = (*_clean_loc(first["loc"][:-1]), first["loc"][-1])
        error = first.get("ctx", {}).get("error")
        if first["type"] == "value_error" and isinstance(error, FieldError):
            loc = (*loc, error.field)
        secret = any(isinstance(p, str) and p in secret_keys for p in loc)
        problem = _describe(model, first, loc, show_value=not secret)
        if len(errors) > 1:
            problem += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        raise source.error(loc, problem, cls) from None


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union-branch and validator markers from a location."""
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))


def _describe(model: type[BaseModel], error: dict[str, Any], loc: tuple[Any, ...], *, show_value: bool = True) -> str:
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx", {})
    got = f", got {_show(value)}" if show_value else ""
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        if allowed:
            near = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f"; did you mean '{near[0]}'?" if near else f"; allowed: {', '.join(sorted(allowed))}"
            return f"unknown key{hint}"
        return "unknown key"
    if kind == "missing":
        return "missing required key"
    if kind in _TYPE_WORDS:
        return f"{_TYPE_WORDS[kind]}{got}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')}{got}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in _BOUND_WORDS:
        word, key = _BOUND_WORDS[kind]
        return f"must be {word} {ctx.get(key)}{got}"
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return f"needs at least {n} {'entry' if n == 1 else 'entries'}, got {ctx.get('actual_length', 0)}"
    if kind == "too_long":
        return f"allows at most {ctx.get('max_length')} entries, got {ctx.get('actual_length')}"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters long{got}"
    if kind == "string_pattern_mismatch":
        regex = ctx.get("pattern", "")
        what = "name" if error["loc"] and error["loc"][-1] == "[key]" else "value"
        words = _PATTERN_WORDS.get(regex, f"it must match {regex}")
        return f"invalid {what}{' ' + _show(value) if show_value else ''}: {words}"
    return f"{error['msg'][0].lower()}{error['msg'][1:]}{got}"


_BOUND_WORDS = {
    "greater_than": ("greater than", "gt"),
    "greater_than_equal": ("at least", "ge"),
    "less_than": ("less than", "lt"),
    "less_than_equal": ("at most", "le"),
}


def _show(value: Any) -> str:
    """A value as the TOML author wrote it, shortened."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Walk the model's annotations along ``loc`` to list the keys that table accepts."""
    target: Any = model
    for part in loc:
        target = _descend(target, part)
        if target is None:
            return []
    target = _unwrap(target)
    if isinstance(target, type) and issubclass(target, BaseModel):
        return list(target.model_fields)
    return []


def _descend(annotation: Any, part: Any) -> Any:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(part) if isinstance(part, str) else None
        return field.annotation if field else None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (list, tuple) and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _unwrap(annotation: Any) -> Any:
    """Strip Optional/Annotated wrappers down to the model or container inside."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            inner = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = (
                inner[0]
                if len(inner) == 1
                else next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), inner[0])
            )
            if (
                not (isinstance(annotation, type) and issubclass(annotation, BaseModel))
                and typing.get_origin(annotation) is None
            ):
                return annotation
        else:
            return annotation


show_value = _show
"""A value as the TOML author wrote it, shortened (for messages about values validated elsewhere)."""
