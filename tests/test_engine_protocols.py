"""The Protocol the command table types the engine by must match the Engine that combines its
jobs: no type checker runs in the test suite, so the signatures are compared here."""

from __future__ import annotations

import inspect

from console.engine import Engine
from console.engine.commands import CommandTarget


def _members(protocol: type) -> list[str]:
    return [name for name, value in vars(protocol).items() if inspect.isfunction(value) and not name.startswith("_")]


def test_the_engine_is_what_the_command_table_calls():
    assert "users" in CommandTarget.__annotations__
    for name in _members(CommandTarget):
        expected = inspect.signature(getattr(CommandTarget, name))
        actual = inspect.signature(getattr(Engine, name))
        assert list(actual.parameters) == list(expected.parameters), name
        assert inspect.iscoroutinefunction(getattr(Engine, name)) == inspect.iscoroutinefunction(
            getattr(CommandTarget, name)
        ), name
