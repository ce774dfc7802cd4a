"""``warroom drill``: rehearse the built-in rollback end to end against a throw-away sandbox.

The drill builds the sandbox, starts its SSH and HTTP servers and writes an ordinary config for it
(:func:`start_environment`); from there it is a client like any other: the incident host
(:class:`console.host.incident_host.IncidentHost`) opens the incident on that config, and the
ordinary headless rollback (:func:`console.host.headless.run_headless`) or the console drives it,
with the same engine, journal and ssh action as a real incident. Where a real run stops and lists the manual
checks for people to tick, the drill's :class:`DrillAutopilot` ticks each one ``pass`` when the
run reaches it (so every phase's times are real) and finally closes the incident as resolved.
The game-day score (:mod:`console.model.score`) closes the output.
"""

from __future__ import annotations

import asyncio
import getpass
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from actions.registry import KINDS
from console.drill.ansible_rehearsal import ansible_note, rehearsal_runbook
from console.drill.dockerapi import DockerAPI
from console.drill.drillconfig import drill_password, write_drill_config
from console.drill.failures import rehearsable, rehearse
from console.drill.httpserver import HealthServer
from console.drill.options import DrillOptions
from console.drill.sandbox import Sandbox, build_sandbox
from console.drill.sshserver import DrillHost
from console.engine import Actor, Engine
from console.host.headless import HeadlessOptions, Printer, run_headless
from console.model import defaults
from console.model.config import LoadedConfig, load_config
from console.model.errors import InputError, WarroomError
from console.model.incident_dir import incidents_dir
from console.model.journal import verify
from console.model.plan import Plan, PlannedStep, build_plan
from console.model.runbook import LoadedRunbook, load_runbook
from console.model.score import render_score, span
from console.model.state import fold
from console.model.webconfig import parse_listen

TICK_NOTE = "ticked by the drill"
HOST_TOOLS = ("git", "tar")  # real tools the rollback runs in the sandbox (git checkout, tar -xzf)


class DrillAutopilot:
    """Plays the people at the manual steps: every check ``pass``, then the incident closed."""

    def manual_step(self, engine: Engine, actor: Actor, step: PlannedStep, printer: Printer) -> None:
        if engine.state.steps[step.id].status == "skipped":
            return
        ticked = 0
        for check_id, _ in step.checks:
            if (step.id, check_id) not in engine.state.ticks:
                engine.tick(actor, step.id, check_id, "pass", TICK_NOTE)
                ticked += 1
        phase = engine.plan.phase_of(step.id)
        printer.line(f"☑ {phase.title} / {step.id}: {step.title}: {ticked} checks ticked pass ({TICK_NOTE})")

    def finished(self, engine: Engine, actor: Actor, printer: Printer) -> None:
        for step_id, check_id, _ in engine.state.open_checks():
            engine.tick(actor, step_id, check_id, "pass", TICK_NOTE)
        engine.close(actor, "resolved", "drill: every automated step succeeded and every check was ticked")
        printer.line(f"incident {engine.state.id} closed: resolved")


def drill_steps(runbook: LoadedRunbook, variants: dict[str, str] | None = None) -> list[tuple[str, bool]]:
    """``(step id, automated)`` of the steps the drill's plan will have, before any sandbox exists."""
    return [(step.id, KINDS[step.kind].automated) for step in _chosen_steps(runbook, variants)]


def failable_steps(runbook: LoadedRunbook, variants: dict[str, str] | None = None) -> list[str]:
    """The steps ``--fail`` can rehearse: every automated step the drill knows how to break."""
    return [
        step.id
        for step in _chosen_steps(runbook, variants)
        if KINDS[step.kind].automated and rehearsable(step.kind, dict(step.params))
    ]


def _chosen_steps(runbook: LoadedRunbook, variants: dict[str, str] | None) -> list:
    rb = runbook.model
    chosen = {name: v.default for name, v in rb.variants.items()} | (variants or {})
    return [
        step for phase in rb.phases for step in phase.steps if all(chosen.get(k) == v for k, v in step.variant.items())
    ]


