"""Strict validation of TOML documents against pydantic models, with one-line errors.

pydantic does the checking (unknown keys, types, required keys, ranges); this module only turns
its first complaint into ``file:line: key.path: problem`` wording an operator can act on at 3 a.m.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import ConfigError
from .tomlsource import TomlSource

M = TypeVar("M", bound=BaseModel)


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


def validate(model: type[M], source: TomlSource, *, cls: type[ConfigError] = ConfigError) -> M:
    """Validate ``source.data`` as ``model`` or raise the first problem as ``cls``."""
    try:
        return model.model_validate(source.data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        loc = _clean_loc(first["loc"])
        problem = _describe(model, first, loc)
        if len(errors) > 1:
            problem += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        raise source.error(loc, problem, cls) from None


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union-branch and validator markers from a location."""
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))


def _describe(model: type[BaseModel], error: dict[str, Any], loc: tuple[Any, ...]) -> str:
    kind = error["type"]
    value = error.get("input")
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
        return f"{_TYPE_WORDS[kind]}, got {_show(value)}"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"must be one of {expected}, got {_show(value)}"
    if kind == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    return f"{error['msg'][0].lower()}{error['msg'][1:]}, got {_show(value)}"


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
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
