"""The drill sandbox: a throw-away app host as a directory tree.

``build_sandbox`` lays out, under one root::

    home/                    login directory of the stand-in host (HOME, cwd of every command)
    bin/                     stand-in commands (php, composer, flutter, docker-compose, ...)
    libexec/drill_tools/     their implementation (the console/drill/tools package, copied)
    etc/                     host key, client key, authorized_keys, known_hosts
    srv/salonmanager/        the SalonManager checkout: a git repository tagged v0.9.0 and v1.0.0
    var/state/               maintenance flag, services up/down, running version, what was restored
    var/db.sqlite3           the database (as damaged by the bad v1.0.0 deploy)
    var/log/                 service logs and the audit trail of every stand-in call
    warroom/                 the drill's incidents (state_dir), unless told otherwise
    config.toml              the generated warroom config

The starting point is the incident being rehearsed: v1.0.0 is checked out and running, the
database lost a third of its appointments, some uploaded files are gone; the backups in
``storage/app/backups`` hold the v0.9.0 state to roll back to.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import subprocess
import tarfile
import textwrap
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from console.drill import data, tools
from console.drill.standins import write_standins
from console.model import defaults

USER = "deploy"
BACKUP_TIME = time.mktime((2025, 1, 10, 2, 0, 0, 0, 0, -1))
BACKUP_ARCHIVE = "SalonManager/2025-01-10-02-00-00.zip"
BACKEND, FRONTEND = defaults.BACKEND_DIR, defaults.FRONTEND_DIR
BACKEND_SERVICE, FRONTEND_SERVICE = defaults.SERVICES
GIT_DATES = {"v0.9.0": "2024-11-28T16:20:00+01:00", "v1.0.0": "2025-01-10T09:30:00+01:00"}


@dataclass(frozen=True)
class Sandbox:
    """Paths of one sandbox; every stand-in and server derives its files from ``root``."""

    root: Path

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def libexec(self) -> Path:
        return self.root / "libexec"

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def host_key(self) -> Path:
        return self.etc / "ssh_host_ed25519_key"

    @property
    def client_key(self) -> Path:
        return self.etc / "id_ed25519"

    @property
    def authorized_keys(self) -> Path:
        return self.etc / "authorized_keys"

    @property
    def known_hosts(self) -> Path:
        return self.etc / "known_hosts"

    @property
    def app(self) -> Path:
        return self.root / tools.APP

    @property
    def backend(self) -> Path:
        return self.app / defaults.BACKEND_DIR

    @property
    def frontend(self) -> Path:
        return self.app / defaults.FRONTEND_DIR

    @property
    def backups(self) -> Path:
        return self.backend / defaults.BACKUP_DIR

    @property
    def state(self) -> Path:
        return tools.state_dir(self.root)

    @property
    def db(self) -> Path:
        return self.root / "var" / "db.sqlite3"

    @property
    def logs(self) -> Path:
        return self.root / "var" / "log"

    @property
    def incidents_root(self) -> Path:
        return self.root / "warroom"

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    # ----- what the drill and its tests read back ---------------------------------------------

    def git_env(self) -> dict[str, str]:
        """git as the sandbox host runs it: its own HOME (global config), no system config."""
        return {
            "PATH": os.environ.get("PATH") or os.defpath,
            "HOME": str(self.home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "LC_ALL": "C",
        }

    def git(self, *args: str, env: dict[str, str] | None = None) -> str:
        result = subprocess.run(
            ["git", *args],
            cwd=self.app,
            env={**self.git_env(), **(env or {})},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def head_tag(self) -> str:
        return self.git("describe", "--tags", "--always")

    def services(self) -> dict[str, str]:
        return tools.read_services(self.root)

    def maintenance(self) -> str | None:
        path = self.state / "maintenance"
        return path.read_text(encoding="utf-8").strip() if path.exists() else None

    def running_version(self) -> str:
        path = self.state / "version"
        return path.read_text(encoding="utf-8").strip() if path.exists() else ""

    def row_counts(self) -> dict[str, int]:
        conn = sqlite3.connect(self.db)
        try:
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return {n: conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in sorted(names)}
        finally:
            conn.close()

    def pin_host_key(self, port: int, address: str = "127.0.0.1") -> None:
        """Write known_hosts for the embedded server's port: the only host key the drill trusts."""
        key = asyncssh.read_private_key(self.host_key).export_public_key().decode().split()
        self.known_hosts.write_text(f"[{address}]:{port} {key[0]} {key[1]}\n", encoding="utf-8")