def check_options(options: DrillOptions, runbook: LoadedRunbook) -> None:
    """Refuse a bad ``--fail`` or ``--severity`` in one line, before building anything."""
    if options.severity not in runbook.model.severity:
        known = ", ".join(sorted(runbook.model.severity))
        raise InputError(f"--severity {options.severity}: runbook {runbook.id} defines {known}")
    chosen = {name: v.default for name, v in runbook.model.variants.items()} | (options.variants or {})
    if chosen.get("db_restore") == "mysql":
        raise InputError(
            "the drill rehearses db_restore = artisan: the mysql variant restores into a real MySQL/MariaDB "
            "server, which the sandbox does not have"
        )
    if options.fail is None:
        return
    steps = dict(drill_steps(runbook, options.variants))
    failable = failable_steps(runbook, options.variants)
    if options.fail not in failable:
        other = next((s for ph in runbook.model.phases for s in ph.steps if s.id == options.fail), None)
        if other is not None and options.fail not in steps:
            variant = ", ".join(f"{k} = {v}" for k, v in other.variant.items())
            kind = f"is a step of the {variant} variant, which this drill does not rehearse"
        elif options.fail not in steps:
            kind = "is not a step of the drill's plan"
        elif not steps[options.fail]:
            kind = "is a manual checklist (people tick it; nothing runs that could fail)"
        else:
            kind = "is a step the drill cannot make fail"
        raise InputError(f"--fail {options.fail}: {kind}; rehearse a failure of one of: {', '.join(failable)}")


def run_drill(options: DrillOptions, out: TextIO = sys.stdout) -> int:
    """The headless drill (the console's is :class:`ConsoleDrill`, prepared behind its first frame)."""
    drill = ConsoleDrill(options)
    try:
        box, runbook = drill.prepare(out)
        return asyncio.run(_drill(box, runbook, options, out))
    finally:
        drill.finish(out)


class ConsoleDrill:
    """The drill's sandbox from the options: :meth:`prepare` (in a thread, behind the console's
    first frame), :meth:`start` (its servers, on the console's loop), :meth:`finish` (after)."""

    def __init__(self, options: DrillOptions) -> None:
        self.options = options
        self._root: tuple[Path, bool] | None = None
        self._started = time.monotonic()
        self._box: tuple[Sandbox, LoadedRunbook] | None = None

    def prepare(self, out: TextIO | None = None) -> tuple[Sandbox, LoadedRunbook]:
        """Check the options, then build the sandbox (removed by :meth:`finish`)."""
        options = self.options
        runbook = load_runbook(rehearsal_runbook() if options.ansible else defaults.RUNBOOK, KINDS)
        check_options(options, runbook)
        if options.serve_port and options.headless:
            raise InputError("--serve is for the console: trainees watch a driver at the keyboard (drop --headless)")
        if options.http is not None:
            check_http(options)
        missing = [tool for tool in HOST_TOOLS if shutil.which(tool) is None]
        if missing:
            need = " and ".join(missing)
            raise InputError(f"the drill sandbox needs {need} on PATH (apt-get install {' '.join(missing)})")
        root, created = _sandbox_root(options.directory)
        self._root = root, created
        self._started = time.monotonic()
        try:
            box = build_sandbox(root, db_password=drill_password())
        except (OSError, RuntimeError) as exc:
            raise WarroomError(f"cannot build the drill sandbox in {root}: {exc}", title="Drill failed") from None
        if out is not None:
            out.write(f"drill sandbox {root} built in {span(time.monotonic() - self._started)}\n")
        self._box = box, runbook
        return box, runbook

    async def start(self) -> DrillEnvironment:
        assert self._box is not None
        box, runbook = self._box
        return await start_environment(box, runbook, self.options)

    @property
    def actor(self) -> Actor:
        return drill_actor(self.options)

    def finish(self, out: TextIO) -> None:
        """Keep or remove the sandbox, saying which (nothing when none was made)."""
        if self._root is None:
            return
        if not self.options.ansible:
            out.write(f"{ansible_note()}\n")
        root, created = self._root
        if self.options.keep:
            out.write(f"sandbox kept: {root} (config: {root / 'config.toml'})\n")
        else:
            _remove(root, created)
            out.write(f"sandbox removed ({span(time.monotonic() - self._started)} in all; --keep keeps it)\n")


@dataclass
class DrillEnvironment:
    """The sandbox's servers, its config and the bound plan, for the headless run or the console
    (a :class:`console.host.ready.ReadyEnvironment`)."""

    host: DrillHost
    web: HealthServer
    config: LoadedConfig
    plan: Plan
    docker: DockerAPI
    rehearsal: str = ""
    """How ``--fail`` broke its step, or ''."""

    @property
    def state_root(self) -> Path:
        return self.config.model.state_dir()

    async def close(self) -> None:
        await self.host.close()
        self.web.close()
        self.docker.close()


