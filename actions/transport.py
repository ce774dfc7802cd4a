"""The SSH transport every step kind that reaches a host uses: the connection pool (host keys
only from the configured known_hosts), the script runner (fan-out, streaming, timeouts) and real
remote cancellation.

A script first reports its own process id: sshd makes that shell a session and process group
leader, so a timeout or cancel can ``kill`` the whole remote process group over a second channel
instead of merely closing ours and leaving the command running on the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import asyncssh

from actions.base import HostOutcome, OutputSink, PreflightContext, Probe, StepContext, Target
from actions.sshconnect import ConnectionPool, check_files, connect, describe, said
from console.model.errors import ActionError, HostUnreachable, WarroomError
from console.model.sanitize import neutralise

__all__ = ["ConnectionPool", "check_files", "connect"]  # the pool lives in actions.sshconnect

PID_MARK = b"\x1ewarroom-pid "
KILL_GRACE = 3.0
STOP_REACH = (0.3, 5.0)
"""Bounds of the time a timed-out step waits for the host to open its stop channel: a cut link
never answers, and the step must still end by its own timeout (5% of it, within these bounds)."""


SUDO_PASSWORD_VAR = "__warroom_sudo_pw"


def wrap_script(
    commands: list[str] | tuple[str, ...], *, cwd: str = "", secret_vars=(), sudo: bool = False, sudo_password=False
) -> str:
    """The remote shell script: report pid, read secrets from stdin, cd, then ``set -e``.

    With ``sudo`` the commands (and the reading of the secrets) run in ``sudo sh -c``, after the
    ``cd`` (as the login user, like the cwd check). ``sudo_password``: stdin's first line is the
    password, read by the shell and written by its ``printf`` builtin into ``sudo -S`` (never an
    argument, so never in ``ps``), and only when sudo asks for one (``sudo -n true`` fails); the
    rest of stdin (the secrets) follows it to the commands."""
    lines = ["printf '\\036warroom-pid %s\\n' \"$$\""]
    reads = [f"IFS= read -r {var} && export {var}" for var in secret_vars]
    cd = [f"cd -- {cwd_word(cwd)} || exit 96"] if cwd else []
    if not sudo:
        return "\n".join([*lines, *reads, *cd, "set -e", *commands]) + "\n"
    inner = "\n".join([*reads, "set -e", *commands]) + "\n"
    run = f"sh -c {quote_word(inner)}"
    if not sudo_password:
        return "\n".join([*lines, *cd, f"sudo -n -- {run}"]) + "\n"
    feed = (
        f"{{ if ! sudo -n true 2>/dev/null; then printf '%s\\n' \"${SUDO_PASSWORD_VAR}\"; fi; "
        f"unset {SUDO_PASSWORD_VAR}; exec cat; }}"
    )
    return "\n".join([*lines, f"IFS= read -r {SUDO_PASSWORD_VAR}", *cd, f"{feed} | sudo -S -p '' -- {run}"]) + "\n"


def quote_word(text: str) -> str:
    """One single-quoted shell word, whatever ``text`` holds."""
    return "'" + text.replace("'", "'\\''") + "'"


def shell_path(path: str) -> str:
    """Double-quote a path for the remote shell: spaces are safe, ``$VARS`` and a leading ``~``
    still expand (``~/srv`` is a natural thing to write for a deploy user's home); a command
    substitution (``$(...)``, backticks) does not run."""
    body = path.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$(", "\\$(")
    return cwd_word(body)


def cwd_word(body: str) -> str:
    """A planned step's ``cwd`` as one shell word. The plan made it the body of a double-quoted
    word already (the runbook's text keeps ``$VARS`` expanding, variable values are escaped), so
    it is only wrapped here, a leading ``~`` becoming ``$HOME``; escaping again would double them."""
    if body == "~" or body.startswith("~/"):
        body = "$HOME" + body[1:]
    return f'"{body}"'


async def run_script(
    ctx: StepContext, target: Target, script: str, stdin: bytes = b"", sink: OutputSink | None = None
) -> HostOutcome:
    """Run a script made by :func:`wrap_script` on one host: streamed to ``sink`` (default: the
    host's spool), bounded by the step's timeout, stopped remotely on cancel. Never raises for
    host trouble: the outcome says what happened."""
    sink = sink or ctx.sink(target.name)
    started = time.monotonic()
    outcome = HostOutcome(target.name, "error")
    try:
        conn = await ctx.connections.get(target)
        outcome = await _execute(ctx, conn, target, script, stdin, sink)
    except ActionError as exc:
        outcome.error = str(exc)
    except (OSError, asyncssh.Error) as exc:
        outcome.error = f"{describe(target)}: connection lost during step {ctx.step.id}: {said(exc)}"
    finally:
        outcome.bytes, outcome.sha256 = sink.close()
        outcome.duration = time.monotonic() - started
    return outcome


async def _execute(ctx: StepContext, conn, target: Target, script: str, stdin: bytes, sink) -> HostOutcome:
    proc = await conn.create_process(script, stderr=asyncssh.STDOUT, encoding=None)
    if stdin:
        proc.stdin.write(stdin)
    proc.stdin.write_eof()
    pgid: list[int] = []
    pump = asyncio.create_task(_pump(proc, sink, pgid, lambda pid: ctx.remote_started(target.name, pid)))
    cancelled = asyncio.create_task(ctx.cancelled.wait())
    try:
        done, _ = await asyncio.wait({pump, cancelled}, timeout=ctx.step.timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        cancelled.cancel()
    if pump in done:
        try:
            pump.result()
        except OSError as exc:  # the output could not be kept (disk full): stop the command too
            error = await _stop_remote(conn, target, pgid, _stop_reach(ctx.step.timeout), _as_root(ctx, target))
            proc.close()
            return HostOutcome(
                target.name, "error", error=f"output could not be spooled ({said(exc)}); command stopped {error}"
            )
        return _finished(target, proc)
    status = "cancelled" if ctx.cancelled.is_set() else "timed_out"
    error = await _stop_remote(conn, target, pgid, _stop_reach(ctx.step.timeout), _as_root(ctx, target))
    proc.close()
    pump.cancel()
    with contextlib.suppress(asyncio.CancelledError, asyncssh.Error, OSError):
        await pump
    message = f"timed out after {ctx.step.timeout}s" if status == "timed_out" else "cancelled by the driver"
    if error:  # the stop could not be confirmed: the command may have finished, failed or still run
        return HostOutcome(target.name, status, error=f"{message}; outcome unknown: {error}")
    return HostOutcome(target.name, status, error=f"{message}; remote process group stopped")


async def _pump(proc, sink, pgid: list[int], started=None) -> None:
    head = b""
    while True:
        chunk = await proc.stdout.read(65536)
        if not chunk:
            break
        if not pgid:
            head += chunk
            if b"\n" not in head and len(head) < 64:
                continue
            line, _, rest = head.partition(b"\n")
            if line.startswith(PID_MARK):
                pgid.append(int(line[len(PID_MARK) :]))
                if started is not None:
                    started(pgid[0])  # journaled: after a crash, who is still running is knowable
                chunk = rest
            else:
                pgid.append(0)
                chunk = head
        if chunk:
            sink.write(chunk)
    if head and not pgid:
        sink.write(head)
    await proc.wait()


def _stop_reach(timeout: float) -> float:
    low, high = STOP_REACH
    return min(high, max(low, timeout * 0.05))


def _as_root(ctx: StepContext, target: Target) -> tuple[bool, str]:
    """Whether the step's commands run under sudo, and the sudo password to stop them with."""
    if not getattr(ctx.step, "sudo", False):
        return False, ""
    if not target.sudo_password:
        return True, ""
    try:
        return True, ctx.secret(f"hosts.{target.name}.sudo_password")
    except WarroomError:  # a secret that no longer resolves: try without it (NOPASSWD may still do)
        return True, ""


def _as_root_stop(script: str, as_root: tuple[bool, str]) -> tuple[str, bytes]:
    """The stop script as root when the step ran under sudo: the login user may not signal its
    root processes, and sudo relays a signal only to the shell it started, not that shell's
    children (the command a ``set -e`` script is waiting on)."""
    sudo, password = as_root
    if not sudo:
        return script, b""
    inner = quote_word(script)
    if not password:
        return f"exec sudo -n -- sh -c {inner}\n", b""
    return (
        f"IFS= read -r {SUDO_PASSWORD_VAR}\n"
        f"if sudo -n true 2>/dev/null; then exec sudo -n -- sh -c {inner}; fi\n"
        f"printf '%s\\n' \"${SUDO_PASSWORD_VAR}\" | sudo -S -p '' -- sh -c {inner}\n"
    ), f"{password}\n".encode()


SUDO_REFUSED = 1
"""The exit of a root stop whose sudo refused (the stop script itself exits 0 or 3)."""


async def _stop_remote(
    conn, target: Target, pgid: list[int], reach: float, as_root: tuple[bool, str] = (False, "")
) -> str:
    """TERM the remote process group, then KILL it if it is still there after a grace (as root
    for a sudo step). A host that cannot open the stop channel within ``reach`` seconds does not
    hold the step past its timeout: the stop goes on in the background (:func:`_stop_late`) and
    the outcome is unknown."""
    if not pgid or pgid[0] <= 1:
        return "remote process id unknown; could not confirm it stopped"
    # "kill -SIG -PGID" without "--": dash (Debian's /bin/sh, a common login shell) rejects "--".
    group = f"-{pgid[0]}"
    polls = int(KILL_GRACE / 0.2)
    script = (
        f"kill -TERM {group} 2>/dev/null || exit 0\n"
        f"i=0; while [ $i -lt {polls} ]; do kill -0 {group} 2>/dev/null || exit 0; "
        "sleep 0.2; i=$((i+1)); done\n"
        f"kill -KILL {group} 2>/dev/null\n"
        f"sleep 0.2; kill -0 {group} 2>/dev/null && exit 3; exit 0\n"
    )
    script, stdin = _as_root_stop(script, as_root)
    opening = asyncio.ensure_future(conn.create_process(script, input=stdin.decode() if stdin else None))
    done, _ = await asyncio.wait({opening}, timeout=reach)
    if not done:  # a slow link may still carry the stop: it goes on without holding the step
        _LATE_STOPS.add(task := asyncio.ensure_future(_stop_late(conn, opening)))
        task.add_done_callback(_LATE_STOPS.discard)
        return f"could not confirm the remote process stopped on {target.name}: no answer within {reach:.1f}s"
    try:
        stopper = opening.result()
    except (OSError, asyncssh.Error) as exc:
        return f"could not confirm the remote process stopped on {target.name}: {exc}"
    try:
        result = await asyncio.wait_for(stopper.wait(check=False), timeout=KILL_GRACE + 10)
    except (OSError, asyncssh.Error, TimeoutError) as exc:
        return f"could not confirm the remote process stopped on {target.name}: {said(exc)}"
    if as_root[0] and result.exit_status == SUDO_REFUSED:
        return f"sudo refused to stop remote process group {pgid[0]} on {target.name} as root; it may still run"
    if result.exit_status != 0:
        return f"remote process group {pgid[0]} on {target.name} is still alive after SIGKILL"
    return ""


_LATE_STOPS: set[asyncio.Future] = set()


async def _stop_late(conn, opening: asyncio.Future) -> None:
    """Finish a stop whose channel did not open in time; a link that never answers is closed, so
    the pool opens a new connection for the next step instead of reusing a dead one."""
    try:
        stopper = await asyncio.wait_for(opening, timeout=KILL_GRACE + 10)
        await asyncio.wait_for(stopper.wait(check=False), timeout=KILL_GRACE + 10)
    except (OSError, asyncssh.Error, TimeoutError):
        conn.close()


def _finished(target: Target, proc) -> HostOutcome:
    code = proc.exit_status
    if code == 0:
        return HostOutcome(target.name, "ok", exit_code=0)
    if code is None or code < 0:
        signal = proc.exit_signal[0] if proc.exit_signal else "unknown"
        return HostOutcome(target.name, "failed", exit_code=None, error=f"killed by signal {signal}")
    return HostOutcome(target.name, "failed", exit_code=code, error=f"exit code {code}")


async def alive_groups(conn, pgids: list[int]) -> list[int]:
    """Which of these remote process groups still have a live (non-zombie) process."""
    if not pgids:
        return []
    # a process of the group that is not a zombie (a killed shell whose parent has not reaped it yet)
    groups = " ".join(str(p) for p in pgids if p > 1)
    awk = 'BEGIN { split("' + groups + '", g) } { for (i in g) if ($1 == g[i] && $2 !~ /^Z/) print g[i] }'
    script = f"ps -e -o pgid=,stat= | awk '{awk}' | sort -u\n"
    result = await asyncio.wait_for(conn.run(script, check=False), timeout=15)
    return [int(x) for x in str(result.stdout or "").split() if x.isdigit()]


async def reach(pool: ConnectionPool, target: Target, *, command: bool = True) -> str:
    """The gate's first line for a host: connect through ``pool`` (host key verified, login) and
    run ``true``; the server's version, or a typed error saying which stage failed. A bastion only
    has to log in (``command=False``): many allow tunnels and no shell."""
    conn = await pool.get(target)
    if command:
        try:
            result = await conn.run("true", check=False)
        except (OSError, asyncssh.Error) as exc:
            raise HostUnreachable(f"{describe(target)}: logged in but cannot run a command: {said(exc)}") from None
        if result.exit_status != 0:
            raise ActionError(f"{describe(target)}: logged in but `true` exited {result.exit_status} (login shell?)")
    return neutralise(str(conn.get_extra_info("server_version", ""))) or "ok"


async def ask(ctx: PreflightContext, target: Target, script: str) -> str:
    """Run a read-only ``script`` on ``target`` over the gate's connection; its first output word
    (the scripts of the checks answer with one word)."""
    conn = await ctx.connections.get(target)
    try:
        result = await conn.run(script, check=False)
    except (OSError, asyncssh.Error) as exc:
        raise HostUnreachable(f"{describe(target)}: connection lost during the preflight: {said(exc)}") from None
    words = str(result.stdout or "").split()
    return words[0] if words else f"exit-{result.exit_status}"


def directory_script(path: str, *, readable: bool = False) -> str:
    """One word about a directory on a host: ``ok``, ``missing``, ``not-dir``, ``denied``."""
    quoted = shell_path(path)
    need = f"[ ! -x {quoted} ]" + (f" || [ ! -r {quoted} ]" if readable else "")
    return (
        f"if [ ! -e {quoted} ]; then echo missing; elif [ ! -d {quoted} ]; then echo not-dir; "
        f"elif {need}; then echo denied; else echo ok; fi"
    )


def directory_problem(answer: str, target: Target, path: str, what: str) -> str | None:
    """What to fix for a directory check's answer, or None when it is ``ok``."""
    where = f"host {target.name}"
    return {
        "ok": None,
        "missing": f"{where}: {what} {path} does not exist: create it or fix the path",
        "not-dir": f"{where}: {what} {path} is not a directory",
        "denied": f"{where}: user {target.user} may not read {what} {path}: fix its permissions",
    }.get(answer, f"{where}: cannot check {what} {path} (the shell answered {neutralise(answer)!r})")


def cwd_probes(ctx: PreflightContext) -> list[Probe]:
    """The step's working directory exists on each host (ssh, git, storage: a cheap ``test -d``)."""
    cwd = ctx.step.cwd
    if not cwd:
        return []

    def probe(target: Target) -> Probe:
        async def run() -> str:
            problem = directory_problem(await ask(ctx, target, directory_script(cwd)), target, cwd, "the cwd")
            if problem:
                raise ActionError(problem)
            return "exists"

        return Probe(target.name, f"cwd {cwd}", run)

    return [probe(t) for t in ctx.targets]
