"""The report's word on the journal's seal (:mod:`console.model.seal`): whether ``journal.seal``
matched the journal it was rebuilt from. A journal cut short of its seal never gets this far: the
report refuses it, naming the records missing."""

from __future__ import annotations

from typing import Any

from console.model.seal import SealState


def seal_section(seal: SealState | None) -> dict[str, Any]:
    """``status``: sealed (closed, with its closing record), matches, behind (records past the
    seal: a crash, or appended while the report was read) or unsealed (no ``journal.seal``)."""
    if seal is None:  # report data built from records alone (no incident directory)
        return {"status": "unsealed", "seq": 0, "text": "not checked against a seal"}
    return {"status": seal.status, "seq": seal.seal.seq if seal.seal else 0, "text": seal.describe()}
