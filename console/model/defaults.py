"""The SalonManager deployment's defaults, in one place.

The built-in runbook's variable defaults (``console/model/runbooks/salonmanager.toml``, checked
equal by tests/test_defaults.py), the drill's sandbox and its generated config
(:mod:`console.drill.drillconfig`) all describe the same application; they read its paths, names
and URLs from here so that they cannot drift apart.
"""

from __future__ import annotations

from typing import Any

RUNBOOK = "salonmanager"
STATE_DIR = "~/.local/state/warroom"
KNOWN_HOSTS = "~/.ssh/known_hosts"

APP_ROOT = "/var/www/salonmanager"
BACKEND_DIR = "salonmanager/backend"
FRONTEND_DIR = "salonmanager/frontend"
COMPOSE_FILE = "docker-compose.prod.yml"
ROLLBACK_REF = "v0.9.0"
SERVICES = ("salonmanager-backend", "salonmanager-frontend")
COMPOSE_PROJECT = "salonmanager"

DB_HOST = "127.0.0.1"
DB_PORT = 3306
DB_NAME = "salonmanager"
DB_USER = "salonmanager"
DB_PASSWORD = "env:SALONMANAGER_DB_PASSWORD"
BACKUP_DIR = "storage/app/backups"
"""Where the backend keeps its backups (relative to ``backend_dir``): the built-in runbook's steps look here."""
DUMP_FILE = f"{BACKUP_DIR}/backup_file.sql"
STORAGE_ARCHIVE = f"{BACKUP_DIR}/storage_backup.tar.gz"
"""The uploaded-files tarball the built-in runbook's restore-storage step unpacks."""

HEALTH_URL = "http://localhost:8000/api/v1/health"
HEALTH_STATUS = 200
HEALTH_TIMEOUT = 5


def vars_table(root: str, password: str, health_url: str) -> dict[str, Any]:
    """The ``[vars]`` of a config for the built-in runbook: a checkout at ``root``, the database
    password behind the reference ``password``, the health check at ``health_url``."""
    return {
        "app": {
            "root": root,
            "backend_dir": BACKEND_DIR,
            "frontend_dir": FRONTEND_DIR,
            "compose_file": COMPOSE_FILE,
            "rollback_ref": ROLLBACK_REF,
            "services": list(SERVICES),
        },
        "database": {
            "host": DB_HOST,
            "port": DB_PORT,
            "name": DB_NAME,
            "user": DB_USER,
            "password": password,
            "dump_file": DUMP_FILE,
        },
        "docker": {"base_url": "", "compose_project": COMPOSE_PROJECT},
        "health": {"url": health_url, "expect_status": HEALTH_STATUS, "timeout": HEALTH_TIMEOUT},
    }
