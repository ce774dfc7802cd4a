"""Restoring a dump's tables in parallel, each table's statements in order on one connection.

One thread reads and splits the dump and routes each statement (:mod:`actions.mysql.sql_route`):
a table's statements go to the connection that table was given (the least loaded when it first
appears), session statements (SET, USE) to every connection in their place, and anything else
(views, triggers, routines) runs alone on the first connection once all work before it is done.
Each connection batches its INSERTs one ahead of the server as the serial restore does
(:mod:`actions.mysql.pipeline`). A statement that would make several sessions behave otherwise
than one turns the rest of the restore serial, on the connection whose session it needs, and the
step's output says from which statement and why.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, BinaryIO

from actions.mysql.backup import Backup
from actions.mysql.hostfiles import RemoteFile, Stopped
from actions.mysql.pipeline import BatchFailed, Pipeline
from actions.mysql.restore import (
    _EMPTY,
    _END,
    Reading,
    Reporter,
    StatementFailed,
    _batch_limit,
    _batchable,
    _Pipe,
    _send_one,
    statements,
)
from actions.mysql.sql_route import BARRIER, SESSION, SKIP, TABLE, UNSAFE, Router
from actions.mysql.sql_split import DumpError, Statement

WORKER_BYTES = 48 << 20  # read ahead per connection, so one big table does not hold up the others
POLL = 0.2


class _Shared:
    """What the threads share: the first failure, the stop, the count of applied statements."""

    def __init__(self, stop: threading.Event, applied: list[int]) -> None:
        self.cond = threading.Condition()
        self.stop = stop
        self.halt = threading.Event()
        self.failure: BaseException | None = None
        self.applied = applied

    def halted(self) -> bool:
        if self.stop.is_set():
            self.halt.set()  # wakes the dispatcher if it waits for room in a worker's queue
        return self.halt.is_set()

    def fail(self, exc: BaseException) -> None:
        with self.cond:
            if self.failure is None:
                self.failure = exc
            self.halt.set()
            self.cond.notify_all()


class Worker:
    """One connection and its thread; ``pending`` counts statements given to it and not yet done."""

    def __init__(self, index: int, conn: Any, limit: int, shared: _Shared) -> None:
        self.index, self.conn, self.limit, self.shared = index, conn, limit, shared
        self.pipe = _Pipe(WORKER_BYTES)
        self.pending = 0
        self.tables: list[str] = []
        self._batches: deque[tuple[int, int]] = deque()  # (statements, counted) per batch in flight
        self.thread = threading.Thread(target=self._run, name=f"warroom-mysql-{index}", daemon=True)

    def put(self, stmt: Statement | object, counted: bool = True) -> bool:
        size = len(stmt.text) if isinstance(stmt, Statement) else 0
        with self.shared.cond:
            self.pending += isinstance(stmt, Statement)
        return self.pipe.put((stmt, counted), size, self.shared.halt)

    def _run(self) -> None:
        try:
            pipeline = Pipeline(self.conn)
            while not self.shared.halted():
                item = self.pipe.get(wait=False)
                if item is _EMPTY:
                    pipeline.drain()
                    self._settle(pipeline)
                    item = self.pipe.get(timeout=POLL)
                    if item is _EMPTY:
                        continue
                stmt, counted = item
                if stmt is _END:
                    break
                if _batchable(stmt) and len(stmt.text) <= self.limit:
                    batch = self._fill(stmt, counted)
                    pipeline.send([s for s, _ in batch])
                    self._batches.append((len(batch), sum(c for _, c in batch)))
                else:
                    pipeline.drain()
                    self._settle(pipeline)
                    _send_one(self.conn, stmt)
                    self._batches.append((1, int(counted)))
                self._settle(pipeline)
            else:
                return
            pipeline.drain()
            self._settle(pipeline)
        except BatchFailed as exc:
            self.shared.fail(Stopped() if self.shared.stop.is_set() else StatementFailed(exc.statement, exc.cause))
        except Exception as exc:  # noqa: BLE001 - raised by the dispatcher in its place
            self.shared.fail(exc)

    def _settle(self, pipeline: Pipeline) -> None:
        """Account for the batches the server has answered."""
        inflight = len(pipeline.inflight)
        while len(self._batches) > inflight:
            done, counted = self._batches.popleft()
            with self.shared.cond:
                self.pending -= done
                self.shared.applied[0] += counted
                self.shared.cond.notify_all()

    def _fill(self, first: Statement, counted: bool) -> list[tuple[Statement, bool]]:
        batch, size = [(first, counted)], len(first.text)
        while size < self.limit:
            nxt = self.pipe.get(wait=False)
            if nxt is _EMPTY:
                break
            stmt = nxt[0]
            if not isinstance(stmt, Statement) or not _batchable(stmt) or size + len(stmt.text) > self.limit:
                self.pipe.unget(nxt, len(stmt.text) if isinstance(stmt, Statement) else 0)
                break
            batch.append(nxt)
            size += len(stmt.text)
        return batch


class Dispatcher:
    """Routes the dump's statements to the workers; waits for them at barriers."""

    def __init__(self, workers: list[Worker], shared: _Shared, reporter: Reporter, reading: Reading) -> None:
        self.workers, self.shared, self.reporter, self.reading = workers, shared, reporter, reading
        self.router = Router()
        self.owner: dict[str, Worker] = {}
        self.serial: Worker | None = None
        self.barriers = 0
        self.skipped = 0

    def send(self, stmt: Statement) -> None:
        if self.serial is not None:
            self._put(self.serial, stmt)
            return
        route = self.router.route(stmt, self.reading.census.plain_values)
        if route.kind == TABLE:
            self._put(self._worker(route.table), stmt)
        elif route.kind == SESSION:
            for worker in self.workers:
                self._put(worker, stmt, worker is self.workers[0])
        elif route.kind == SKIP:
            if not self.skipped:
                self.reporter.line(
                    "LOCK TABLES/UNLOCK TABLES around a table's rows are skipped: "
                    "each table has a connection of its own"
                )
            self.skipped += 1
            with self.shared.cond:
                self.shared.applied[0] += 1
        elif route.kind == BARRIER:
            self.barriers += 1
            self.wait_idle()
            self._put(self.workers[0], stmt)
            self.wait_idle()
        else:
            assert route.kind == UNSAFE
            self.wait_idle()
            held = self.router.locked
            self.serial = self.owner[held] if held in self.owner else self.workers[0]
            head = stmt.text[:50].decode("utf-8", "replace").replace("\n", " ")
            self.reporter.line(
                f"restoring serially from statement {stmt.number} (line {stmt.line}, {head!r}) on: {route.reason}"
            )
            self.reading.stats["serial_from"] = {"statement": stmt.number, "line": stmt.line, "reason": route.reason}
            self._put(self.serial, stmt)

    def _worker(self, table: str) -> Worker:
        worker = self.owner.get(table)
        if worker is None:
            worker = min(self.workers[1:], key=lambda w: (w.pipe._bytes, len(w.tables), w.index))
            self.owner[table] = worker
            worker.tables.append(table)
        return worker

    def _put(self, worker: Worker, stmt: Statement, counted: bool = True) -> None:
        if not worker.put(stmt, counted):
            self.raise_failure()

    def wait_idle(self) -> None:
        with self.shared.cond:
            while any(w.pending for w in self.workers) and not self.shared.halted():
                self.shared.cond.wait(POLL)
        self.raise_failure()

    def raise_failure(self) -> None:
        if self.shared.stop.is_set():
            raise Stopped()
        if self.shared.failure is not None:
            raise self.shared.failure


