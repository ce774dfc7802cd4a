"""Who sends a command, and the engine's own name for what nobody commanded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["driver", "observer", "system"]


@dataclass(frozen=True)
class Actor:
    """Who sends a command. ``driver`` means *may* take the seat; holding it is engine state."""

    name: str
    role: Role


# The engine itself, for events nobody commanded (an RTO breach).
SYSTEM = Actor("warroom", "system")
