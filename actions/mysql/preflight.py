"""What a mysql step needs before the incident opens, checked read-only: the backups readable on
the host and a database login that works, through the same tunnel and connection code the step
will use.

The backups are checked through the exec channel (``test -r``), not SFTP: hosts whose sshd offers
no sftp subsystem are read that way too.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from collections.abc import Callable
from typing import Any

from actions.base import LOCAL_HOST, PreflightContext, Probe, Target
from actions.mysql.conn import DbTarget, Endpoint, Tunnel
from actions.mysql.params import MySQLParams, backup_dir, backup_file
from actions.transport import ask, directory_problem, directory_script
from console.model.errors import ActionError

NEEDS_BACKUP = ("find-backup", "restore", "verify")


def probes(ctx: PreflightContext, p: MySQLParams, target_of: Callable[[], DbTarget]) -> list[Probe]:
    """The backup checks per host and the login check (per host through its tunnel, or once from
    the warroom machine with ``via_ssh = false``)."""
    found: list[Probe] = []
    if p.operation in NEEDS_BACKUP:
        found += [_backup_probe(ctx, p, t) for t in ctx.targets]
    try:
        db = target_of()
    except ActionError as exc:
        problem = str(exc)

        async def unusable() -> str:
            raise ActionError(problem)

        return [*found, Probe(LOCAL_HOST, "database coordinates", unusable)]
    if p.via_ssh:
        found += [_login_probe(ctx, p, db, t) for t in ctx.targets]
    elif ctx.targets:
        found.append(_login_probe(ctx, p, db, None))
    return found


def _backup_probe(ctx: PreflightContext, p: MySQLParams, target: Target) -> Probe:
    if p.backup:
        path = backup_file(ctx.step, p)

        async def one_file() -> str:
            problem = _file_problem(await ask(ctx, target, _file_script(path)), target, path)
            if problem:
                raise ActionError(problem)
            return "readable"

        return Probe(target.name, f"mysql backup {path} readable", one_file)
    directory = backup_dir(ctx.step, p)

    async def folder() -> str:
        problem = directory_problem(
            await ask(ctx, target, directory_script(directory, readable=True)), target, directory, "backup directory"
        )
        if problem:
            raise ActionError(problem)
        return "readable"

    return Probe(target.name, f"mysql backup dir {directory} readable", folder)


def _file_script(path: str) -> str:
    quoted = shlex.quote(path)
    return (
        f"if [ ! -e {quoted} ]; then echo missing; elif [ ! -f {quoted} ]; then echo not-file; "
        f"elif [ ! -r {quoted} ]; then echo denied; else echo ok; fi"
    )


def _file_problem(answer: str, target: Target, path: str) -> str | None:
    where = f"host {target.name}"
    return {
        "ok": None,
        "missing": f"{where}: the backup {path} does not exist: fix params.backup",
        "not-file": f"{where}: the backup {path} is not a regular file",
        "denied": f"{where}: user {target.user} may not read the backup {path}: fix its permissions",
    }.get(answer, f"{where}: cannot check the backup {path} (the shell answered {answer!r})")


def _login_probe(ctx: PreflightContext, p: MySQLParams, db: DbTarget, target: Target | None) -> Probe:
    host = target.name if target is not None else LOCAL_HOST
    route = f"via SSH from {host}" if target is not None else "direct"

    async def login() -> str:
        where = f"preflight on {host}"
        endpoint = Endpoint(db, ctx.secret(p.password), None, where)
        try:
            if target is not None:
                endpoint.tunnel = Tunnel(await ctx.connections.get(target), db, target.name)
                await endpoint.tunnel.open(where)
            return await asyncio.to_thread(_read_only_login, endpoint)
        finally:
            if endpoint.tunnel is not None:
                endpoint.tunnel.close()

    return Probe(host, f"database login {db} ({route})", login, needs=(p.password,))


def _read_only_login(endpoint: Endpoint) -> str:
    """Log in and ask who we are: nothing is written, no table is read."""
    import pymysql

    conn: Any = endpoint.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT VERSION(), CURRENT_USER()")
            version, user = cur.fetchone()
    except pymysql.MySQLError as exc:
        raise endpoint.error(exc) from None
    finally:
        with contextlib.suppress(Exception):
            conn.close()
    return f"{version} as {user}"
