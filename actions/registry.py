"""The registry of step kinds, filled by the action modules as they are imported."""

from __future__ import annotations

from .base import Action

_KINDS: dict[str, type[Action]] = {}


def register(cls: type[Action]) -> type[Action]:
    _KINDS[cls.kind] = cls
    return cls


def _load() -> None:
    from . import manual, ssh  # noqa: F401  (importing registers the kinds)


def get(kind: str) -> type[Action] | None:
    _load()
    return _KINDS.get(kind)


def kinds() -> list[str]:
    _load()
    return sorted(_KINDS)


def create(kind: str) -> Action:
    cls = get(kind)
    if cls is None:
        raise KeyError(kind)
    return cls()
