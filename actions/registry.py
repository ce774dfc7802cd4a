"""The registry of step kinds, filled by the action modules as they are imported."""

from __future__ import annotations

from .base import Action

_KINDS: dict[str, type[Action]] = {}


def register(cls: type[Action]) -> type[Action]:
    _KINDS[cls.kind] = cls
    return cls


_SUPPORT = {"base", "registry"}
_loaded = False


def _load() -> None:
    """Import every module of the package once: each step kind registers itself on import."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    import importlib
    import pkgutil

    package = importlib.import_module(__package__)
    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in _SUPPORT and not module.name.startswith("_"):
            importlib.import_module(f"{__package__}.{module.name}")


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
