"""Compose project status through the Docker SDK, side by side with ``docker ps --filter label=...``.

Starts N labelled busybox containers (one compose project, 2 replicas per service) on the local
dockerd and one real sshd on loopback standing for the host, then times, median of ``--runs``:

- baseline ``docker ps --filter label=com.docker.compose.project=X`` (the local CLI), and the same
  through OpenSSH (``ssh host docker ps ...``, a new connection each time, as an operator would);
- the status check alone (one filtered list + the per-service checks) on an open SDK client, over
  the socket directly and through the socket forwarded over SSH;
- the same with the engine opened each time (forward + client + version probe + close), as each
  docker step does on its pooled SSH connection;
- a whole ``docker`` status step through the warroom engine (journal records with fsync, output
  spool, facts), forwarded and with a direct ``base_url``.

    .venv/bin/python benchmarks/compose_status.py [--containers 20] [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from conftest import write_config, write_runbook  # noqa: E402
from docker_support import DOCKER_VARIABLES  # noqa: E402
from sshd import SSHLab  # noqa: E402

from actions.base import Target  # noqa: E402
from actions.docker.engine import DockerEngine  # noqa: E402
from actions.docker.params import DockerParams  # noqa: E402
from actions.docker.project import PROJECT_LABEL, SERVICE_LABEL, check_services, load_project  # noqa: E402
from actions.registry import KINDS  # noqa: E402
from actions.transport import ConnectionPool  # noqa: E402
from console.engine import Actor, Engine  # noqa: E402
from console.model.config import load_config  # noqa: E402
from console.model.plan import build_plan  # noqa: E402
from console.model.runbook import load_runbook  # noqa: E402

SOCKET = "unix:///var/run/docker.sock"
IMAGE = "local/busybox:1"
DRIVER = Actor("bench", "driver")


def start_project(client, project: str, containers: int) -> None:
    for i in range(containers):
        service, replica = f"svc{i // 2}", i % 2 + 1
        client.containers.run(
            IMAGE,
            ["sleep", "600"],
            detach=True,
            init=True,
            name=f"{project}-{service}-{replica}",
            labels={PROJECT_LABEL: project, SERVICE_LABEL: service},
        )


def remove_project(client, project: str) -> None:
    for c in client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={project}"}):
        c.remove(force=True)


def time_cli(argv: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


async def time_async(work: Callable[[], Awaitable[object]], runs: int) -> list[float]:
    await work()  # warm-up: imports, first connection
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await work()
        times.append(time.perf_counter() - started)
    return times


def context(pool: ConnectionPool) -> SimpleNamespace:
    """The slice of a step context that the engine handle uses."""
    return SimpleNamespace(step=SimpleNamespace(id="bench", timeout=60), connections=pool, cancelled=asyncio.Event())


async def sdk_measurements(target: Target, project: str, runs: int) -> dict[str, list[float]]:
    pool = ConnectionPool()
    ctx = context(pool)
    results = {}
    try:
        for label, base_url in (("direct", SOCKET), ("forwarded over SSH", "")):
            params = DockerParams(operation="status", project=project, base_url=base_url)

            async def check(engine: DockerEngine, params: DockerParams = params) -> None:
                found = await load_project(engine, project)
                checks = check_services(found, found.services, params)
                assert all(c.ok for c in checks), [c.problems for c in checks]

            engine = DockerEngine(ctx, target, params)
            await engine.open()
            try:
                results[f"SDK status, open client, {label}"] = await time_async(lambda e=engine: check(e), runs)
            finally:
                await engine.close()

            async def cold(params: DockerParams = params) -> None:
                engine = DockerEngine(ctx, target, params)
                try:
                    await engine.open()
                    await check(engine, params)
                finally:
                    await engine.close()

            results[f"SDK status, engine opened each time, {label}"] = await time_async(cold, runs)
    finally:
        await pool.close()
    return results


async def step_measurements(base: Path, lab: SSHLab, project: str, runs: int) -> dict[str, list[float]]:
    results = {}
    for label, base_url in (("forwarded over SSH", ""), ("direct base_url", SOCKET)):
        directory = base / f"engine-{len(results)}"
        directory.mkdir()
        docker = f'[vars.docker]\nbase_url = "{base_url}"\ncompose_project = "{project}"\n'
        config = write_config(directory / "config.toml", lab, ["app1"], extra=docker)
        steps = "".join(
            f'\n[[phases.steps]]\nid = "s{i}"\ntitle = "Status"\nkind = "docker"\ntargets = "app"\n'
            'params = { operation = "status", project = "{{ docker.compose_project }}", '
            'base_url = "{{ docker.base_url }}" }\n'
            for i in range(runs + 1)
        )
        write_runbook(directory / "rb.toml", steps, variables=DOCKER_VARIABLES)
        plan = build_plan(load_runbook(directory / "rb.toml", KINDS), load_config(config))
        engine = Engine.open(
            directory / "state", plan, DRIVER, severity="P0", trigger="bench", config=load_config(config)
        )
        engine.take_seat(DRIVER)
        try:
            await engine.run_step(DRIVER, "s0")  # warm-up, opens the pooled SSH connection
            times = []
            for i in range(1, runs + 1):
                started = time.perf_counter()
                status = await engine.run_step(DRIVER, f"s{i}")
                times.append(time.perf_counter() - started)
                if status != "succeeded":
                    raise SystemExit(f"status step failed: {engine.state.steps[f's{i}'].attempt.error}")
            results[f"warroom docker status step, {label}"] = times
        finally:
            await engine.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--containers", type=int, default=20)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    import docker

    client = docker.DockerClient(base_url=SOCKET)
    project = f"wrbench{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp, SSHLab(Path(tmp) / "lab") as lab:
        host = lab.start("app1")
        target = Target("app1", "127.0.0.1", host.port, lab.user, str(lab.client_key), str(lab.known_hosts))
        try:
            start_project(client, project, args.containers)
            filter_arg = f"label={PROJECT_LABEL}={project}"
            rows = {
                "docker ps --filter (local CLI)": time_cli(["docker", "ps", "-a", "--filter", filter_arg], args.runs),
                "ssh host docker ps --filter (OpenSSH)": time_cli(
                    lab.ssh_argv(host, f"docker ps -a --filter {filter_arg}"), args.runs
                ),
            }
            rows |= asyncio.run(sdk_measurements(target, project, args.runs))
            rows |= asyncio.run(step_measurements(Path(tmp), lab, project, args.runs))
        finally:
            remove_project(client, project)
            client.close()
    base = statistics.median(rows["docker ps --filter (local CLI)"])
    remote = statistics.median(rows["ssh host docker ps --filter (OpenSSH)"])
    print(f"{args.containers} containers in one compose project, median of {args.runs} runs")
    print(f"{'':56} {'median':>9} {'vs docker ps':>13} {'vs ssh docker ps':>17}")
    for label, times in rows.items():
        median = statistics.median(times)
        print(f"{label:56} {median * 1000:7.1f}ms {median / base:12.2f}x {median / remote:16.2f}x")


if __name__ == "__main__":
    main()
