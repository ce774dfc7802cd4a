"""The mysql step's parameters: defaults, static checks and the plan's wording."""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

from actions.mysql.conn import parse_target

if TYPE_CHECKING:
    from console.model.plan import PlannedStep
    from console.model.runbook import Step

OPERATIONS = ("preflight", "find-backup", "restore", "verify")
DEFAULT_BACKUP_DIR = "storage/app/backups"
SAFETY_SUBDIR = "warroom-safety"
PARAMS: dict[str, type] = {
    "operation": str,
    "database": str,
    "password": str,
    "backup_dir": str,
    "backup": str,
    "rpo_minutes": int,
    "on_old_backup": str,
    "safety_dump": bool,
    "safety_dump_dir": str,
    "via_ssh": bool,
    "precheck": bool,
}


def params(step: PlannedStep | Step) -> dict[str, Any]:
    """The step's params with every default filled in (what plan() shows is what run() does)."""
    p = dict(step.params)
    p.setdefault("password", "database.password")
    p.setdefault("backup_dir", DEFAULT_BACKUP_DIR)
    p.setdefault("on_old_backup", "warn")
    p.setdefault("safety_dump", True)
    p.setdefault("via_ssh", True)
    p.setdefault("precheck", True)
    return p


def _on_host(step: PlannedStep, path: str) -> str:
    """A path as SFTP gets it: relative ones are taken from the step's cwd, like its commands."""
    return posixpath.normpath(posixpath.join(step.cwd, path)) if step.cwd else path


def backup_dir(step: PlannedStep) -> str:
    return _on_host(step, params(step)["backup_dir"])


def backup_file(step: PlannedStep) -> str:
    """``backup = "..."``: one file, relative to the cwd like ``database.dump_file``."""
    return _on_host(step, step.params["backup"])


def safety_dir(step: PlannedStep) -> str:
    explicit = step.params.get("safety_dump_dir")
    return _on_host(step, explicit) if explicit else posixpath.join(backup_dir(step), SAFETY_SUBDIR)


def plan_lines(step: PlannedStep, p: dict[str, Any], host: str, target: str) -> list[str]:
    op = p["operation"]
    via = f"through an SSH tunnel from {host}" if p["via_ssh"] else "directly from the warroom machine"
    if op == "preflight":
        return [f"connect to {target} {via}: server version, tables, size (read-only)"]
    lines: list[str] = []
    if p.get("backup"):
        lines.append(f"use backup {backup_file(step)} on {host} (SFTP)")
    else:
        lines.append(
            f"find the newest backup in {backup_dir(step)} on {host} over SFTP "
            "(*.sql, *.sql.gz, *.sql.bz2, *.zip with db-dumps/*.sql[.gz])"
        )
    if "rpo_minutes" in p:
        action = "stop (block)" if p["on_old_backup"] == "block" else "warn and go on"
        lines.append(f"check its age against the RPO of {p['rpo_minutes']} min; if older: {action}")
    if op == "verify":
        lines.append(f"read the dump and compare its tables and row counts with {target} {via} (read-only)")
    if op != "restore":
        return lines
    if p["precheck"]:
        lines.append(
            "check the dump is whole before touching the database (mysqldump's closing line, else a full read)"
        )
    if p["safety_dump"]:
        lines.append(
            f"safety dump of the current database to {host}:{safety_dir(step)}/<database>-<UTC time>.sql.gz "
            "(on the host, gzip)"
        )
    else:
        lines.append("NO safety dump (safety_dump = false): the current data is not kept")
    lines.append(
        f"POINT OF NO RETURN: restore the dump into {target} {via}, statement by statement; "
        "its DROP/CREATE TABLE statements replace the tables"
    )
    lines.append("verify: every table of the dump present, row counts equal to the dump's own")
    return lines


def check(step: Step) -> tuple[str, str] | None:
    """Static checks of a runbook step: ``(field, problem)`` or None."""
    if step.commands:
        return ("commands", "a mysql step runs no shell commands; its params say what it does")
    for key, value in step.params.items():
        if key not in PARAMS:
            return (f"params.{key}", f"unknown parameter for a mysql step (known: {', '.join(PARAMS)})")
        want = PARAMS[key]
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            return (f"params.{key}", f"expected {want.__name__}, got {value!r}")
    for key in ("backup_dir", "backup", "safety_dump_dir"):
        if str(step.params.get(key, "")).startswith("~"):
            return (f"params.{key}", "SFTP does not expand ~: give an absolute path or one relative to cwd")
    op = step.params.get("operation")
    if op not in OPERATIONS:
        return ("params.operation", f"give operation = one of {', '.join(OPERATIONS)} (got {op!r})")
    if step.params.get("on_old_backup", "warn") not in ("warn", "block"):
        return ("params.on_old_backup", 'expected "warn" or "block"')
    if "rpo_minutes" in step.params and step.params["rpo_minutes"] <= 0:
        return ("params.rpo_minutes", "must be a positive number of minutes")
    db = step.params.get("database")
    if db is not None and "{{" not in db and parse_target(db) is None:
        return ("params.database", f"expected user@host:port/name, got {db!r}")
    if op == "restore" and not step.destructive:
        return ("destructive", "a mysql restore replaces the database: set destructive = true and a confirm word")
    return None
