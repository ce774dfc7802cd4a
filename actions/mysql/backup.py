"""Database backups on a host, found and read over SFTP, in the formats teams really keep.

``.sql``, ``.sql.gz`` (or ``.sql.bz2``) and Laravel-backup (spatie) ``.zip`` archives whose
``db-dumps/`` folder holds the dump, itself possibly compressed. Reading happens in a worker
thread through :class:`RemoteFile`, a seekable file object whose reads are SFTP requests run on
the event loop, so ``gzip`` and ``zipfile`` stream a remote archive without a local copy.
"""

from __future__ import annotations

import asyncio
import bz2
import concurrent.futures
import gzip
import io
import posixpath
import stat
import threading
import time
import zipfile
from dataclasses import dataclass
from typing import Any, BinaryIO

import asyncssh

from console.model.ages import age_seconds, age_text
from console.model.errors import ActionError

FORMATS = (".sql.gz", ".sql.bz2", ".sql", ".zip")
DUMPS_DIR = "db-dumps/"
SAFETY_PREFIX = "warroom-safety"
READ_SIZE = 1 << 20


class Stopped(Exception):
    """The step was cancelled or timed out while a worker thread waited on the host."""


@dataclass
class Backup:
    path: str
    size: int
    mtime: float
    format: str
    member: str = ""
    member_offset: int = 0
    member_size: int = 0

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def label(self) -> str:
        return f"{self.path} ({self.member})" if self.member else self.path

    def age(self, now: float | None = None) -> float:
        return max(0.0, (now or time.time()) - self.mtime)

    def facts(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "path": self.path,
            "name": self.name,
            "format": self.format,
            "size": self.size,
            "mtime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.mtime)),
            "age_seconds": age_seconds(self.age()),
            "age": human_age(self.age()),
        }
        if self.member:
            data["member"] = self.member
        return data

    def span(self) -> tuple[int, int]:
        """The byte range of the file the dump occupies, for progress."""
        if self.format == "zip":
            return self.member_offset, max(1, self.member_size)
        return 0, max(1, self.size)


def human_age(seconds: float) -> str:
    """The age in words, from the same whole seconds as ``age_seconds`` (:mod:`console.model.ages`)."""
    return age_text(seconds)


def format_of(name: str) -> str | None:
    lower = name.lower()
    for suffix in FORMATS:
        if lower.endswith(suffix):
            return suffix[1:]
    return None


class RemoteFile(io.RawIOBase):
    """A remote file for a worker thread: each read is an SFTP request run on the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, file: Any, size: int, stop: threading.Event) -> None:
        super().__init__()
        self._loop, self._file, self._size, self._stop = loop, file, size, stop
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = call(self._loop, self._file.read(len(buffer), self.position), self._stop)
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self._size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def tell(self) -> int:
        return self.position


class RemoteWriter(io.RawIOBase):
    """The writing counterpart of :class:`RemoteFile` (for the safety dump)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, file: Any, stop: threading.Event) -> None:
        super().__init__()
        self._loop, self._file, self._stop = loop, file, stop
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        call(self._loop, self._file.write(data, self.position), self._stop)
        self.position += len(data)
        return len(data)


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


def open_sql(raw: RemoteFile, backup: Backup) -> BinaryIO:
    """The dump's SQL bytes, decompressed as they are read."""
    buffered = io.BufferedReader(raw, buffer_size=READ_SIZE)
    if backup.format == "sql":
        return buffered
    if backup.format == "sql.gz":
        return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
    if backup.format == "sql.bz2":
        return bz2.BZ2File(buffered)  # type: ignore[return-value]
    archive = zipfile.ZipFile(buffered)
    member = archive.open(backup.member)
    if backup.member.endswith(".gz"):
        return gzip.GzipFile(fileobj=member, mode="rb")  # type: ignore[return-value]
    if backup.member.endswith(".bz2"):
        return bz2.BZ2File(member)  # type: ignore[return-value]
    return member  # type: ignore[return-value]


