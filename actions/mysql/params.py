"""The mysql step's parameters as one typed model, their defaults and the plan's wording."""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING

from pydantic import Field, ValidationInfo, field_validator

from actions.mysql.conn import parse_target
from actions.params import ParamError, StepParams, later
from console.model.quoting import cwd_text

if TYPE_CHECKING:
    from console.model.plan import PlannedStep

OPERATIONS = ("preflight", "find-backup", "restore", "verify")
DEFAULT_BACKUP_DIR = "storage/app/backups"
SAFETY_SUBDIR = "warroom-safety"


class MySQLParams(StepParams):
    operation: str | None = Field(None, validate_default=True)
    """One of :data:`OPERATIONS`."""
    database: str | None = Field(None, validate_default=True)
    """``user@host:port/name``, usually rendered from variables
    (``"{{ db.user }}@{{ db.host }}:{{ db.port }}/{{ db.name }}"``). Required."""
    password: str = "database.password"
    """The name of the secret variable holding the password (its reference, never the password)."""
    backup_dir: str = DEFAULT_BACKUP_DIR
    backup: str | None = None
    """One backup file; None: the newest usable one in ``backup_dir``."""
    rpo_minutes: int | None = None
    on_old_backup: str = "warn"
    safety_dump: bool = True
    safety_dump_dir: str | None = None
    via_ssh: bool = True
    precheck: bool = True
    parallel: int = 4
    """Connections restoring tables at once (1: one connection, the dump's order exactly)."""

    @field_validator("operation")
    @classmethod
    def _known_operation(cls, value: str | None) -> str | None:
        if value not in OPERATIONS:
            raise ParamError("operation", f"give operation = one of {', '.join(OPERATIONS)} (got {value!r})")
        return value

    @field_validator("backup_dir", "backup", "safety_dump_dir")
    @classmethod
    def _host_path(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value and value.startswith("~"):
            raise ParamError(
                str(info.field_name), "~ is not expanded here: give an absolute path or one relative to cwd"
            )
        return value

    @field_validator("on_old_backup")
    @classmethod
    def _warn_or_block(cls, value: str) -> str:
        if value not in ("warn", "block"):
            raise ParamError("on_old_backup", 'expected "warn" or "block"')
        return value

    @field_validator("parallel")
    @classmethod
    def _connections(cls, value: int) -> int:
        if not 1 <= value <= 32:
            raise ParamError("parallel", f"must be 1 (serial) to 32 connections, got {value}")
        return value

    @field_validator("rpo_minutes")
    @classmethod
    def _positive(cls, value: int | None) -> int | None:
        if value is not None and value <= 0:
            raise ParamError("rpo_minutes", "must be a positive number of minutes")
        return value

    @field_validator("database")
    @classmethod
    def _target(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and "database" not in later(info):
            raise ParamError(
                "database",
                "missing; give the database as user@host:port/name, e.g. "
                '"{{ db.user }}@{{ db.host }}:{{ db.port }}/{{ db.name }}"',
            )
        if value is not None and parse_target(value) is None:
            raise ParamError("database", f"expected user@host:port/name, got {value!r}")
        return value


def _on_host(step: PlannedStep, path: str) -> str:
    """A path on the host as given (quoted, never expanded); relative ones are taken from the
    step's cwd, like its commands, or else from the login directory."""
    cwd = cwd_text(step.cwd)  # the plan's cwd is a shell word's body: its escapes undone
    return posixpath.normpath(posixpath.join(cwd, path)) if cwd else path


def backup_dir(step: PlannedStep, p: MySQLParams) -> str:
    return _on_host(step, p.backup_dir)


def backup_file(step: PlannedStep, p: MySQLParams) -> str:
    """``backup = "..."``: one file, relative to the cwd like ``database.dump_file``."""
    return _on_host(step, p.backup or "")


def safety_dir(step: PlannedStep, p: MySQLParams) -> str:
    explicit = p.safety_dump_dir
    return _on_host(step, explicit) if explicit else posixpath.join(backup_dir(step, p), SAFETY_SUBDIR)


def plan_lines(step: PlannedStep, p: MySQLParams, host: str, target: str) -> list[str]:
    op = p.operation
    via = f"through an SSH tunnel from {host}" if p.via_ssh else "directly from the warroom machine"
    if op == "preflight":
        return [f"connect to {target} {via}: server version, tables, size (read-only)"]
    lines: list[str] = []
    if p.backup:
        lines.append(f"use backup {backup_file(step, p)} on {host} (read over SSH exec: stat, tail)")
    else:
        lines.append(
            f"find the newest backup in {backup_dir(step, p)} on {host} over SSH exec (find, stat) "
            "(*.sql, *.sql.gz, *.sql.bz2, *.zip with db-dumps/*.sql[.gz])"
        )
    if p.rpo_minutes is not None:
        action = "stop (block)" if p.on_old_backup == "block" else "warn and go on"
        lines.append(f"check its age against the RPO of {p.rpo_minutes} min; if older: {action}")
    if op == "verify":
        lines.append(f"read the dump and compare its tables and row counts with {target} {via} (read-only)")
    if op != "restore":
        return lines
    if p.precheck:
        lines.append(
            "check the dump is whole before touching the database (mysqldump's closing line, else a full read)"
        )
    if p.safety_dump:
        lines.append(
            f"safety dump of the current database to {host}:{safety_dir(step, p)}/<database>-<UTC time>.sql.gz "
            "(on the host, gzip)"
        )
    else:
        lines.append("NO safety dump (safety_dump = false): the current data is not kept")
    how = (
        "statement by statement"
        if p.parallel == 1
        else f"tables in parallel over {p.parallel} connections, each table's statements in order, views/triggers/"
        "routines alone in the dump's order (serial from a statement that cannot be split safely)"
    )
    lines.append(
        f"POINT OF NO RETURN: restore the dump into {target} {via}, {how}; "
        "its DROP/CREATE TABLE statements replace the tables"
    )
    lines.append("verify: every table of the dump present, row counts equal to the dump's own")
    return lines