def build_sandbox(root: Path, *, db_password: str, curl: bool | None = None) -> Sandbox:
    """Lay out a fresh sandbox under ``root`` (which must be empty or absent)."""
    box = Sandbox(root)
    for path in (box.home, box.etc, box.state, box.logs, box.incidents_root):
        path.mkdir(parents=True, exist_ok=True)
    box.etc.chmod(0o700)
    _keys(box)
    _gitconfig(box)
    _repository(box)
    _backups(box)
    _incident(box, db_password)
    write_standins(box.root, box.bin, box.libexec, curl=curl)
    return box


def _keys(box: Sandbox) -> None:
    host = asyncssh.generate_private_key("ssh-ed25519", comment="drill app1 host key")
    host.write_private_key(box.host_key)
    client = asyncssh.generate_private_key("ssh-ed25519", comment="warroom drill")
    client.write_private_key(box.client_key)
    box.client_key.chmod(0o600)
    box.host_key.chmod(0o600)
    public = client.export_public_key().decode().strip()
    # Forwarding is limited by the server itself to the sandbox app's own ports (an http step's tunnel).
    box.authorized_keys.write_text(f"no-agent-forwarding,no-X11-forwarding {public}\n")


def _gitconfig(box: Sandbox) -> None:
    """The host's global git config: safe.directory only counts in protected (global) config."""
    (box.home / ".gitconfig").write_text(
        textwrap.dedent(
            f"""\
            [user]
            \tname = SalonManager Deploy
            \temail = deploy@salonmanager.app
            [safe]
            \tdirectory = {box.app}
            [init]
            \tdefaultBranch = main
            """
        ),
        encoding="utf-8",
    )


