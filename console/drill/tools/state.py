"""The sandbox's state as the stand-ins keep it: services, version, logs, the database, the audit trail."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import sqlite3
import subprocess
from pathlib import Path

# A copy, not an import: this module runs inside the sandbox under a bare python (stdlib only,
# no warroom on its path). Keep it in step with console.model.defaults.SERVICES, the source;
# tests/test_defaults.py holds the two together.
SERVICES = ("salonmanager-backend", "salonmanager-frontend")
APP = "srv/salonmanager"
DB_DUMP_MEMBER = "db-dumps/mysql-salonmanager.sql"


class Refused(Exception):
    """A stand-in refuses its arguments: the message goes to stderr, ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# ----- the sandbox's state ---------------------------------------------------------------------


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` in one step: the health endpoint reads these files concurrently."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def state_dir(root: Path) -> Path:
    return root / "var" / "state"


def read_services(root: Path) -> dict[str, str]:
    """``{service: "up" | "down" | "crashed"}``; a service never started is down."""
    found = dict.fromkeys(SERVICES, "down")
    path = state_dir(root) / "services"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            name, _, state = line.partition(" ")
            if name:
                found[name] = state.strip()
    return found


CRASH_ON_START = "crash_on_start"
"""A state file naming services that exit right after they start (``drill --fail``), one a line."""
CRASHED = "crashed"


def crashing(root: Path) -> set[str]:
    path = state_dir(root) / CRASH_ON_START
    return set(path.read_text(encoding="utf-8").split()) if path.exists() else set()


def set_services(root: Path, names: list[str], state: str) -> None:
    """Start or stop services; one listed in ``crash_on_start`` starts, then exits at once."""
    services = read_services(root)
    crashes = crashing(root) if state == "up" else set()
    for name in names:
        services[name] = CRASHED if name in crashes else state
    write_atomic(state_dir(root) / "services", "".join(f"{n} {s}\n" for n, s in services.items()))
    message = "stopped"
    if state == "up":
        version = checked_out(root)
        write_atomic(state_dir(root) / "version", version + "\n")
        message = f"started SalonManager {version}"
    for name in names:
        log_service(root, name, message)
        if name in crashes:
            log_service(root, name, "exited with code 1: cannot connect to the database (drill: rehearsed crash)")


def checked_out(root: Path) -> str:
    """The tag (or commit) checked out in the app tree, as ``git describe`` names it."""
    result = subprocess.run(
        ["git", "-C", str(root / APP), "describe", "--tags", "--always"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "unknown"


def log_service(root: Path, service: str, message: str) -> None:
    path = root / "var" / "log" / f"{service}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"{_now()} {message}\n")


def service_log(root: Path, service: str) -> list[tuple[str, str]]:
    path = root / "var" / "log" / f"{service}.log"
    if not path.exists():
        return []
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        stamp, _, message = line.partition(" ")
        lines.append((stamp, message))
    return lines


def audit(root: Path, tool: str, argv: list[str]) -> None:
    path = root / "var" / "log" / "commands.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"{_now()} {Path.cwd()} {json.dumps([tool, *argv])}\n")


def load_dump(root: Path, sql: str, source: str) -> dict[str, int]:
    """Load a dump into the sandbox database; returns the row count of every table."""
    path = root / "var" / "db.sqlite3"
    conn = sqlite3.connect(path)
    try:
        conn.executescript(sql)
        conn.commit()
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        counts = {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
    except sqlite3.Error as exc:
        raise Refused(f"ERROR 1064 (42000): {exc}") from None
    finally:
        conn.close()
    digest = hashlib.sha256(sql.encode()).hexdigest()
    write_atomic(state_dir(root) / "db_restored_from", f"{source}\nsha256 {digest}\n{json.dumps(counts)}\n")
    return counts


# ----- php artisan -----------------------------------------------------------------------------
