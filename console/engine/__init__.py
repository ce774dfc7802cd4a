"""The incident engine: validates commands against state and role, journals, applies, publishes,
and runs steps through the step kinds. Above the model and the step kinds, below the host."""

from console.engine.actor import SYSTEM, Actor
from console.engine.incident import Engine
from console.engine.stream import Output, Progress

__all__ = ["SYSTEM", "Actor", "Engine", "Output", "Progress"]
