"""A step kind's ``params`` as one typed pydantic model, with one-line problems.

Every kind that takes params declares them as a :class:`StepParams` model
(``Action.params_model``). The same model checks them twice: when the runbook loads, and again
once the plan has rendered the ``{{ placeholders }}``. At load a value still holding a
placeholder cannot be judged yet, so it is left out and any problem about it waits for the plan
(``build_plan``), where such a value is read back as the number or bool its field takes.
"""

from __future__ import annotations

import tomllib
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import ConfigDict, ValidationError, ValidationInfo

from console.model.runbook import PLACEHOLDER
from console.model.validation import StrictModel

M = TypeVar("M", bound="StepParams")


class ParamError(ValueError):
    """A bad parameter: ``name`` is the key under ``params`` ("" when the params as a whole are wrong).

    Raised by a model's validators too: pydantic hands it back, and :func:`parse` reports it as is.
    """

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"params.{name}: {problem}" if name else problem)
        self.name = name
        self.problem = problem


class UnknownParams(ParamError):
    """Keys the model does not have; the kind words the message (``Action.unknown_params``)."""

    def __init__(self, names: tuple[str, ...], known: tuple[str, ...], problem: str = "") -> None:
        super().__init__("", problem or f"unknown parameter(s) {', '.join(names)}; known: {', '.join(known)}")
        self.names = names
        """As given in the runbook (the first is the one a kind may blame)."""
        self.known = known


class WrongType(ParamError):
    """A value of a type its field does not take (``rpo_minutes = "x"``)."""


class StepParams(StrictModel):
    """Base of every kind's params model: unknown keys, silent coercions and changes are refused,
    and so are ``nan`` and ``inf`` for a number (a comparison with NaN never fails, so a NaN
    timeout would pass every range check)."""

    model_config = ConfigDict(allow_inf_nan=False)

    @classmethod
    def known(cls) -> tuple[str, ...]:
        return tuple(cls.model_fields)


class NoParams(StepParams):
    """The params of a kind whose commands or checks say what it does (ssh, manual): none."""


def templated(value: Any) -> bool:
    """The value still holds a ``{{ placeholder }}`` (only the plan can say what it will be)."""
    return isinstance(value, str) and PLACEHOLDER.search(value) is not None


def step_timeout(info: ValidationInfo) -> float | None:
    """The step's timeout, for parameters that must end before it (None: not checked here)."""
    return (info.context or {}).get("timeout")


def later(info: ValidationInfo) -> frozenset[str]:
    """The keys left out because their value holds a placeholder (given, but judged at plan time)."""
    return (info.context or {}).get("later", frozenset())


def rendered(info: ValidationInfo) -> bool:
    """The plan has filled the placeholders in (False: the runbook is loading)."""
    return (info.context or {}).get("rendered", True)


def literal(model: type[StepParams], key: str, value: Any) -> Any:
    """A rendered value as the TOML literal it spells, when ``key``'s field takes that type ("60"
    for an int, "2.5" for a float, "true" for a bool; a text field keeps "60"); anything else as
    it is, for the model to judge (so "abc" for an int is refused there, naming the key)."""
    field = model.model_fields.get(key)
    if field is None or not isinstance(value, str):
        return value
    takes = _scalars(field.annotation)
    try:
        read = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value
    if isinstance(read, bool):
        return read if bool in takes else value
    if isinstance(read, int) and (int in takes or float in takes):
        return read
    if isinstance(read, float) and float in takes:
        return read
    return value


def _scalars(annotation: Any) -> set[Any]:
    """The plain types a field takes (through Optional, unions, Annotated; Any as str)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _scalars(args[0])
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_scalars(a) for a in args))
    if origin is typing.Literal:
        return {type(a) for a in args}
    if annotation is Any:
        return {str}
    return {origin or annotation}


def parse(model: type[M], params: Mapping[str, Any], *, timeout: float, rendered: bool = True) -> M | None:
    """``params`` as ``model``, or the first problem as :class:`ParamError`.

    ``rendered=False`` (at load): values holding a placeholder are left out and problems about
    them ignored; returns None when only such problems stood in the way.
    """
    fields = model.model_fields
    waiting = frozenset() if rendered else frozenset(k for k, v in params.items() if k in fields and templated(v))
    data = {k: v for k, v in params.items() if k not in waiting}
    try:
        return model.model_validate(data, context={"timeout": timeout, "later": waiting, "rendered": rendered})
    except ValidationError as exc:
        problems = [_problem(model, error) for error in exc.errors(include_url=False)]
    # a value of the wrong type first, as the kinds always reported it (before any range or choice)
    problems = sorted((p for p in problems if p.name not in waiting), key=lambda p: not isinstance(p, WrongType))
    unknown = tuple(dict.fromkeys(p.name for p in problems if isinstance(p, UnknownParams)))
    if unknown:
        raise UnknownParams(unknown, model.known())
    if problems:
        raise problems[0]
    return None


def _problem(model: type[StepParams], error: Any) -> ParamError:
    loc = error["loc"]
    name = str(loc[0]) if loc else ""
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        problem = UnknownParams((name,), ())
        problem.name = name
        return problem
    if kind == "value_error":
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, ParamError):
            return cause
        return ParamError(name, str(cause or error["msg"]))
    if kind == "missing":
        return ParamError(name, "missing; give it")
    if kind == "finite_number":
        return ParamError(name, f"expected a finite number, got {value!r}")
    if kind == "literal_error":
        return ParamError(name, f"give one of {error['ctx']['expected']} (got {value!r})")
    field = model.model_fields.get(name)
    if field is not None and kind.endswith("_type"):
        return WrongType(name, f"expected {_words(field.annotation)}, got {value!r}")
    return ParamError(name, f"{error['msg'][0].lower()}{error['msg'][1:]}, got {value!r}")


def _words(annotation: Any) -> str:
    """A parameter's type as the runbook author writes it: int, int or float, str, bool, table, list."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _words(args[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(dict.fromkeys(_words(a) for a in args if a is not type(None)))
    if origin is typing.Literal:
        return "one of " + ", ".join(map(str, args))
    if annotation is float:
        return "int or float"
    named = {dict: "table", list: "list", tuple: "list"}
    return named.get(origin or annotation) or getattr(annotation, "__name__", str(annotation))
