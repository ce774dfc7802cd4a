"""The incident directory: where incidents live on disk, their paths and the lock that keeps one
process appending to a journal."""

from __future__ import annotations

import fcntl
import os
import secrets
import time
from pathlib import Path

from console.model import defaults
from console.model.clock import Clock
from console.model.config import LoadedConfig
from console.model.errors import IncidentError


def state_root(config: LoadedConfig | None, override: str | None = None) -> Path:
    """``--state-dir``, else the config's ``environment.state_dir``, else $WARROOM_STATE_DIR."""
    if override:
        return Path(override).expanduser()
    if config is not None:
        return config.model.state_dir()
    return Path(os.environ.get("WARROOM_STATE_DIR", defaults.STATE_DIR)).expanduser()


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


def incidents_dir(state_root: Path) -> Path:
    return state_root / "incidents"


def output_path(incident_dir: Path, step_id: str, attempt: int, host: str) -> Path:
    """Where one host's full output of one step attempt is spooled."""
    return incident_dir / "outputs" / step_id / str(attempt) / f"{host}.log"


def new_incident_id(clock: Clock) -> str:
    return f"{clock.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def lock(directory: Path, incident_id: str) -> int:
    """Hold an exclusive lock so two processes never append to one journal."""
    fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    for attempt in range(10):  # `incidents` and `report` probe with a brief shared lock: wait it out
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if attempt < 9:
                time.sleep(0.02)
    else:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise IncidentError(f"incident {incident_id} is open in another warroom process (pid {holder})") from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd
