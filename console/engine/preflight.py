"""The preflight gate: before an incident's first step (and in ``warroom check``), everything the
plan needs, checked read-only, in one table.

Every secret the plan needs resolves (named by key and reference, never shown); every target host
answers with a verified host key and a working login; and every automated step's kind checks what
it needs on its hosts (:meth:`actions.base.Action.preflight`: a cwd, a backup directory, a database
login, the Docker engine, a health endpoint). Hosts are checked concurrently, each check bounded in
time, so a dead host costs one timeout, not the gate. Nothing is opened and no host is changed:
the checks only connect, log in and look.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any, TextIO

import asyncssh

from actions.base import LOCAL_HOST, Action, Probe, Target
from actions.registry import KINDS
from actions.transport import ConnectionPool, reach
from console.engine.preflight_table import GateResult, Line, render
from console.model.config import LoadedConfig
from console.model.errors import CheckWarning, PreflightFailed, SecretError, WarroomError
from console.model.plan import Plan, PlannedStep, needed_secrets
from console.model.secrets import Redactor, lookup, resolve_ref
from console.model.starter import CHANGE_ME

__all__ = ["CHECK_TIMEOUT", "GateResult", "Line", "needed_secrets", "preflight_gate", "render", "run_gate"]

log = logging.getLogger("warroom.preflight")
CHECK_TIMEOUT = 20.0
"""Seconds each check may take (a host's login: its ``connect_timeout`` plus a little)."""
SSH_CHECK = "ssh: reachable, host key verified, login"
BASTION_CHECK = "ssh bastion: reachable, host key verified, login"


def _secrets_by_reference(plan: Plan) -> dict[tuple[str, str], tuple[str, ...]]:
    """``(key, reference)`` of every secret the plan's steps need (each host's own too, from
    :func:`console.model.plan.needed_secrets`) -> the steps that need it. (Notification channels
    are the notify kind's own preflight: a notification never blocks a rollback.)"""
    found: dict[tuple[str, str], list[str]] = {}
    for step_id, key, ref in [*needed_secrets(plan), *_host_secrets(plan)]:
        steps = found.setdefault((key, ref), [])
        if step_id and step_id not in steps:
            steps.append(step_id)
    return {pair: tuple(steps) for pair, steps in found.items()}


def _host_secrets(plan: Plan) -> list[tuple[str, str, str]]:
    """``(step id or "", key, reference)`` of the hosts' own secrets the plan needs: an identity
    file's passphrase (any host, bastions too), a sudo password (the hosts of a sudo step)."""
    found = [("", f"hosts.{t.name}.passphrase", t.passphrase) for t in plan.targets.values() if t.passphrase]
    for step in plan.ordered_steps():
        if step.sudo:
            hosts = [plan.targets[h] for h in step.hosts if h in plan.targets]
            found += [(step.id, f"hosts.{t.name}.sudo_password", t.sudo_password) for t in hosts if t.sudo_password]
    return found


class GateContext:
    """What a step kind sees of the gate (:class:`actions.base.PreflightContext`): its step, its
    hosts, the gate's connections, the config and its secrets. No journal, no spool."""

    def __init__(self, step: PlannedStep, targets: list[Target], pool: ConnectionPool, config: LoadedConfig) -> None:
        self.step = step
        self.targets = targets
        self.cancelled = asyncio.Event()
        self._pool = pool
        self._config = config

    @property
    def connections(self) -> ConnectionPool:
        return self._pool

    @property
    def config(self) -> Any:
        return self._config.model

    def secret(self, key: str) -> str:
        """Like the step's own context: a variable through the step's references, else a config key."""
        ref = self.step.secrets.get(key)
        if ref is not None:
            return resolve_ref(ref, where=f"step {self.step.id}: {key}", redactor=Redactor())
        return _resolve(self._config, key)


def _resolve(config: LoadedConfig, key: str) -> str:
    where = f"{config.source.name}: {key}"
    try:
        ref = lookup(config.model, key)
    except KeyError:
        raise SecretError(f"{where}: missing: set it to env:NAME or file:PATH") from None
    return resolve_ref(str(ref), where=where, redactor=Redactor())


def _secret_lines(plan: Plan, config: LoadedConfig) -> tuple[list[Line], set[str]]:
    """A line per needed secret, and the keys of those that do not resolve."""
    lines, unresolved = [], set()
    for (key, ref), steps in _secrets_by_reference(plan).items():
        check = f"secret {key} ({ref})"
        try:
            resolve_ref(ref, where=f"{config.source.name}: {key}", redactor=Redactor())
        except WarroomError as exc:
            lines.append(Line(LOCAL_HOST, check, "fail", str(exc), steps))
            unresolved.add(key)
        else:
            lines.append(Line(LOCAL_HOST, check, "ok", "resolves", steps))
    return lines, unresolved


def _probes(plan: Plan, config: LoadedConfig, pool: ConnectionPool, kinds: Mapping[str, type[Action]]):
    """Every automated step's checks, one per (host, check) with the steps that asked for it, and
    a failing line for a step whose checks cannot even be listed."""
    probes: dict[tuple[str, str], Probe] = {}
    steps: dict[tuple[str, str], list[str]] = {}
    broken: list[Line] = []
    for step in plan.ordered_steps():
        if not step.automated or step.kind not in kinds:
            continue
        try:
            found = [
                probe
                for rendering in step.renderings()  # each host checked with its own values
                for probe in kinds[step.kind]().preflight(_gate_context(plan, rendering, pool, config))
            ]
        except WarroomError as exc:
            broken.append(Line(LOCAL_HOST, f"step {step.id} ({step.kind})", "fail", str(exc), (step.id,)))
            continue
        except Exception as exc:  # a kind's bug must not take the gate (or a traceback) with it
            log.debug("the preflight of step %s (%s) could not be listed", step.id, step.kind, exc_info=True)
            problem = f"its checks could not be listed: {type(exc).__name__}: {exc}"
            broken.append(Line(LOCAL_HOST, f"step {step.id} ({step.kind})", "fail", problem, (step.id,)))
            continue
        for probe in found:
            key = (probe.host, probe.check)
            probes.setdefault(key, probe)
            steps.setdefault(key, []).append(step.id)
    return probes, {k: tuple(v) for k, v in steps.items()}, broken


def _unset_starter_values(config: LoadedConfig) -> list[Line]:
    """A line per config value still holding ``warroom init``'s CHANGE-ME: a value nobody set
    would otherwise run (``cd /CHANGE-ME``) or connect somewhere made up."""
    data = config.model.model_dump()
    tables = [("vars", data.get("vars") or {})]
    tables += [(f"group_vars.{g}", t) for g, t in (data.get("group_vars") or {}).items()]
    tables += [(f"hosts.{h}.vars", t.get("vars") or {}) for h, t in data["hosts"].items()]
    unset = [key for prefix, table in tables for key in _starter_keys(table, prefix)]
    if not unset:
        return []
    problem = f"still the starter's {CHANGE_ME}: set it in {config.source.name}"
    return [Line(LOCAL_HOST, f"value {key}", "fail", problem) for key in unset]


def _starter_keys(node: Any, prefix: str) -> list[str]:
    if isinstance(node, dict):
        return [key for name, value in node.items() for key in _starter_keys(value, f"{prefix}.{name}")]
    if isinstance(node, list):
        return [prefix] if any(CHANGE_ME in str(v) for v in node) else []
    return [prefix] if isinstance(node, str) and CHANGE_ME in node else []


def _gate_context(plan: Plan, step: PlannedStep, pool: ConnectionPool, config: LoadedConfig) -> GateContext:
    return GateContext(step, [plan.targets[h] for h in step.hosts if h in plan.targets], pool, config)


async def run_gate(
    plan: Plan,
    config: LoadedConfig,
    kinds: Mapping[str, type[Action]] = KINDS,
    *,
    timeout: float = CHECK_TIMEOUT,
) -> GateResult:
    """Every line of the gate, checked now (read-only); ``timeout`` bounds each check."""
    started = time.monotonic()
    secrets, unresolved = _secret_lines(plan, config)
    pool = ConnectionPool()
    try:
        probes, steps, broken = _probes(plan, config, pool, kinds)

        def of(host: str) -> list[tuple[Probe, tuple[str, ...]]]:
            return [(p, steps[k]) for k, p in probes.items() if k[0] == host]

        local = _run_probes(of(LOCAL_HOST), unresolved, timeout)
        stepped = {host for step in plan.ordered_steps() for host in step.hosts}
        behind = _behind(plan)
        remote = [
            _host(pool, target, of(name), unresolved, timeout, bastion_for=behind.get(name, []), runs=name in stepped)
            for name, target in plan.targets.items()
        ]
        groups = await asyncio.gather(local, *remote)
    finally:
        await pool.close()
    lines = [*_unset_starter_values(config), *secrets, *broken, *(line for group in groups for line in group)]
    return GateResult(tuple(lines), tuple(plan.targets), time.monotonic() - started)


def _behind(plan: Plan) -> dict[str, list[str]]:
    """bastion -> the hosts it carries a tunnel to (directly)."""
    found: dict[str, list[str]] = {}
    for target in plan.targets.values():
        if target.jump is not None:
            found.setdefault(target.jump.name, []).append(target.name)
    return found


async def _host(
    pool: ConnectionPool,
    target: Target,
    probes: list,
    unresolved: set[str],
    timeout: float,
    *,
    bastion_for: list[str] | tuple[str, ...] = (),
    runs: bool = True,
) -> list[Line]:
    """The host's login first; its checks only once it answers (else each says why not tried). A
    host that only serves as a bastion is logged in to and never asked to run anything."""
    hops = len(target.chain()) + 1
    limit = max(timeout, target.connect_timeout * hops + 5)
    check = SSH_CHECK if runs else BASTION_CHECK
    try:
        found = await asyncio.wait_for(reach(pool, target, command=runs), timeout=limit)
    except TimeoutError:
        problem = f"host {target.name} ({target.route()}): no answer within {limit:g}s"
    except WarroomError as exc:  # unreachable, host key unknown or CHANGED, login refused: each says which
        problem = str(exc)
    else:
        found += f" ({_where(target, bastion_for)})"
        return [Line(target.name, check, "ok", found), *await _run_probes(probes, unresolved, timeout)]
    skipped = [Line(target.name, p.check, "skip", "not tried: the host cannot be reached", s) for p, s in probes]
    return [Line(target.name, check, "fail", problem), *skipped]


def _where(target: Target, bastion_for: list[str] | tuple[str, ...]) -> str:
    """The resolved login and route, as an alias resolved to, and the hosts a bastion serves."""
    text = target.route() + (f", ssh_config alias {target.alias}" if target.alias else "")
    if bastion_for:
        text += f"; bastion for {', '.join(bastion_for)}"
    return text


async def _run_probes(probes: list, unresolved: set[str], timeout: float) -> list[Line]:
    return list(await asyncio.gather(*(_run(p, s, unresolved, timeout) for p, s in probes)))


async def _run(probe: Probe, steps: tuple[str, ...], unresolved: set[str], timeout: float) -> Line:
    missing = [key for key in probe.needs if key in unresolved]
    if missing:
        return Line(probe.host, probe.check, "skip", f"not tried: secret {', '.join(missing)} does not resolve", steps)
    try:
        found = await asyncio.wait_for(probe.run(), timeout=timeout)
    except CheckWarning as exc:
        return Line(probe.host, probe.check, "warn", str(exc), steps)
    except WarroomError as exc:
        return Line(probe.host, probe.check, "fail", str(exc), steps)
    except TimeoutError:
        return Line(probe.host, probe.check, "fail", f"no answer within {timeout:g}s", steps)
    except (OSError, asyncssh.Error) as exc:
        return Line(probe.host, probe.check, "fail", f"connection problem: {exc}", steps)
    except Exception as exc:  # a check must never take the gate (or a traceback) with it
        log.debug("preflight check %r on %s failed unexpectedly", probe.check, probe.host, exc_info=True)
        return Line(probe.host, probe.check, "fail", f"check failed unexpectedly: {type(exc).__name__}: {exc}", steps)
    return Line(probe.host, probe.check, "ok", found, steps)


async def preflight_gate(
    plan: Plan,
    config: LoadedConfig,
    *,
    force: bool = False,
    out: TextIO | None = None,
    kinds: Mapping[str, type[Action]] = KINDS,
    timeout: float = CHECK_TIMEOUT,
) -> GateResult:
    """Run the gate before an incident opens: the table goes to ``out``; a failing line refuses the
    run (:class:`PreflightFailed`, nothing opened, no host touched) unless ``force``, and the result
    is for the incident's journal either way. Without ``out`` the refusal carries the table."""
    result = await run_gate(plan, config, kinds, timeout=timeout)
    if out is not None:
        out.write(render(result))
        out.flush()
    if result.passed:
        return result
    if force:
        if out is not None:
            out.write(f"--force: starting anyway; the {len(result.failed)} failed checks are journaled\n")
        return result
    refusal = "nothing was opened and no host was touched; fix them, or start anyway with --force (journaled)"
    if out is None:
        raise PreflightFailed(f"{render(result).rstrip()}\n{refusal}")
    raise PreflightFailed(f"{len(result.failed)} of {len(result.lines)} checks failed (table above): {refusal}")
