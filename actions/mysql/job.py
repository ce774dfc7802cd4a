"""One host's run of a mysql step: the operations, in order, with their facts and failures.

Every expected failure ends as a one-line error that says whether the database was touched; the
point of no return is journaled (a step warning) before the first statement of a restore runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import io
import posixpath
import threading
import time
from typing import Any

import asyncssh

import actions.mysql.backup as backups
import actions.mysql.dump as dumping
import actions.mysql.parallel as parallel
import actions.mysql.restore as restoring
from actions.base import StepContext, Target
from actions.mysql.backup import Backup
from actions.mysql.conn import DbTarget, Endpoint, Tunnel
from actions.mysql.hostfiles import HostFiles, RemoteFile, RemoteWriter, Stopped
from actions.mysql.params import MySQLParams, backup_dir, backup_file, safety_dir
from actions.mysql.restore import Reading, Reporter, StatementFailed
from actions.mysql.sql_census import Census
from actions.mysql.sql_split import DumpError
from console.model.errors import ActionError, AuthError, HostKeyError, HostUnreachable


class Blocked(ActionError):
    """The step refused to go on (an old backup under ``on_old_backup = "block"``)."""


class Job:
    """One host's run of a mysql step; its facts grow as it goes."""

    def __init__(
        self, ctx: StepContext, target: Target, p: MySQLParams, sink: Any, db: DbTarget, password: str
    ) -> None:
        self.ctx, self.target, self.p, self.sink = ctx, target, p, sink
        self.where = f"step {ctx.step.id} on {target.name}"
        self.stop_event = threading.Event()
        self.loop = asyncio.get_running_loop()
        self.reporter = Reporter(ctx, target.name, sink, self.loop, self.stop_event)
        self.endpoint = Endpoint(db, password, None, self.where)
        self.facts: dict[str, Any] = {"operation": p.operation, "database": str(db)}
        self.files: HostFiles | None = None
        self.conn: Any = None
        self.thread_id = 0
        self.worker_ids: list[int] = []  # the parallel restore's other connections
        self.touched = False
        self.applied = [0]

    # ----- plumbing --------------------------------------------------------------------------

    def say(self, text: str) -> None:
        self.sink.write((text + "\n").encode())

    async def stop(self) -> None:
        self.stop_event.set()
        ids = [i for i in (self.thread_id, *self.worker_ids) if i]
        await asyncio.gather(*(asyncio.to_thread(self.endpoint.kill_query, i) for i in ids))

    def close(self) -> None:
        self.stop_event.set()
        self.reporter.closed = True
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
        if self.endpoint.tunnel is not None:
            self.endpoint.tunnel.close()
        if self.files is not None:
            self.files.close()

    def state_text(self) -> str:
        if not self.touched:
            return "the database was not touched"
        self.facts["restored"] = False
        self.facts["database_state"] = "partially restored"
        return (
            f"the restore stopped after {self.applied[0]} statements: the database is partially restored"
            + self._safety_hint()
        )

    def _safety_hint(self) -> str:
        safety = self.facts.get("safety_dump")
        return f"; the safety dump is {self.target.name}:{safety['path']}" if safety else ""

    async def ssh(self) -> Any:
        return await self.ctx.connections.get(self.target)

    async def thread(self, fn, *args) -> Any:
        return await asyncio.to_thread(fn, *args)

    # ----- the operations --------------------------------------------------------------------

    async def run(self) -> tuple[str, str]:
        """``(status, error)``; every expected failure becomes a one-line error."""
        try:
            op = self.p.operation
            if op == "preflight":
                await self.preflight()
            elif op == "find-backup":
                await self.find()
            elif op == "verify":
                await self.verify_only()
            else:
                await self.restore()
            return "ok", ""
        except Blocked as exc:
            return "failed", str(exc)
        except (DumpError, StatementFailed) as exc:
            self.facts["failed_at"] = restoring.dump_error_facts(exc)
            return "failed", self._failure(str(exc))
        except Stopped:
            return "cancelled", f"{self.where}: stopped; {self.state_text()}"
        except (AuthError, HostKeyError, HostUnreachable) as exc:
            return "failed" if self.touched else "error", self._failure(str(exc))
        except ActionError as exc:
            return "failed", self._failure(str(exc))
        except (OSError, asyncssh.Error) as exc:
            return "error", self._failure(f"{self.where}: connection to {self.target.name} failed: {exc}")
        except Exception as exc:
            import pymysql

            if isinstance(exc, pymysql.MySQLError):
                return "failed", self._failure(str(self.endpoint.error(exc)))
            raise

    def _failure(self, text: str) -> str:
        if self.p.operation != "restore":
            return text
        self.facts["restored"] = False
        if not self.touched:
            self.facts["database_state"] = "untouched"
            return f"{text}; nothing was restored, the database was not touched"
        self.facts["database_state"] = "partially restored"
        return (
            f"{text}; NOT restored: {self.applied[0]} statements were applied before it, "
            f"the database is partially restored{self._safety_hint()}"
        )

    async def connect(self) -> None:
        if self.p.via_ssh:
            tunnel = Tunnel(await self.ssh(), self.endpoint.db, self.target.name)
            await tunnel.open(self.where)
            self.endpoint.tunnel = tunnel
        self.conn = await self.thread(self.endpoint.connect)
        self.thread_id = self.conn.thread_id()
        self.facts["via"] = self.endpoint.route

    async def preflight(self) -> None:
        await self.connect()

        def probe(conn) -> dict[str, Any]:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT VERSION(), CURRENT_USER(), COUNT(*), COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) "
                    "FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
                )
                version, user, tables, size = cur.fetchone()
            return {"server_version": version, "user": user, "tables": int(tables), "size_bytes": int(size)}

        found = await self.thread(probe, self.conn)
        self.facts.update(found)
        self.say(
            f"connected to {self.endpoint.describe()}: {found['server_version']} as {found['user']}, "
            f"{found['tables']} tables, {found['size_bytes'] / 1e6:.1f} MB"
        )

    async def find(self) -> Backup:
        self.files = HostFiles(await self.ssh(), self.target.name, self.where, self.stop_event)
        directory = backup_dir(self.ctx.step, self.p)
        if self.p.backup:
            path = backup_file(self.ctx.step, self.p)
            backup = await backups.describe(self.files, path, self.where)
            problem = await backups.inspect(self.files, backup, self.endpoint.db.name)
            if problem:
                raise ActionError(f"{self.where}: backup {path}: {problem}")
        else:
            backup = await self._newest(directory)
        self.facts["backup"] = backup.facts()
        self.say(
            f"backup: {backup.label}, {backup.size / 1e6:.1f} MB, taken {self.facts['backup']['mtime']}, "
            f"{backup.facts()['age']} old"
        )
        self._check_age(backup)
        return backup

    async def _newest(self, directory: str) -> Backup:
        found = await backups.candidates(self.files, directory)
        self.say(f"searching {directory} on {self.target.name}: {len(found)} candidate backup(s)")
        for backup in found:
            problem = await backups.inspect(self.files, backup, self.endpoint.db.name)
            if not problem:
                return backup
            self.say(f"skipped {backup.path}: {problem}")
        raise ActionError(
            f"{self.where}: no usable database backup in {directory} "
            "(looked for *.sql, *.sql.gz, *.sql.bz2 and *.zip with db-dumps/)"
        )

    def _check_age(self, backup: Backup) -> None:
        rpo = self.p.rpo_minutes
        if not rpo:
            return
        age_min = backup.age() / 60
        within = age_min <= rpo
        self.facts["rpo_minutes"] = rpo
        self.facts["within_rpo"] = within
        if within:
            self.say(f"age check: {backups.human_age(backup.age())} is within the RPO of {rpo} min")
            return
        text = (
            f"backup {backup.name} is {backups.human_age(backup.age())} old, older than the RPO of {rpo} min "
            "(restoring it loses every change made since)"
        )
        if self.p.on_old_backup == "block":
            self.say(f"BLOCKED: {text}")
            self.facts["blocked"] = True
            if self.p.operation == "restore":
                self.facts.update(restored=False, database_state="untouched")
            raise Blocked(f'{self.where}: {text}; on_old_backup = "block" stops here, nothing was touched')
        self.say(f"WARNING: {text}")
        self.ctx.warn(self.target.name, text)

    def _opener(self, backup: Backup):
        """Open the dump afresh for each pass (worker thread)."""

        def open_stream() -> tuple[Any, RemoteFile]:
            raw = self.files.reader(backup.path, backup.size)
            return _Closing(backups.open_sql(raw, backup), raw.close), raw

        return open_stream

    async def verify_only(self) -> None:
        backup = await self.find()
        await self.connect()
        reading = Reading(Census(self.endpoint.db.name))
        await self.thread(self._full_read, backup, reading)
        await self._verify(reading)

    def _full_read(self, backup: Backup, reading: Reading) -> None:
        for _ in restoring.statements(self._opener(backup), backup, reading, self.reporter, "read"):
            pass

    async def _verify(self, reading: Reading) -> None:
        ok, found = await self.thread(
            restoring.verify, self.conn, reading.census, self.reporter, self.endpoint.connect, self.p.parallel
        )
        self.facts["verification"] = found
        self.facts["verified"] = ok
        if found["extra_tables"]:
            text = f"tables not in the dump, left as they are: {', '.join(found['extra_tables'])}"
            self.say(text)
            self.ctx.warn(self.target.name, text)
        if not ok:
            raise ActionError(f"{self.where}: verification failed: {'; '.join(found['problems'])}")
        self.say(f"verified: {len(found['tables'])} tables, row counts equal to the dump's")

    async def restore(self) -> None:
        self.facts.update(restored=False, database_state="untouched")
        backup = await self.find()
        await self.connect()
        if self.p.precheck:
            checked = Reading(Census(self.endpoint.db.name))
            self.say("checking the dump is whole before touching the database ...")
            await self.thread(restoring.precheck, self._opener(backup), backup, checked, self.reporter)
            self.facts["precheck"] = {"ok": True, "method": checked.method}
            self.say(f"dump check: whole ({checked.method})")
        if self.p.safety_dump:
            await self.safety_dump()
        reading = Reading(Census(self.endpoint.db.name))
        safety = self.facts.get("safety_dump")
        kept = f"safety dump at {self.target.name}:{safety['path']}" if safety else "no safety dump was taken"
        note = f"POINT OF NO RETURN: restoring {backup.label} into {self.endpoint.describe()}; {kept}"
        self.say(note)
        self.ctx.warn(self.target.name, note)
        self.facts["point_of_no_return"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.touched = True
        started = time.monotonic()
        if self.p.parallel > 1:
            await self.thread(
                parallel.restore,
                self._opener(backup),
                backup,
                reading,
                self.endpoint.connect,
                self.conn,
                self.reporter,
                self.applied,
                self.p.parallel,
                self.worker_ids,
            )
        else:
            await self.thread(
                restoring.restore, self._opener(backup), backup, reading, self.conn, self.reporter, self.applied
            )
        seconds = time.monotonic() - started
        self.facts.update(
            restored=True,
            database_state="restored",
            statements=self.applied[0],
            sql_bytes=reading.bytes,
            rows_in_dump=reading.census.rows,
            restore_seconds=round(seconds, 2),
            restore_stats=reading.stats,
        )
        self.say(
            f"restored {self.applied[0]} statements, {reading.bytes / 1e6:.1f} MB of SQL, "
            f"{reading.census.rows} rows in {seconds:.1f} s ({reading.bytes / 1e6 / max(seconds, 1e-6):.1f} MB/s)"
        )
        await self._verify(reading)

    async def safety_dump(self) -> None:
        """Dump the database as it is now to the host; a ``.part`` file until it is complete."""
        directory = safety_dir(self.ctx.step, self.p)
        stamp = time.strftime("%Y%m%d-%H%M%SZ", time.gmtime())
        path = posixpath.join(directory, f"{dumping.sanitize_name(self.endpoint.db.name)}-{stamp}.sql.gz")
        part = path + ".part"
        writer = await self.files.create(directory, part)
        self.say(f"safety dump of {self.endpoint.db.name} to {self.target.name}:{path} ...")
        started = time.monotonic()
        complete = False
        try:
            dump_conn = await self.thread(self.endpoint.connect)
            try:
                found = await self.thread(self._write_dump, dump_conn, writer)
            except PermissionError as exc:
                raise ActionError(f"{self.where}: safety dump failed: {exc}") from None
            finally:
                with contextlib.suppress(Exception):
                    dump_conn.close()
            await writer.finish()
            size = await self.files.commit(part, path)
            complete = True
        finally:
            if not complete:
                writer.abandon()
                await self.files.remove(part)
        seconds = round(time.monotonic() - started, 2)
        self.facts["safety_dump"] = {"path": path, "on": self.target.name, "bytes": size, "seconds": seconds, **found}
        self.say(f"safety dump written: {path}, {found['tables']} tables, {found['rows']} rows, {size / 1e6:.1f} MB")

    def _write_dump(self, conn, writer: RemoteWriter) -> dict[str, Any]:
        buffered = io.BufferedWriter(writer, buffer_size=backups.READ_SIZE)
        with gzip.GzipFile(fileobj=buffered, mode="wb", compresslevel=1) as out:
            found = dumping.dump(conn, out, self.endpoint.db.name, self.reporter)
        buffered.flush()
        return found


class _Closing:
    """A stream that also closes the remote file under it."""

    def __init__(self, stream: Any, closer) -> None:
        self._stream, self._closer = stream, closer

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._closer()
