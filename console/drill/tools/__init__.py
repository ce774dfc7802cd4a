"""The stand-in commands of the drill sandbox: php artisan, composer, flutter, docker-compose, ...

This package runs *inside the sandbox*, not inside warroom: :mod:`console.drill.standins` copies it
to ``<sandbox>/libexec/drill_tools/`` and writes one tiny script per command into
``<sandbox>/bin`` that calls :func:`main` with the sandbox root. So it imports the standard
library only, its modules reach each other by relative imports (the copy is a top-level package
of another name), and each command changes the sandbox the way the real tool changes a server:

- ``var/state/maintenance`` exists while the app is in maintenance mode (it holds the message);
- ``var/state/services`` says ``up``, ``down`` or ``crashed`` per service, ``var/state/version``
  which checked-out tag the running services were started from; a service named in
  ``var/state/crash_on_start`` (``drill --fail``) exits right after it starts;
- ``var/db.sqlite3`` is the database: ``mysql`` and ``artisan backup:restore`` really load the
  MySQL-style dump into it (sqlite understands the subset the drill's dumps use);
- ``var/state/db_restored_from``, ``composer``, ``flutter`` record what was restored or built;
- ``var/log/<service>.log`` is what ``docker-compose logs`` and ``journalctl`` show, and
  ``var/log/commands.log`` every stand-in call (the drill's own audit trail).

Anything a stand-in does not rehearse exits 1 with a message that says so, rather than
pretending to succeed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .app import composer, flutter, php
from .services import curl, docker_compose, journalctl, mysql, sudo, systemctl
from .state import (
    APP,
    CRASH_ON_START,
    CRASHED,
    DB_DUMP_MEMBER,
    SERVICES,
    Refused,
    audit,
    log_service,
    read_services,
    state_dir,
    write_atomic,
)

__all__ = [
    "APP",
    "CRASHED",
    "CRASH_ON_START",
    "DB_DUMP_MEMBER",
    "SERVICES",
    "TOOLS",
    "Refused",
    "log_service",
    "main",
    "read_services",
    "state_dir",
    "write_atomic",
]

TOOLS = {
    "php": php,
    "composer": composer,
    "flutter": flutter,
    "docker-compose": docker_compose,
    "systemctl": systemctl,
    "journalctl": journalctl,
    "sudo": sudo,
    "mysql": mysql,
    "curl": curl,
}


def main(root: str, tool: str, argv: list[str]) -> int:
    """Entry point of every stand-in script in ``<sandbox>/bin``."""
    base = Path(root)
    audit(base, tool, argv)
    try:
        return TOOLS[tool](base, argv)
    except Refused as exc:
        sys.stdout.flush()
        print(str(exc), file=sys.stderr)
        return exc.code