def restore(
    open_stream: Callable[[], tuple[BinaryIO, RemoteFile]],
    backup: Backup,
    reading: Reading,
    connect: Callable[[], Any],
    conn: Any,
    reporter: Reporter,
    applied: list[int],
    parallel: int,
    thread_ids: list[int],
) -> None:
    """Stream the dump into ``conn`` and ``parallel`` more connections made by ``connect``."""
    shared = _Shared(reporter.stop, applied)
    limit = _batch_limit(conn)
    workers = [Worker(0, conn, limit, shared)]
    try:
        for i in range(1, parallel + 1):
            extra = connect()
            workers.append(Worker(i, extra, limit, shared))
            thread_ids.append(extra.thread_id())
        for worker in workers:
            worker.thread.start()
        dispatcher = Dispatcher(workers, shared, reporter, reading)
        cpu = time.thread_time()
        try:
            for stmt in statements(open_stream, backup, reading, reporter, "restore"):
                dispatcher.raise_failure()
                dispatcher.send(stmt)
        except DumpError:
            _finish(workers, shared)  # what came before the broken part is applied, as serially
            raise
        finally:
            reading.stats["reader_cpu_seconds"] = round(time.thread_time() - cpu, 2)
        _finish(workers, shared)
        dispatcher.raise_failure()
        reading.stats.update(
            parallel=parallel,
            barriers=dispatcher.barriers,
            table_locks_skipped=dispatcher.skipped,
            tables_per_connection=[len(w.tables) for w in workers[1:]],
        )
        if "serial_from" not in reading.stats:
            tables = {name.lower() for name in reading.census.tables}  # the owners include views' stand-ins
            done = sum(1 for name in dispatcher.owner if name in tables)
            reporter.line(f"restored {done} tables over {parallel} connections in parallel")
    finally:
        shared.halt.set()
        for worker in workers:
            if worker.thread.is_alive():
                worker.thread.join(timeout=10)
        for worker in workers[1:]:
            with contextlib.suppress(Exception):
                worker.conn.close()


def _finish(workers: list[Worker], shared: _Shared) -> None:
    """Let every worker run what it was given, then end."""
    for worker in workers:
        if not worker.put(_END):
            break
    for worker in workers:
        if worker.thread.is_alive():
            worker.thread.join()