def zip_member(raw: RemoteFile, path: str, database: str) -> tuple[str, int, int] | str:
    """``(member, offset, compressed size)`` of the archive's database dump, or why there is none."""
    try:
        with zipfile.ZipFile(io.BufferedReader(raw, buffer_size=65536)) as archive:
            dumps = [
                info
                for info in archive.infolist()
                if info.filename.startswith(DUMPS_DIR) and format_of(info.filename) in ("sql", "sql.gz", "sql.bz2")
            ]
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        return f"not a readable zip archive ({exc}); truncated or corrupt?"
    if not dumps:
        return f"no {DUMPS_DIR}*.sql[.gz] inside (a files-only backup?)"
    if len(dumps) > 1:
        mine = [i for i in dumps if _stem(i.filename) == database or _stem(i.filename).endswith(f"-{database}")]
        if len(mine) != 1:
            names = ", ".join(i.filename for i in dumps)
            return f"several database dumps inside ({names}) and none is clearly of database {database!r}"
        dumps = mine
    info = dumps[0]
    if info.flag_bits & 0x1:
        return f"{info.filename} is encrypted (a password-protected backup); decrypt it on the host first"
    return info.filename, info.header_offset, info.compress_size


def _stem(member: str) -> str:
    name = posixpath.basename(member)
    for suffix in (".sql.gz", ".sql.bz2", ".sql"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


async def candidates(sftp: asyncssh.SFTPClient, directory: str, where: str) -> list[Backup]:
    """Every file of the backup directory that looks like a database backup, newest first."""
    try:
        names = await sftp.readdir(directory)
    except asyncssh.SFTPNoSuchFile:
        raise ActionError(f"{where}: backup directory {directory} does not exist") from None
    except asyncssh.SFTPError as exc:
        raise ActionError(f"{where}: cannot list backup directory {directory}: {exc.reason}") from None
    found = []
    for entry in names:
        name = str(entry.filename)
        fmt = format_of(name)
        attrs = entry.attrs
        if fmt is None or name.startswith((".", SAFETY_PREFIX)):
            continue
        path = posixpath.join(directory, name)
        if attrs.permissions is not None and stat.S_ISLNK(attrs.permissions):
            try:  # "latest.sql.gz -> 2025-01-10.sql.gz": judge the file it points to
                attrs = await sftp.stat(path)
            except asyncssh.SFTPError:
                continue
        if attrs.permissions is not None and not stat.S_ISREG(attrs.permissions):
            continue
        found.append(Backup(path, attrs.size or 0, float(attrs.mtime or 0), fmt))
    found.sort(key=lambda b: (b.mtime, b.path), reverse=True)
    return found


async def describe(sftp: asyncssh.SFTPClient, path: str, where: str) -> Backup:
    """A backup named explicitly by the step (``backup = "..."``)."""
    fmt = format_of(path)
    if fmt is None:
        raise ActionError(f"{where}: {path} is not a backup warroom can read ({', '.join(FORMATS)})")
    try:
        attrs = await sftp.stat(path)
    except asyncssh.SFTPNoSuchFile:
        raise ActionError(f"{where}: backup {path} does not exist") from None
    except asyncssh.SFTPError as exc:
        raise ActionError(f"{where}: cannot read backup {path}: {exc.reason}") from None
    return Backup(path, attrs.size or 0, float(attrs.mtime or 0), fmt)


async def inspect(sftp: asyncssh.SFTPClient, backup: Backup, database: str, stop: threading.Event) -> str:
    """Fill in a zip's dump member; returns why the backup is unusable, or ''."""
    if backup.format != "zip":
        return ""
    loop = asyncio.get_running_loop()
    async with await sftp.open(backup.path, "rb") as file:
        found = await asyncio.to_thread(zip_member, RemoteFile(loop, file, backup.size, stop), backup.path, database)
    if isinstance(found, str):
        return found
    backup.member, backup.member_offset, backup.member_size = found
    return ""
