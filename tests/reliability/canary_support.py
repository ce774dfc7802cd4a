"""Canary secrets of several shapes, a step kind whose driver fails with the secret in its message,
and an observer that keeps every byte the attach socket sends it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

from actions.base import StepContext, StepRun
from actions.registry import KINDS
from actions.ssh import SSHAction
from console.host.wire import encode, hello

PEM_BODY = [
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7Vj1Qcanary01",
    "Zq3kX9pWm2Lr8Tb5Yc4Hd7Ns6Fg1Jk0Pl2Oi3Uy4Tr5Ew6Qa7Sd8Fg9Hj0Kcanary02",
    "Xc2Vb3Nm4Lk5Jh6Gf7Ds8Aq9Wz0Sx1Ed2Cr3Fv4Tg5By6Hn7Um8Ji9Ko0Lp1canary03",
]
PEM = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(PEM_BODY) + "\n-----END PRIVATE KEY-----\n"
CANARIES = {
    "line": "canary-LINE-7f3a9c1e5b",
    "b64": "Y2FuYXJ5LWI2NC1zZWNyZXQtdmFsdWU+Pz8/Pw==",
    "urlenc": "canary%2FURL%40enc%3Dd3c0ded%26x",
    "userinfo": "https://deploy:canary-TOKEN-91ab@git.example.test/app.git",
    "pem": PEM,
}
ENV = {"line": "CANARY_LINE", "b64": "CANARY_B64", "urlenc": "CANARY_URLENC", "userinfo": "CANARY_URL"}


def needles() -> dict[str, str]:
    """What must never be found: each single-line canary whole, each line of the PEM's body, and the
    password inside the URL's user-info."""
    found = {name: value for name, value in CANARIES.items() if name != "pem"}
    found.update({f"pem line {i + 1}": line for i, line in enumerate(PEM_BODY)})
    found["userinfo password"] = "canary-TOKEN-91ab"
    return found


def hits(text: str) -> list[str]:
    """Names of the canaries in ``text`` (raw, and as JSON would escape them)."""
    return [name for name, value in needles().items() if value in text or json.dumps(value)[1:-1] in text]


class CrashingAction(SSHAction):
    """A step kind whose driver raises an unexpected exception quoting the secret it was handed
    (as a client library does when it puts a connection string in its error)."""

    kind = "crashing"

    async def run(self, ctx: StepContext) -> StepRun:
        secret = ctx.secret(next(iter(ctx.step.secret_env.values())))
        raise RuntimeError(f"driver refused the connection string {secret!r}")


KINDS_WITH_CRASH = {**KINDS, "crashing": CrashingAction}


class RawObserver:
    """A local observer on the attach socket that keeps everything it is sent, as sent."""

    def __init__(self) -> None:
        self.received = bytearray()
        self._task: asyncio.Task[None] | None = None

    async def connect(self, path: Path) -> RawObserver:
        reader, self._writer = await asyncio.open_unix_connection(str(path), limit=2**26)
        self._writer.write(encode(hello("watch", user="olive")))
        await self._writer.drain()
        self._task = asyncio.create_task(self._read(reader))
        return self

    async def _read(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while chunk := await reader.read(65536):
                self.received += chunk

    def text(self) -> str:
        return self.received.decode("utf-8", "replace")

    async def close(self) -> None:
        self._writer.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
