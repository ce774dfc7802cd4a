"""What ``warroom drill`` was asked for: a plain dataclass, importable before the first frame
(:mod:`console.drill.run` loads the step kinds, the sandbox and the SSH server)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class DrillOptions:
    headless: bool = False
    fail: str | None = None
    severity: str = "P0"
    directory: Path | None = None
    keep: bool = False
    state_dir: Path | None = None
    verbose: bool = False
    actor: str | None = None
    variants: dict[str, str] | None = None
    """Runbook variants to rehearse (default: the runbook's defaults, docker and artisan)."""
    trigger: str = "Game day: rehearsal of the SalonManager v1.0.0 rollback"
    serve_port: int | None = None
    """Let trainees join over SSH (observers), on this port."""
    listen: str = "127.0.0.1"
    authorized_keys: Path | None = None
    """Trainees' public keys (default ~/.ssh/authorized_keys); each line becomes an observer."""
    ansible: bool = False
    """Rehearse an ansible step (the drill's own playbook) instead of the built-in rollback."""
    http: str | None = None
    """``--http [ADDR:]PORT``: the read-only status page of the drill (address default: ``listen``)."""

    @property
    def http_listen(self) -> str | None:
        """``--http`` with ``listen`` as its address when it names only a port."""
        if self.http is None or ":" in self.http:
            return self.http
        return f"[{self.listen}]:{self.http}" if ":" in self.listen else f"{self.listen}:{self.http}"
