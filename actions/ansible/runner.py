"""Driving ansible-runner from the event loop: the run in its thread, its events streamed back as
they happen, cancel and timeout stopping ansible-playbook's whole process group (and the SSH
children and masters that left it)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from actions.ansible.workspace import Workspace, kill_marked
from console.model.errors import ActionError

DONE = object()
STOP_WAIT = 15.0
"""Seconds a stopped run's thread is waited for once its processes are killed."""


@dataclass
class Job:
    workspace: Workspace
    playbook: str = ""
    module: str = ""
    module_args: str = ""
    inventory: str = ""
    limit: str = ""
    forks: int = 50
    verbosity: int = 0
    cmdline: list[str] = field(default_factory=list)


@dataclass
class Finished:
    status: str
    """ansible-runner's: successful, failed, canceled, timeout; or ours: stopped."""
    rc: int | None
    stopped_by: str = ""
    """'cancel' or 'timeout' when warroom stopped it."""
    killed: list[int] = field(default_factory=list)


def _kwargs(job: Job, handler: Callable[[dict[str, Any]], bool], cancel: Callable[[], bool]) -> dict[str, Any]:
    import shlex

    kwargs: dict[str, Any] = {
        "private_data_dir": str(job.workspace.runner),
        "inventory": job.inventory,
        "envvars": job.workspace.env(),
        "forks": job.forks,
        "verbosity": job.verbosity or None,
        "cmdline": shlex.join(job.cmdline) if job.cmdline else None,
        "event_handler": handler,
        "cancel_callback": cancel,
        "quiet": True,
        "suppress_env_files": True,
        "settings": {"suppress_ansible_output": True, "pexpect_timeout": 0.2},
    }
    if job.limit:
        kwargs["limit"] = job.limit
    if job.module:
        kwargs.update(module=job.module, module_args=job.module_args or None, host_pattern="all")
    else:
        kwargs["playbook"] = job.playbook
    return kwargs


async def run_job(
    job: Job, on_event: Callable[[dict[str, Any]], None], cancelled: asyncio.Event, timeout: float
) -> Finished:
    """Run the job; ``on_event`` gets each runner event on the loop, in order."""
    import ansible_runner

    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    stop = threading.Event()

    def handler(event: dict[str, Any]) -> bool:
        loop.call_soon_threadsafe(queue.put_nowait, event)
        return False  # nothing kept on disk: an event's result can quote an extra var

    try:
        thread, runner = ansible_runner.run_async(**_kwargs(job, handler, stop.is_set))
    except Exception as exc:  # noqa: BLE001 (ansible-runner's ConfigurationError and friends: one line)
        raise ActionError(f"ansible-runner could not start: {type(exc).__name__}: {exc}") from None
    joined = loop.run_in_executor(None, thread.join)
    joined.add_done_callback(_retrieved)
    joined.add_done_callback(lambda _: queue.put_nowait(DONE))
    marker = f"ANSIBLE_CONFIG={job.workspace.root / 'ansible.cfg'}"
    deadline = loop.time() + timeout
    cancel_wait = asyncio.ensure_future(cancelled.wait())
    stopped_by, killed = "", []
    try:
        while True:
            getter = asyncio.ensure_future(queue.get())
            waiting = {getter} if stopped_by else {getter, cancel_wait}
            left = None if stopped_by else max(0.0, deadline - loop.time())
            done, _ = await asyncio.wait(waiting, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                item = getter.result()
                if item is DONE:
                    break
                on_event(item)
                continue
            getter.cancel()
            stopped_by = "cancel" if cancel_wait in done else "timeout"
            stop.set()  # ansible-runner kills the process group at its next poll; we do not wait for it
            killed = await asyncio.to_thread(kill_marked, marker)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(joined), STOP_WAIT)
    finally:
        cancel_wait.cancel()
        if not joined.done():
            stop.set()
            await asyncio.to_thread(kill_marked, marker)
    await asyncio.to_thread(job.workspace.close_masters)
    killed += await asyncio.to_thread(kill_marked, marker, 0.5)  # anything still holding our config
    return Finished(str(runner.status), runner.rc, stopped_by, sorted(set(killed)))


def _retrieved(future: asyncio.Future[Any]) -> None:
    """A join cut short by the loop closing (the step's task cancelled) is not an error to log."""
    if not future.cancelled():
        future.exception()
