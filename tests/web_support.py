"""``warroom serve --http`` as a subprocess, and small clients of its status page (urllib, SSE).

Shared by tests/test_web_*.py and benchmarks/web_viewers.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from serve_support import WARROOM, free_port

from console.host import wire


class ServedPage:
    """``warroom serve`` with the page on a free loopback port; ``url`` is the token link it printed."""

    def __init__(self, base: Path, config: Path, runbook: Path, *, args: tuple[str, ...] = (), env=None) -> None:
        self.http_port = free_port()
        self.stderr = base / "serve-web.err"
        self._err = self.stderr.open("w")
        self.process = subprocess.Popen(
            [WARROOM, "serve", "-c", str(config), "--runbook", str(runbook), "--as", "alice", *self._http(args)],
            stdout=subprocess.PIPE,
            stderr=self._err,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.banner: list[str] = []
        try:
            self._read_banner()
        except BaseException:
            self.stop()
            raise
        self.incident = next(line for line in self.banner if line.startswith("incident ")).split()[1].rstrip(":")
        self.journal = Path(next(line for line in self.banner if line.startswith("journal")).split()[1])
        self.url = next(line for line in self.banner if line.startswith("web ")).split()[1]
        self.root = f"{self.url.split('/i/')[0]}/"

    def _http(self, args: tuple[str, ...]) -> list[str]:
        return ["--http", f"127.0.0.1:{self.http_port}", *args]

    def _read_banner(self) -> None:
        assert self.process.stdout is not None
        deadline = time.monotonic() + 30
        while not any(line.startswith("web ") for line in self.banner):
            line = self.process.stdout.readline()
            assert line and time.monotonic() < deadline, f"warroom serve did not start: {self.stderr.read_text()}"
            self.banner.append(line.rstrip("\n"))

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """``warroom ARGS -c CONFIG`` against the served incident (tick, note, close ...)."""
        config = self.process.args[3]
        return subprocess.run([WARROOM, *args, "-c", config, "--as", "alice"], capture_output=True, text=True)

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.journal.read_text().splitlines() if line.endswith("}")]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._err.close()


def get(url: str, *, headers: dict[str, str] | None = None, method: str = "GET", context=None):
    """``(status, headers, body)`` of one request; an HTTP error status is returned, not raised."""
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode()


async def sse_events(session, url: str, *, cookies: str = ""):
    """Yield ``(event, data)`` of a server-sent event stream, as an aiohttp client reads it."""
    headers = {"Accept": "text/event-stream"} | ({"Cookie": cookies} if cookies else {})
    async with session.get(url, headers=headers, timeout=None) as response:
        assert response.status == 200, response.status
        event, data = "message", []
        async for raw in response.content:
            line = raw.decode().rstrip("\r\n")
            if not line:
                if data:
                    yield event, "\n".join(data)
                event, data = "message", []
            elif line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())


async def wait_for(predicate, timeout: float = 10.0, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(step)


class AttachClient:
    """A command-line client on the incident's attach socket (as ``warroom tick`` is): it acts as
    ``user`` with the role the engine gives that name, so a test can start a step of a served incident."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self._ids = 0
        self.records: list[dict] = []

    @classmethod
    async def connect(cls, socket: str, user: str = "alice", *, act: bool = True) -> AttachClient:
        reader, writer = await asyncio.open_unix_connection(socket, limit=1 << 24)
        writer.write(wire.encode(wire.hello("test", user=user, act=act)))
        await writer.drain()
        message = json.loads(await reader.readline())
        assert "error" not in message, message
        for _ in range(wire.read_welcome(message).records):
            await reader.readline()
        return cls(reader, writer)

    async def command(self, name: str, **args) -> dict:
        """Send one command; the reply (records that arrive meanwhile are kept in ``records``)."""
        self._ids += 1
        self.writer.write((json.dumps({"id": self._ids, "cmd": name, "args": args}) + "\n").encode())
        await self.writer.drain()
        while True:
            message = json.loads(await self.reader.readline())
            if "record" in message:
                self.records.append(message["record"])
            elif message.get("reply") == self._ids:
                return message

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


class Swarm:
    """``count`` browsers' event streams on one page (aiohttp, one connection each): each one's
    first state is awaited, then the arrival time (epoch seconds) of every marker is kept per viewer."""

    def __init__(self, url: str, count: int, markers: list[str]) -> None:
        self.url, self.count, self.markers = url, count, markers
        self.arrivals: list[dict[str, float]] = [{} for _ in range(count)]
        self.ready: list[bool] = [False] * count
        self._tasks: list[asyncio.Task] = []

    async def __aenter__(self) -> Swarm:
        import aiohttp

        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True))
        self._tasks = [asyncio.create_task(self._follow(i)) for i in range(self.count)]
        return self

    async def _follow(self, index: int) -> None:
        async for event, data in sse_events(self._session, self.url):
            if event != "state":
                continue
            self.ready[index] = True
            now = time.time()
            seen = self.arrivals[index]
            for marker in self.markers:
                if marker not in seen and marker in data:
                    seen[marker] = now

    def failed(self) -> list[BaseException]:
        return [t.exception() for t in self._tasks if t.done() and not t.cancelled() and t.exception()]

    async def wait_ready(self, timeout: float) -> None:
        await wait_for(lambda: all(self.ready) or bool(self.failed()), timeout=timeout)
        assert not self.failed(), self.failed()[0]

    def got(self, marker: str) -> int:
        return sum(1 for seen in self.arrivals if marker in seen)

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._session.close()
