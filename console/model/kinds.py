"""What the incident model needs to know of a step kind, without importing one.

Step kinds (``actions/``) sit above the model, so the runbook loader and the plan text are handed
the table of kinds (``actions.registry.KINDS``) by their caller instead of importing it: the model
stays the bottom layer, and a test can hand it a table of its own.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, ClassVar, Protocol


class StepKind(Protocol):
    """The class side of a step kind, as the model uses it."""

    kind: ClassVar[str]
    automated: ClassVar[bool]
    needs_targets: ClassVar[bool]
    runs_commands: ClassVar[bool]
    """The step's own ``commands`` are what it runs (so only such a kind can run them with sudo)."""

    @classmethod
    def check_step(cls, step: Any) -> tuple[str, str] | None:
        """Static checks of a runbook ``Step``: ``(field, problem)`` or None."""

    @classmethod
    def secret_keys(cls, params: dict[str, Any]) -> dict[str, str]:
        """``{param: secret variable name}`` for the params that name a secret (mysql ``password``)."""

    @classmethod
    def rendered_params(cls, params: dict[str, Any], held: Collection[str]) -> dict[str, Any]:
        """The params once rendered; ``held`` are the keys whose value held a placeholder (text now,
        read back as the number or bool its field takes)."""

    @classmethod
    def check_rendered(cls, params: dict[str, Any], timeout: float) -> str | None:
        """The rendered params' first problem as one line naming the key, or None."""

    def plan(self, step: Any) -> list[Any]:
        """What would run for a ``PlannedStep``, per host (items with ``host`` and ``text``)."""


KindTable = Mapping[str, type[StepKind]]
