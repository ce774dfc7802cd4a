"""Where things live on disk: the state directory and incident directories."""

from __future__ import annotations

import os
from pathlib import Path

from .config import LoadedConfig
from .engine import incidents_dir
from .errors import IncidentError

DEFAULT_STATE_DIR = "~/.local/state/warroom"


def state_root(config: LoadedConfig | None, override: str | None = None) -> Path:
    """``--state-dir``, else the config's ``environment.state_dir``, else $WARROOM_STATE_DIR."""
    if override:
        return Path(override).expanduser()
    if config is not None:
        return config.model.state_dir()
    return Path(os.environ.get("WARROOM_STATE_DIR", DEFAULT_STATE_DIR)).expanduser()


def incident_dir(root: Path, ref: str) -> Path:
    """An incident by id (in the state dir), or by path to its directory or journal."""
    path = Path(ref).expanduser()
    if path.name == "journal.jsonl" and path.is_file():
        return path.parent
    if (path / "journal.jsonl").is_file():
        return path
    candidate = incidents_dir(root) / ref
    if (candidate / "journal.jsonl").is_file():
        return candidate
    matches = sorted(incidents_dir(root).glob(f"{ref}*")) if incidents_dir(root).is_dir() else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        names = ", ".join(m.name for m in matches[:5])
        raise IncidentError(f"incident {ref!r} is ambiguous in {incidents_dir(root)}: {names}")
    raise IncidentError(f"no incident {ref!r} in {incidents_dir(root)}")