def _write(base: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def _release_files(version: str, migrations: list[str], laravel: str) -> dict[str, str]:
    composer = {
        "name": "salonmanager/backend",
        "version": version,
        "type": "project",
        "require": {"php": "^8.2", "laravel/framework": laravel, "spatie/laravel-backup": "^8.5"},
        "require-dev": {"phpunit/phpunit": "^10.5"},
    }
    files = {
        "VERSION": f"{version}\n",
        f"{BACKEND}/composer.json": json.dumps(composer, indent=4) + "\n",
        f"{FRONTEND}/pubspec.yaml": f"""
            name: salonmanager
            description: SalonManager web frontend
            version: {version}+{version.replace(".", "")}
            environment:
              sdk: ">=3.2.0 <4.0.0"
            dependencies:
              flutter:
                sdk: flutter
              http: ^1.1.0
            """,
        f"{BACKEND}/config/version.php": f"<?php\n\nreturn ['version' => '{version}'];\n",
    }
    for name in migrations:
        files[f"{BACKEND}/database/migrations/{name}.php"] = f"<?php\n\n// migration {name}\n"
    return files


BASE_FILES = {
    "README.md": "# SalonManager\n\nBooking and customer management for hair and beauty salons.\n",
    ".gitignore": "*.log\n",
    defaults.COMPOSE_FILE: f"""
        services:
          {BACKEND_SERVICE}:
            image: salonmanager/backend:prod
            restart: unless-stopped
            ports:
              - "127.0.0.1:8000:8000"
          {FRONTEND_SERVICE}:
            image: salonmanager/frontend:prod
            restart: unless-stopped
            ports:
              - "127.0.0.1:8080:80"
        """,
    f"{BACKEND}/artisan": """
        #!/usr/bin/env php
        <?php
        // Laravel's console entry point (the drill's `php` stand-in runs its commands).
        """,
    f"{BACKEND}/.gitignore": "/vendor\n.env\n",
    f"{BACKEND}/.env.example": "APP_NAME=SalonManager\nAPP_ENV=production\nDB_CONNECTION=mysql\n",
    f"{BACKEND}/routes/api.php": """
        <?php

        use App\\Http\\Controllers\\HealthController;
        use Illuminate\\Support\\Facades\\Route;

        Route::get('/v1/health', HealthController::class);
        """,
    f"{BACKEND}/app/Http/Middleware/PreventRequestsDuringMaintenance.php": """
        <?php

        namespace App\\Http\\Middleware;

        use Illuminate\\Foundation\\Http\\Middleware\\PreventRequestsDuringMaintenance as Middleware;

        class PreventRequestsDuringMaintenance extends Middleware
        {
            // The rollback plan checks health before `artisan up`: the health route stays reachable.
            protected $except = ['/api/v1/health'];
        }
        """,
    f"{BACKEND}/storage/app/.gitignore": "*\n!public/\n!.gitignore\n",
    f"{BACKEND}/storage/app/public/.gitignore": "*\n!.gitignore\n",
    f"{BACKEND}/storage/framework/.gitignore": "*\n!.gitignore\n",
    f"{FRONTEND}/.gitignore": "/build/\n.dart_tool/\n",
    f"{FRONTEND}/lib/main.dart": """
        import 'package:flutter/material.dart';

        void main() => runApp(const SalonManagerApp());
        """,
}


def _repository(box: Sandbox) -> None:
    box.app.mkdir(parents=True, exist_ok=True)
    _write(box.app, BASE_FILES)
    _write(box.app, _release_files("0.9.0", data.MIGRATIONS_090, "^10.43"))
    box.git("init", "-q")
    box.git("config", "user.name", "SalonManager Deploy")
    box.git("config", "user.email", "deploy@salonmanager.app")
    _commit(box, "v0.9.0", "SalonManager 0.9.0")
    _write(box.app, _release_files("1.0.0", [*data.MIGRATIONS_090, data.MIGRATION_100], "^10.48"))
    _commit(box, "v1.0.0", "SalonManager 1.0.0: loyalty points, new booking flow")


def _commit(box: Sandbox, tag: str, message: str) -> None:
    when = {"GIT_AUTHOR_DATE": GIT_DATES[tag], "GIT_COMMITTER_DATE": GIT_DATES[tag]}
    box.git("add", "-A")
    box.git("commit", "-q", "-m", message, env=when)
    box.git("tag", "-a", tag, "-m", f"Release {tag}", env=when)


def _backups(box: Sandbox) -> None:
    """The v0.9.0 backups the rollback restores: SQL dump, storage tarball, laravel-backup zip."""
    box.backups.mkdir(parents=True, exist_ok=True)
    dump = data.sql_dump()
    dump_file, storage_archive = box.backend / defaults.DUMP_FILE, box.backend / defaults.STORAGE_ARCHIVE
    dump_file.write_text(dump, encoding="utf-8")
    with tarfile.open(storage_archive, "w:gz") as tar:
        for name, content in sorted(data.storage_files().items()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(content), int(BACKUP_TIME), 0o644
            tar.addfile(info, io.BytesIO(content))
    archive = box.backups / BACKUP_ARCHIVE
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr(tools.DB_DUMP_MEMBER, dump)
    for path in (dump_file, storage_archive, archive, archive.parent):
        os.utime(path, (BACKUP_TIME, BACKUP_TIME))


def _incident(box: Sandbox, db_password: str) -> None:
    """The state the bad v1.0.0 deploy left: running, damaged database, missing uploads."""
    conn = sqlite3.connect(box.db)
    try:
        conn.executescript(data.sql_dump())
        conn.executescript(data.INCIDENT_DAMAGE)
        conn.commit()
    finally:
        conn.close()
    account = {
        "database": defaults.DB_NAME,
        "user": defaults.DB_USER,
        "password_sha256": hashlib.sha256(db_password.encode()).hexdigest(),
    }
    (box.root / "var" / "mysql.json").write_text(json.dumps(account) + "\n", encoding="utf-8")
    avatars = box.backend / "storage" / "app" / "public" / "avatars"
    avatars.mkdir(parents=True, exist_ok=True)
    (avatars / "customer-001.png").write_bytes(b"")  # truncated by the failed upload migration
    (box.backend / ".env").write_text(
        f"APP_NAME=SalonManager\nAPP_ENV=production\nDB_CONNECTION=mysql\nDB_DATABASE={defaults.DB_NAME}\n",
        encoding="utf-8",
    )
    (box.backend / "vendor").mkdir(exist_ok=True)
    (box.backend / "vendor" / "autoload.php").write_text("<?php // salonmanager/backend 1.0.0\n")
    web = box.frontend / "build" / "web"
    web.mkdir(parents=True, exist_ok=True)
    (web / "index.html").write_text('<!DOCTYPE html><html><head><meta name="version" content="1.0.0+100">')
    tools.write_atomic(box.state / "services", "".join(f"{s} up\n" for s in defaults.SERVICES))
    tools.write_atomic(box.state / "version", "v1.0.0\n")
    backend, frontend = BACKEND_SERVICE, FRONTEND_SERVICE
    for service, line in (
        (backend, "started SalonManager v1.0.0"),
        (frontend, "started SalonManager v1.0.0"),
        (backend, "GET /api/v1/appointments 500 SQLSTATE[42S22]: Column not found: 'customers.loyalty_points'"),
        (backend, "ERROR booking flow: appointment lost after save (customer 231)"),
        (frontend, f"GET /booking 502 upstream returned an error ({backend})"),
    ):
        tools.log_service(box.root, service, line)
