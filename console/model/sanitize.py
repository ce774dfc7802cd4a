"""Neutralising terminal control sequences in remote output before anyone sees it.

A host's output can carry escape sequences that would move the cursor, retitle the window or
worse in the operator's terminal. Everything but newline and tab is shown as a visible escape.
"""

from __future__ import annotations

import re
from typing import Any

from console.model.secrets import Redactor

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code == 0x1B:
        return "^["
    if code < 0x20:
        return "^" + chr(code + 0x40)
    return f"\\x{code:02x}"


def neutralise(text: str) -> str:
    """Replace control characters (ESC, CR, BEL, C1, ...) with harmless visible forms."""
    return _CONTROL.sub(_visible, text)


def neutralise_tree(value: Any, redactor: Redactor | None = None) -> Any:
    """Every string in a JSON-like value (keys too) neutralised: remote-derived facts and errors
    as they enter the journal, so no screen, watcher or report gets a raw control sequence.
    Secrets are masked first: a secret holding a control character (a CR in a key file) would
    no longer match once neutralised."""
    if isinstance(value, str):
        if redactor is not None and redactor.needed(value):
            value = redactor.text(value)
        return neutralise(value) if _CONTROL.search(value) else value
    if isinstance(value, dict):
        return {neutralise_tree(k): neutralise_tree(v, redactor) for k, v in value.items()}  # keys stay
    if isinstance(value, list | tuple):
        return type(value)(neutralise_tree(v, redactor) for v in value)
    return value


def neutralise_lines(lines) -> list[str]:
    """Neutralise a batch in one regex pass (the pattern never matches the newline that joins it)."""
    return neutralise("\n".join(lines)).split("\n")
