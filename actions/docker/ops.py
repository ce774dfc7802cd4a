"""The engine-side operations of a docker step: status, stop, start and logs of a compose project.

Each returns one host's outcome; the caller bounds it by the step's timeout and cancellation.
Log streams are read in their own threads (a followed stream blocks for its whole duration, so
the shared pool would starve) and reach the output sink on the event loop, in batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from actions.base import HostOutcome
from actions.docker.engine import DockerEngine, Stopper, sdk_errors
from actions.docker.params import DockerParams, since_timestamp
from actions.docker.project import Container, add_probe_output, check_services, load_project, status_table, table

if TYPE_CHECKING:
    from actions.base import OutputSink, StepContext

POLL = 1.0
DRAIN_GRACE = 5.0
RUNNING = ("running", "restarting", "paused")


@dataclass
class HostJob:
    """What one host's operation works with."""

    ctx: StepContext
    params: DockerParams
    project: str
    engine: DockerEngine
    sink: OutputSink
    stopper: Stopper

    @property
    def host(self) -> str:
        return self.engine.target.name

    def say(self, text: str) -> None:
        self.sink.write(text.encode())

    def facts(self, **more: Any) -> dict[str, Any]:
        return {"endpoint": self.engine.endpoint, "project": self.project, **more}


async def status(job: HostJob) -> HostOutcome:
    params = job.params
    await job.engine.open()
    job.say(f"docker engine: {job.engine.endpoint}\n")
    waited_until = time.monotonic() + params.wait
    said: object = None
    while True:
        project = await load_project(job.engine, job.project)
        services = project.select(params.services)
        await add_probe_output(job.engine, project)
        checks = check_services(project, services, params)
        problems = [p for c in checks for p in c.problems]
        if not problems or time.monotonic() >= waited_until:
            break
        states = [(c.name, c.state, c.health) for check in checks for c in check.containers]
        if states != said:  # a line when something changes, not one per poll
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            job.say(f"waiting: {problems[0]}{more}\n")
            said = states
        await asyncio.sleep(POLL)
    count = sum(len(c.containers) for c in checks)
    tag = f"; expected image tag {params.image_tag}" if params.image_tag else ""
    job.say(f"compose project {job.project}: {len(checks)} service(s), {count} container(s){tag}\n\n")
    job.say(status_table(checks))
    facts = job.facts(services={c.service: c.fact() for c in checks})
    if problems:
        job.say(f"\nFAILED: {len(problems)} problem(s)\n")
        error = f"compose project {job.project} on {job.host}: " + "; ".join(problems)
        return HostOutcome(job.host, "failed", error=error, facts=facts)
    healthchecked = any(c.health for check in checks for c in check.containers)
    job.say("\nOK: every service running" + (", healthy" if healthchecked else ""))
    job.say(f", on tag {params.image_tag}\n" if params.image_tag else "\n")
    return HostOutcome(job.host, "ok", facts=facts)


async def stop(job: HostJob) -> HostOutcome:
    return await _change(job, "stop")


async def start(job: HostJob) -> HostOutcome:
    return await _change(job, "start")


async def _change(job: HostJob, verb: str) -> HostOutcome:
    """Stop or start every container of the chosen services, in order, and confirm each state."""
    await job.engine.open()
    api = job.engine.client.api
    project = await load_project(job.engine, job.project)
    services = project.select(job.params.services)
    job.say(f"docker engine: {job.engine.endpoint}\n{verb} compose project {job.project}: {', '.join(services)}\n")
    changed, unchanged, problems = [], [], []
    rows = [["SERVICE", "CONTAINER", "BEFORE", "AFTER", "SECONDS"]]
    for c in (c for s in services for c in project.of(s)):
        if (c.state in RUNNING) == (verb == "start") and c.state != "paused":
            unchanged.append(c.name)
            rows.append([c.service, c.name, c.state, f"already {c.state}", "-"])
            continue
        began = time.monotonic()
        if verb == "stop":
            await job.engine.call(f"stop {c.name}", api.stop, c.id, timeout=job.params.stop_timeout)
        elif c.state == "paused":
            await job.engine.call(f"unpause {c.name}", api.unpause, c.id)
        else:
            await job.engine.call(f"start {c.name}", api.start, c.id)
        after = await _state(job.engine, c)
        rows.append([c.service, c.name, c.state, after, f"{time.monotonic() - began:.1f}"])
        changed.append(c.name)
        if (after == "running") != (verb == "start"):
            problems.append(f"{c.name} is {after} after {verb}")
    job.say("\n" + table(rows))
    facts = job.facts(services=services, changed=changed, unchanged=unchanged)
    if problems:
        return HostOutcome(job.host, "failed", error=f"{job.host}: " + "; ".join(problems), facts=facts)
    return HostOutcome(job.host, "ok", facts=facts)


