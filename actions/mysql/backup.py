"""Database backups on a host, found and read through the exec channel, in the formats teams keep.

``.sql``, ``.sql.gz`` (or ``.sql.bz2``) and Laravel-backup (spatie) ``.zip`` archives whose
``db-dumps/`` folder holds the dump, itself possibly compressed. Reading happens in a worker
thread through :class:`actions.mysql.hostfiles.RemoteFile`, a seekable file object streamed from
the host, so ``gzip`` and ``zipfile`` read a remote archive without a local copy.
"""

from __future__ import annotations

import asyncio
import bz2
import gzip
import io
import posixpath
import time
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from console.model.ages import age_seconds, age_text
from console.model.errors import ActionError

if TYPE_CHECKING:
    from actions.mysql.hostfiles import HostFiles

FORMATS = (".sql.gz", ".sql.bz2", ".sql", ".zip")
DUMPS_DIR = "db-dumps/"
SAFETY_PREFIX = "warroom-safety"
READ_SIZE = 1 << 20


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


def open_sql(raw: io.RawIOBase, backup: Backup) -> BinaryIO:
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


def zip_member(raw: io.RawIOBase, path: str, database: str) -> tuple[str, int, int] | str:
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


async def candidates(files: HostFiles, directory: str) -> list[Backup]:
    """Every file of the backup directory that looks like a database backup, newest first.

    A symlink ("latest.sql.gz -> 2025-01-10.sql.gz") is judged by the file it points to; a
    dangling one, a directory and warroom's own safety dumps are not candidates.
    """
    found = []
    for entry in await files.listing(directory):
        name = posixpath.basename(entry.path)
        fmt = format_of(name)
        if fmt is None or name.startswith((".", SAFETY_PREFIX)):
            continue
        found.append(Backup(entry.path, entry.size, entry.mtime, fmt))
    found.sort(key=lambda b: (b.mtime, b.path), reverse=True)
    return found


async def describe(files: HostFiles, path: str, where: str) -> Backup:
    """A backup named explicitly by the step (``backup = "..."``)."""
    fmt = format_of(path)
    if fmt is None:
        raise ActionError(f"{where}: {path} is not a backup warroom can read ({', '.join(FORMATS)})")
    entry = await files.stat(path)
    return Backup(path, entry.size, entry.mtime, fmt)


async def inspect(files: HostFiles, backup: Backup, database: str) -> str:
    """Fill in a zip's dump member; returns why the backup is unusable, or ''."""
    if backup.format != "zip":
        return ""
    raw = files.reader(backup.path, backup.size)
    try:
        found = await asyncio.to_thread(zip_member, raw, backup.path, database)
    finally:
        raw.close()
    if isinstance(found, str):
        return found
    backup.member, backup.member_offset, backup.member_size = found
    return ""
