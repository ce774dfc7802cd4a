"""Reaching a host's Docker engine: its socket forwarded over the step's SSH connection, or a
``base_url`` the step gives; every blocking SDK call runs in a thread.

The forwarded socket lives in a private temporary directory (mode 0700) for the length of one
step on one host, so no other local user can talk to the remote engine through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import asyncssh

from actions.docker.params import DockerParams
from console.model.errors import ActionError, WarroomError

if TYPE_CHECKING:
    from actions.base import StepContext, Target

T = TypeVar("T")


class Interrupted(Exception):
    """The step was cancelled or ran out of time while the engine was busy."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


def sdk_errors() -> tuple[type[BaseException], ...]:
    """The SDK's and its HTTP layer's exceptions, imported only once a docker step runs."""
    import docker.errors
    import requests.exceptions

    return (docker.errors.DockerException, requests.exceptions.RequestException)


async def bounded(
    ctx: StepContext, work: Coroutine[Any, Any, T], deadline: float, on_stop: Callable[[], None] | None = None
) -> T:
    """Await ``work`` until it ends, the driver cancels or ``deadline`` (monotonic) passes.

    A thread already inside an SDK call cannot be interrupted; ``on_stop`` lets the caller close
    what such a thread blocks on (a log stream), and nothing further is started.
    """
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(ctx.cancelled.wait())
    try:
        done, _ = await asyncio.wait(
            {task, waiter}, timeout=max(0.0, deadline - time.monotonic()), return_when=asyncio.FIRST_COMPLETED
        )
    except asyncio.CancelledError:
        task.cancel()  # the step itself is being torn down: take the work with it
        raise
    finally:
        waiter.cancel()
    if task in done:
        return task.result()
    if on_stop is not None:
        on_stop()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    raise Interrupted("cancelled" if ctx.cancelled.is_set() else "timed_out")


def resolve_base_url(params: DockerParams) -> str | None:
    """The engine URL the step names, or None: the host's own engine over SSH."""
    return params.base_url or None


class Stopper:
    """Closes what SDK threads block on (log streams) when the step is cancelled or times out."""

    def __init__(self) -> None:
        self.flag = threading.Event()
        self._closers: list[Callable[[], None]] = []

    def on_stop(self, closer: Callable[[], None]) -> None:
        self._closers.append(closer)
        if self.flag.is_set():
            self._close(closer)

    def stop(self) -> None:
        self.flag.set()
        for closer in list(self._closers):
            self._close(closer)

    @staticmethod
    def _close(closer: Callable[[], None]) -> None:
        with contextlib.suppress(Exception):
            closer()


class DockerEngine:
    """One step's handle on one host's engine; :meth:`close` is safe after a partial :meth:`open`."""

    def __init__(self, ctx: StepContext, target: Target, params: DockerParams) -> None:
        self.ctx = ctx
        self.target = target
        self.params = params
        self.endpoint = ""
        self.client: Any = None
        self._listener: Any = None
        self._tmp: str | None = None

    @property
    def where(self) -> str:
        return f"host {self.target.name} (step {self.ctx.step.id})"

    async def open(self) -> None:
        base_url = resolve_base_url(self.params)
        if base_url:
            url, self.endpoint = base_url, f"{base_url} (params.base_url)"
        else:
            conn = await self.ctx.connections.get(self.target)
            self._tmp = tempfile.mkdtemp(prefix="warroom-docker-")
            Path(self._tmp).chmod(0o700)
            path = str(Path(self._tmp) / "docker.sock")
            self._listener = await conn.forward_local_path(path, self.params.socket)
            url = f"unix://{path}"
            self.endpoint = f"unix://{self.params.socket} on {self.target.name} (forwarded over SSH)"
        try:
            self.client = await asyncio.to_thread(_client, url, float(self.ctx.step.timeout))
        except sdk_errors() as exc:
            raise ActionError(await self._unreachable(exc, base_url)) from None

    async def call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one blocking SDK call in a thread; its failures become one-line errors."""
        import docker.errors

        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except docker.errors.NotFound as exc:
            raise ActionError(f"{self.where}: {what}: gone from the engine ({_explain(exc)})") from None
        except docker.errors.APIError as exc:
            raise ActionError(f"{self.where}: {what}: the Docker engine refused: {_explain(exc)}") from None
        except sdk_errors() as exc:
            raise ActionError(f"{self.where}: {what}: lost the Docker engine at {self.endpoint}: {exc}") from None

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
            with contextlib.suppress(Exception):
                await listener.wait_closed()
        tmp, self._tmp = self._tmp, None
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    async def _unreachable(self, exc: BaseException, base_url: str | None) -> str:
        reason = _explain(exc)
        if base_url:
            return f"{self.where}: cannot reach the Docker engine at {base_url} (params.base_url): {reason}"
        diagnosis = await self._diagnose()
        return f"{self.where}: cannot reach the Docker engine at {self.params.socket} over SSH: {diagnosis or reason}"

    async def _diagnose(self) -> str:
        """Ask the host why its socket did not answer: missing, not a socket, or no permission."""
        path = shlex.quote(self.params.socket)
        script = (
            f"if [ ! -e {path} ]; then echo missing; elif [ ! -S {path} ]; then echo not-socket; "
            f"elif [ ! -r {path} ] || [ ! -w {path} ]; then echo denied; else echo present; fi"
        )
        try:
            conn = await self.ctx.connections.get(self.target)
            result = await asyncio.wait_for(conn.run(script, check=False), timeout=10)
        except (OSError, TimeoutError, WarroomError, asyncssh.Error):
            return ""
        answer = str(result.stdout or "").strip()
        sock, user = self.params.socket, self.target.user
        return {
            "missing": f"there is no {sock} on the host (is dockerd running there?)",
            "not-socket": f"{sock} on the host is not a socket",
            "denied": f"user {user} may not use {sock} (add {user} to the docker group)",
            "present": f"{sock} exists but did not answer through the SSH forward "
            "(is dockerd running? does sshd allow AllowStreamLocalForwarding?)",
        }.get(answer, "")


def _client(url: str, timeout: float) -> Any:
    """A client speaking the engine's API version, learnt from ``/_ping`` (about 1 ms) rather than
    the SDK's ``/version`` probe (about 6 ms on dockerd 20.10); the ping also proves the endpoint."""
    import docker
    from docker.constants import MINIMUM_DOCKER_API_VERSION

    probe = docker.APIClient(base_url=url, version=MINIMUM_DOCKER_API_VERSION, timeout=timeout)
    try:
        response = probe.get(f"{probe.base_url}/_ping", timeout=timeout)
        response.raise_for_status()
        version = response.headers.get("Api-Version") or "auto"
    finally:
        probe.close()
    return docker.DockerClient(base_url=url, version=version, timeout=timeout)


def _explain(exc: BaseException) -> str:
    text = getattr(exc, "explanation", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())
