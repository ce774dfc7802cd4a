"""The host's files through the SSH exec channel: backups listed, read and written without SFTP.

Hardened hosts often run sshd without an sftp subsystem, so the mysql kind uses only what a Linux
host has anyway: a POSIX shell, ``find``, ``stat`` (GNU coreutils or BusyBox), ``tail``, ``cat``,
``wc``, ``mkdir``, ``mv`` and ``rm``. Every path is single-quoted, never interpreted by the shell.

A read streams one ``tail -c +N`` process for as long as the reads are contiguous, so a dump is
one stream whose data in flight the SSH channel's window bounds; a seek elsewhere (a zip's
central directory) starts another. Worker threads (gzip, zipfile, the splitter) do the reading;
each request runs on the event loop and gives up when the step is stopped. Every failure is one
line naming the host and the path.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import posixpath
import shlex
import threading
from dataclasses import dataclass
from typing import Any

import asyncssh

from console.model.errors import ActionError, HostUnreachable

# Exit codes of the scripts below for what the shell itself found out (the tools use 1 and 2).
MISSING, NOT_REGULAR, UNREADABLE = 93, 94, 95
# ``find`` prints one "size mtime path" line per regular file (symlinks followed); a name with a
# newline in it could not be told apart from the next line, so those are left out (never a backup).
_LIST = (
    f'[ -e "$d" ] || exit {MISSING}\n'
    f'[ -d "$d" ] || exit {NOT_REGULAR}\n'
    f'{{ [ -r "$d" ] && [ -x "$d" ]; }} || exit {UNREADABLE}\n'
    "exec find -L \"$d\" -mindepth 1 -maxdepth 1 -type f ! -name '*\n*' -exec stat -L -c '%s %Y %n' {} +\n"
)
_STAT = (
    f'[ -e "$f" ] || exit {MISSING}\n'
    f'[ -f "$f" ] || exit {NOT_REGULAR}\n'
    f'[ -r "$f" ] || exit {UNREADABLE}\n'
    "exec stat -L -c '%s %Y' -- \"$f\"\n"
)


class Stopped(Exception):
    """The step was cancelled or timed out while a worker thread waited on the host."""


@dataclass(frozen=True)
class Entry:
    path: str
    size: int
    mtime: float


def call(loop: asyncio.AbstractEventLoop, coro: Any, stop: threading.Event) -> Any:
    """Run ``coro`` on the loop from a worker thread; give up when the step is stopped."""
    future = asyncio.run_coroutine_threadsafe(coro, loop)
    while True:
        try:
            return future.result(timeout=0.5)
        except concurrent.futures.TimeoutError:
            if stop.is_set():
                future.cancel()
                raise Stopped() from None


def _script(name: str, value: str, body: str) -> str:
    return f"export LC_ALL=C\n{name}={shlex.quote(value)}\n{body}"


def _reason(stderr: Any, fallback: str) -> str:
    """The tool's own words: the last line it wrote to stderr."""
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else str(stderr or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else fallback


class HostFiles:
    """One host's files for one mysql job; :meth:`close` ends every process still open."""

    def __init__(self, conn: asyncssh.SSHClientConnection, host: str, where: str, stop: threading.Event) -> None:
        self.conn, self.host, self.where, self.stop = conn, host, where, stop
        self.loop = asyncio.get_running_loop()
        self._procs: set[asyncssh.SSHClientProcess] = set()

    async def _run(self, script: str, doing: str) -> asyncssh.SSHCompletedProcess:
        try:
            return await self.conn.run(script, check=False, encoding=None)
        except (OSError, asyncssh.Error) as exc:
            raise HostUnreachable(f"{self.where}: connection to {self.host} lost while {doing}: {exc}") from None

    async def listing(self, directory: str) -> list[Entry]:
        """The regular files (symlinks followed) of ``directory``, with size and mtime."""
        result = await self._run(_script("d", directory, _LIST), f"listing {directory}")
        code = result.exit_status
        if code == MISSING:
            raise ActionError(f"{self.where}: backup directory {directory} does not exist")
        if code == NOT_REGULAR:
            raise ActionError(f"{self.where}: backup directory {directory} is not a directory")
        if code == UNREADABLE:
            raise ActionError(f"{self.where}: cannot list backup directory {directory}: permission denied")
        found = []
        for line in bytes(result.stdout or b"").split(b"\n"):
            parts = line.split(b" ", 2)
            if len(parts) != 3 or not parts[0].isdigit() or not parts[1].lstrip(b"-").isdigit():
                continue
            try:
                name = parts[2].decode("utf-8").rsplit("/", 1)[-1]
            except UnicodeDecodeError:
                continue  # not a name a runbook could give either
            found.append(Entry(posixpath.join(directory, name), int(parts[0]), float(parts[1])))
        if code != 0 and not found:
            problem = _reason(result.stderr, f"exit status {code}")
            raise ActionError(f"{self.where}: cannot list backup directory {directory} on {self.host}: {problem}")
        return found

    async def stat(self, path: str) -> Entry:
        """Size and mtime of one backup named by the step."""
        result = await self._run(_script("f", path, _STAT), f"looking at {path}")
        code = result.exit_status
        if code == MISSING:
            raise ActionError(f"{self.where}: backup {path} does not exist")
        if code == NOT_REGULAR:
            raise ActionError(f"{self.where}: backup {path} is not a regular file")
        if code == UNREADABLE:
            raise ActionError(f"{self.where}: cannot read backup {path}: permission denied")
        fields = bytes(result.stdout or b"").split()
        if code != 0 or len(fields) != 2:
            problem = _reason(result.stderr, f"exit status {code}")
            raise ActionError(f"{self.where}: cannot stat backup {path} on {self.host}: {problem}")
        return Entry(path, int(fields[0]), float(fields[1]))

    def reader(self, path: str, size: int) -> RemoteFile:
        return RemoteFile(self, path, size)

    async def start(self, command: str, doing: str) -> asyncssh.SSHClientProcess:
        try:
            proc = await self.conn.create_process(command, encoding=None)
        except (OSError, asyncssh.Error) as exc:
            raise HostUnreachable(f"{self.where}: connection to {self.host} lost while {doing}: {exc}") from None
        self._procs.add(proc)
        return proc

    def end(self, proc: asyncssh.SSHClientProcess) -> None:
        """Close a process's channel (on the loop); a ``tail`` still sending gets SIGPIPE."""
        self._procs.discard(proc)
        proc.close()

    async def create(self, directory: str, part: str) -> RemoteWriter:
        """An owner-only ``part`` file in ``directory`` (made if need be), open for writing."""
        script = f"umask 077\nmkdir -p -- {shlex.quote(directory)} && : > {shlex.quote(part)}\n"
        result = await self._run(f"export LC_ALL=C\n{script}", f"creating {part}")
        if result.exit_status != 0:
            problem = _reason(result.stderr, f"exit status {result.exit_status}")
            raise ActionError(f"{self.where}: cannot write the safety dump to {directory}: {problem}")
        proc = await self.start(f"export LC_ALL=C; exec cat > {shlex.quote(part)}", f"writing {part}")
        return RemoteWriter(self, proc, part)

    async def commit(self, part: str, path: str) -> int:
        """Rename a complete ``part`` to ``path``; its size on the host."""
        result = await self._run(
            f"export LC_ALL=C\nmv -f -- {shlex.quote(part)} {shlex.quote(path)} && wc -c < {shlex.quote(path)}\n",
            f"renaming {part}",
        )
        if result.exit_status != 0:
            problem = _reason(result.stderr, f"exit status {result.exit_status}")
            raise ActionError(f"{self.where}: cannot rename {part} to {path} on {self.host}: {problem}")
        return int(bytes(result.stdout or b"0").strip() or 0)

    async def remove(self, path: str) -> None:
        with contextlib.suppress(ActionError):
            await self._run(f"rm -f -- {shlex.quote(path)}\n", f"removing {path}")

    def close(self) -> None:
        for proc in list(self._procs):
            self.end(proc)


class RemoteFile(io.RawIOBase):
    """A seekable file on the host for a worker thread: reads stream from ``tail -c +N``."""

    def __init__(self, files: HostFiles, path: str, size: int) -> None:
        super().__init__()
        self._files, self.path, self._size = files, path, size
        self._proc: asyncssh.SSHClientProcess | None = None
        self._at = 0  # where the open stream is
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        files = self._files
        if self._proc is None or self._at != self.position:
            self._drop()
            command = f"export LC_ALL=C; exec tail -c +{self.position + 1} -- {shlex.quote(self.path)}"
            self._proc = call(files.loop, files.start(command, f"reading {self.path}"), files.stop)
            self._at = self.position
        data = call(files.loop, self._read(self._proc, len(buffer)), files.stop)
        buffer[: len(data)] = data
        self.position += len(data)
        self._at = self.position
        return len(data)

    async def _read(self, proc: asyncssh.SSHClientProcess, size: int) -> bytes:
        """``size`` bytes, fewer only at the end of the file (a short read would make callers
        that read a tail in one call, like the precheck, see less than there is)."""
        files = self._files
        chunks: list[bytes] = []
        got = 0
        try:
            while got < size:
                data = await proc.stdout.read(size - got)
                if not data:
                    break
                chunks.append(data)
                got += len(data)
            if got:
                return b"".join(chunks)
            await proc.wait_closed()
        except (OSError, asyncssh.Error) as exc:
            raise HostUnreachable(
                f"{files.where}: connection to {files.host} lost while reading {self.path}: {exc}"
            ) from None
        if proc.exit_status:
            problem = _reason(await proc.stderr.read(), f"exit status {proc.exit_status}")
            raise ActionError(f"{files.where}: cannot read {self.path} on {files.host}: {problem}")
        return b""

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self._size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def tell(self) -> int:
        return self.position

    def _drop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: so is the connection
                self._files.loop.call_soon_threadsafe(self._files.end, proc)

    def close(self) -> None:
        self._drop()
        super().close()


class RemoteWriter(io.RawIOBase):
    """The writing counterpart of :class:`RemoteFile`: ``cat > part`` fed through stdin."""

    def __init__(self, files: HostFiles, proc: asyncssh.SSHClientProcess, path: str) -> None:
        super().__init__()
        self._files, self._proc, self.path = files, proc, path
        self._done = False

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        if self._done:  # a buffer flushed late (garbage collection) after the file was given up
            return len(data)
        call(self._files.loop, self._send(data), self._files.stop)
        return len(data)

    async def _send(self, data: bytes) -> None:
        try:
            self._proc.stdin.write(data)
            await self._proc.stdin.drain()
        except (OSError, asyncssh.Error) as exc:
            await self._failed(exc)

    async def finish(self) -> None:
        """End of data: the file is complete once ``cat`` exits 0 (on the loop)."""
        self._done = True
        try:
            self._proc.stdin.write_eof()
            await self._proc.wait_closed()
        except (OSError, asyncssh.Error) as exc:
            await self._failed(exc)
        if self._proc.exit_status != 0:
            await self._failed(None)
        self._files.end(self._proc)

    async def _failed(self, exc: BaseException | None) -> None:
        """Why the writing stopped, in ``cat``'s words when it said something (a full disk)."""
        files = self._files
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._proc.wait_closed(), 5)
        said = ""
        with contextlib.suppress(Exception):
            said = _reason(await asyncio.wait_for(self._proc.stderr.read(), 5), "")
        if said:
            raise ActionError(f"{files.where}: writing {self.path} on {files.host} failed: {said}")
        if exc is not None:
            raise HostUnreachable(f"{files.where}: connection to {files.host} lost while writing {self.path}: {exc}")
        raise ActionError(
            f"{files.where}: writing {self.path} on {files.host} failed: exit status {self._proc.exit_status}"
        )

    def abandon(self) -> None:
        self._done = True
        self._files.end(self._proc)
