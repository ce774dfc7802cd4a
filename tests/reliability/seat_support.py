"""SSH sessions of ``warroom serve`` driven from the test's own loop (asyncssh clients on a pty, the
console's keys typed), and the seat's history checked record by record."""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path

import asyncssh

from console.model import events

ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][A-Z0-9]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[=>78]")


class Console:
    """One user's console over SSH: a pty session whose output is drained continuously."""

    def __init__(self, user: str) -> None:
        self.user = user
        self.raw = b""
        self.painted = asyncio.Event()
        self.conn: asyncssh.SSHClientConnection | None = None
        self.proc: asyncssh.SSHClientProcess | None = None
        self._drain: asyncio.Task[None] | None = None

    async def open(self, port: int, key: Path, known_hosts: Path) -> Console:
        self.conn = await asyncssh.connect(
            "127.0.0.1",
            port=port,
            username=self.user,
            client_keys=[str(key)],
            known_hosts=str(known_hosts),
            agent_path=None,
        )
        self.proc = await self.conn.create_process(term_type="xterm-256color", term_size=(160, 48), encoding=None)
        self._drain = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.proc is not None
        with contextlib.suppress(asyncssh.Error, OSError):
            while chunk := await self.proc.stdout.read(65536):
                self.raw = (self.raw + chunk)[-65536:]
                if not self.painted.is_set() and b"INC " in ESCAPES.sub(b"", self.raw):
                    self.painted.set()

    def type(self, keys: str) -> None:
        assert self.proc is not None
        self.proc.stdin.write(keys.encode())

    async def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            with contextlib.suppress(Exception):
                await self.conn.wait_closed()
        if self._drain is not None:
            self._drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drain


def seat_violations(records: list[dict]) -> tuple[list[str], str | None]:
    """Replay the seat, record by record (every instant the journal can show): a seat taken while
    held, or handed over or released by someone who does not hold it, is a second driver."""
    driver: str | None = None
    problems: list[str] = []
    for record in records:
        kind, data = record["type"], record["data"]
        if kind == events.SEAT_TAKEN:
            if driver is not None:
                problems.append(f"seq {record['seq']}: {data['to']} took the seat while {driver} held it")
            driver = data["to"]
        elif kind in (events.SEAT_HANDED_OVER, events.SEAT_RELEASED):
            if data["from"] != driver:
                problems.append(f"seq {record['seq']}: {kind} from {data['from']} while {driver} held it")
            driver = data["to"]
    return problems, driver
