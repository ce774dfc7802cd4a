"""The incident engine: validates commands against state and role, journals, applies, publishes,
and runs steps through the step kinds. Above the model and the step kinds, below the host."""

from console.engine.incident import SYSTEM, Actor, Engine, Output, Progress

__all__ = ["SYSTEM", "Actor", "Engine", "Output", "Progress"]
