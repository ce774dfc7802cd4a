"""sudo for a step's commands: the gate's check that sudo will let the login user in (without a
password, or with the host's ``sudo_password`` fed on stdin), said in one line when it will not.

The password is never an argument of any process (``sudo -S`` reads it from stdin) and never
written anywhere but the SSH channel; it is a secret reference in the config, masked like every
other secret.
"""

from __future__ import annotations

import asyncssh

from actions.base import PreflightContext, Probe, Target
from actions.sshconnect import describe, said
from console.model.errors import ActionError, HostUnreachable

SUDO_CHECK = "sudo: commands may run as root"
ASK = (
    "if ! command -v sudo >/dev/null 2>&1; then echo missing; "
    "elif sudo -n true 2>/dev/null; then echo nopasswd; else echo password; fi"
)


def sudo_password_key(target: Target) -> str:
    return f"hosts.{target.name}.sudo_password"


def sudo_probes(ctx: PreflightContext) -> list[Probe]:
    """One check per host of a ``sudo = true`` step."""

    def probe(target: Target) -> Probe:
        async def run() -> str:
            return await _check(ctx, target)

        needs = (sudo_password_key(target),) if target.sudo_password else ()
        return Probe(target.name, SUDO_CHECK, run, needs)

    return [probe(t) for t in ctx.targets]


async def _check(ctx: PreflightContext, target: Target) -> str:
    where = f"host {target.name}"
    answer = await _run(ctx, target, ASK)
    word = str(answer.stdout or "").split()[:1]
    if word == ["nopasswd"]:
        return f"user {target.user} needs no password"
    if word == ["missing"]:
        raise ActionError(f"{where}: sudo is not installed, and a step runs its commands with sudo = true")
    if word != ["password"]:
        raise ActionError(f"{where}: cannot check sudo (exit {answer.exit_status})")
    if not target.sudo_password:
        raise ActionError(
            f"{where}: sudo wants a password for user {target.user}: allow the step's commands NOPASSWD "
            f'in sudoers, or set {sudo_password_key(target)} = "env:NAME" (fed on stdin, never on a command line)'
        )
    password = ctx.secret(sudo_password_key(target))
    tried = await _run(ctx, target, "sudo -S -p '' true", stdin=f"{password}\n")
    if tried.exit_status != 0:
        raise ActionError(
            f"{where}: sudo refused the password of {sudo_password_key(target)} ({target.sudo_password}) "
            f"for user {target.user}"
        )
    return f"user {target.user}, password from {sudo_password_key(target)} accepted"


async def _run(ctx: PreflightContext, target: Target, script: str, stdin: str | None = None):
    conn = await ctx.connections.get(target)
    try:
        return await conn.run(script, check=False, input=stdin)
    except (OSError, asyncssh.Error) as exc:
        raise HostUnreachable(f"{describe(target)}: connection lost during the preflight: {said(exc)}") from None