async def start_environment(box: Sandbox, runbook: LoadedRunbook, options: DrillOptions) -> DrillEnvironment:
    """Start the embedded SSH and HTTP servers (on the running loop) and bind the runbook."""
    host = DrillHost(box)
    await host.start()
    web = HealthServer(box).start()
    host.forwardable.add(web.port)
    engine_api = DockerAPI(box).start()
    host.docker_socket = engine_api.path
    try:
        path = write_drill_config(
            box,
            runbook,
            ssh_port=host.port,
            health_url=web.health_url,
            state_dir=options.state_dir,
            variants=options.variants,
            server=trainees_server(box, options) if options.serve_port else None,
        )
        config = load_config(path)
        plan = build_plan(runbook, config)
        rehearsal = rehearse(plan.steps[options.fail], box, host) if options.fail else ""
    except BaseException:
        await host.close()
        web.close()
        engine_api.close()
        raise
    return DrillEnvironment(host, web, config, plan, engine_api, rehearsal)


def trainees_server(box: Sandbox, options: DrillOptions) -> dict:
    """A ``[server]`` section: every key of the authorized_keys file joins as an observer."""
    keys_file = (options.authorized_keys or Path("~/.ssh/authorized_keys")).expanduser()
    try:
        lines = [line.strip() for line in keys_file.read_text().splitlines()]
    except OSError as exc:
        raise InputError(f"--serve: cannot read trainees' keys from {keys_file}: {exc.strerror}") from None
    users, seen = [], set()
    for number, line in enumerate((x for x in lines if x and not x.startswith("#")), start=1):
        comment = line.split()[2] if len(line.split()) > 2 else ""
        name = re.sub(r"[^A-Za-z0-9_.-]", "-", comment.split("@")[0]).strip("-.") or f"trainee-{number}"
        while name in seen:
            name = f"{name}-{number}"
        seen.add(name)
        users.append({"name": name, "role": "observer", "public_keys": [line]})
    if not users:
        raise InputError(f"--serve: no public keys in {keys_file}; trainees need one each")
    return {
        "listen": options.listen,
        "port": options.serve_port,
        "host_key": str(box.root / "warroom_host_key"),
        "users": users,
        "seat_grace": 60.0,
    }


def check_http(options: DrillOptions) -> None:
    """``--http``: for the console drill, and a well-formed ``[ADDR:]PORT`` (one line if not)."""
    if options.headless:
        raise InputError("--http is for the console: stakeholders watch a driver at the keyboard (drop --headless)")
    try:
        parse_listen(options.http_listen or "")
    except ValueError as exc:
        raise InputError(f"--http: {exc}") from None


def drill_actor(options: DrillOptions) -> Actor:
    return Actor(options.actor or _login(), "driver")


async def _drill(box: Sandbox, runbook: LoadedRunbook, options: DrillOptions, out: TextIO) -> int:
    env = await start_environment(box, runbook, options)
    state_root = env.state_root
    before = _incidents(state_root)
    try:
        out.write(f"app1 = ssh://deploy@127.0.0.1:{env.host.port} (host key pinned), health = {env.web.health_url}\n")
        if options.fail:
            out.write(f"rehearsing a failure of {options.fail}: {env.rehearsal}\n")
        headless = HeadlessOptions(  # the drill confirms its own destructive steps: it is a rehearsal
            severity=options.severity, trigger=options.trigger, verbose=options.verbose, yes=True
        )
        code = await run_headless(
            env.plan, env.config, state_root, drill_actor(options), headless, out=out, autopilot=DrillAutopilot()
        )
    finally:
        await env.close()
    report_scores(state_root, before, box, options, out)
    return code


def report_scores(state_root: Path, before: set[Path], box: Sandbox, options: DrillOptions, out: TextIO) -> None:
    for directory in sorted(_incidents(state_root) - before):
        state = fold(verify(directory / "journal.jsonl"))
        out.write("\n".join(render_score(state)) + "\n")
        if options.keep or not directory.is_relative_to(box.root):
            out.write(f"journal: {directory / 'journal.jsonl'} (verified)\n")


def _incidents(state_root: Path) -> set[Path]:
    directory = incidents_dir(state_root)
    return {p for p in directory.iterdir() if p.is_dir()} if directory.is_dir() else set()


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "drill"


def _sandbox_root(directory: Path | None) -> tuple[Path, bool]:
    """The sandbox root and whether the drill created it (and so may remove it whole)."""
    if directory is None:
        return Path(tempfile.mkdtemp(prefix="warroom-drill-")), True
    root = directory.expanduser().resolve()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise InputError(f"--dir {directory}: exists and is not an empty directory; the drill needs a fresh one")
    created = not root.exists()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--dir {directory}: cannot create: {exc.strerror}") from None
    return root, created


def _remove(root: Path, created: bool) -> None:
    if created:
        shutil.rmtree(root, ignore_errors=True)
        return
    for child in root.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


__all__ = [
    "ConsoleDrill",
    "DrillAutopilot",
    "DrillEnvironment",
    "DrillOptions",
    "check_options",
    "drill_actor",
    "drill_steps",
    "failable_steps",
    "run_drill",
    "start_environment",
]