async def _state(engine: DockerEngine, c: Container) -> str:
    info = await engine.call(f"inspect {c.name}", engine.client.api.inspect_container, c.id)
    state = info.get("State") or {}
    status = str(state.get("Status", "unknown"))
    return f"{status} ({state.get('ExitCode')})" if status == "exited" else status


async def logs(job: HostJob) -> HostOutcome:
    """Each container's recent logs, then (``follow``) new lines for a bounded time, prefixed by name."""
    params = job.params
    await job.engine.open()
    project = await load_project(job.engine, job.project)
    containers = [c for s in project.select(params.services) for c in project.of(s)]
    since = since_timestamp(params.since) if params.since else None
    what = f"last {params.tail} lines" if params.tail != "all" else "all lines"
    what += f" since {params.since}" if params.since else ""
    what += f", then following for {params.follow:g}s" if params.follow else ""
    job.say(f"docker engine: {job.engine.endpoint}\nlogs of {len(containers)} container(s) of {job.project}: {what}\n")
    reader = _LogReader(job, containers, since)
    lines = await reader.run()
    return HostOutcome(
        job.host, "ok", facts=job.facts(containers=[c.name for c in containers], lines=lines, followed=params.follow)
    )


class _LogReader:
    def __init__(self, job: HostJob, containers: list[Container], since: float | None) -> None:
        self.job = job
        self.containers = containers
        self.since = since
        self.queue: asyncio.Queue[tuple[Container, Any]] = asyncio.Queue()
        self.loop = asyncio.get_running_loop()
        self.width = max(len(c.name) for c in containers)
        self.partial: dict[str, bytes] = {}
        self.lines = 0

    async def run(self) -> int:
        job, follow = self.job, self.job.params.follow
        for c in self.containers:
            threading.Thread(target=self._read, args=(c,), name=f"logs-{c.name}", daemon=True).start()
        started = last_progress = time.monotonic()
        ends = started + follow
        open_streams = len(self.containers)
        while open_streams:
            now = time.monotonic()
            following = follow and not job.stopper.flag.is_set()
            if following and now >= ends:
                job.stopper.stop()  # followed long enough
            elif following and now - last_progress >= POLL:
                job.ctx.progress(job.host, round(now - started), follow, "s", "following logs")
                last_progress = now
            try:
                first = await asyncio.wait_for(self.queue.get(), self._timeout(ends))
            except TimeoutError:
                if job.stopper.flag.is_set():
                    break  # a stream that does not end after being closed: give up on it
                continue
            batch = [first]
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            open_streams -= self._write(batch)
        for name, rest in self.partial.items():
            if rest:
                job.sink.write(self._prefix(name) + rest + b"\n")
        return self.lines

    def _timeout(self, ends: float) -> float | None:
        """A plain read waits for its streams to end (the step's timeout bounds it); a followed
        one wakes every second for progress until ``ends``; closed streams get a short grace."""
        if self.job.stopper.flag.is_set():
            return DRAIN_GRACE
        if self.job.params.follow:
            return max(0.0, min(POLL, ends - time.monotonic()))
        return None

    def _write(self, batch: list[tuple[Container, Any]]) -> int:
        out, ended = bytearray(), 0
        for c, item in batch:
            if item is None:
                ended += 1
            elif isinstance(item, BaseException):
                out += self._prefix(c.name) + f"(log stream failed: {item})\n".encode()
            else:
                data = self.partial.pop(c.name, b"") + item
                *whole, self.partial[c.name] = data.split(b"\n")
                for line in whole:
                    out += self._prefix(c.name) + line + b"\n"
                self.lines += len(whole)
        if out:
            self.job.sink.write(bytes(out))
        return ended

    def _prefix(self, name: str) -> bytes:
        return f"{name.ljust(self.width)} | ".encode()

    def _read(self, c: Container) -> None:
        """Thread: stream one container's log until it ends or the stopper closes it."""
        params, flag = self.job.params, self.job.stopper.flag
        try:
            stream = self.job.engine.client.api.logs(
                c.id,
                stream=True,
                follow=params.follow > 0,
                tail=params.tail,
                since=self.since,
                timestamps=params.timestamps,
            )
            self.job.stopper.on_stop(stream.close)
            for chunk in stream:
                if flag.is_set():
                    break
                self._post(c, chunk)
        except sdk_errors() as exc:
            if not flag.is_set():
                self._post(c, exc)
        finally:
            self._post(c, None)

    def _post(self, c: Container, item: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: the step is over
            self.loop.call_soon_threadsafe(self.queue.put_nowait, (c, item))


OPERATIONS = {"status": status, "stop": stop, "start": start, "logs": logs}
