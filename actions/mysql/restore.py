"""Reading, checking, restoring and verifying a dump; runs in worker threads.

The restore is a two-stage pipeline: one thread reads, decompresses, splits and counts while the
calling thread sends the previous statement and waits for the server, so the splitter's cost
hides behind the server's. A problem in the dump or a statement the server refuses stops it with
the statement number, the line and the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import zipfile
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from actions.mysql.backup import READ_SIZE, Backup
from actions.mysql.conn import message
from actions.mysql.hostfiles import RemoteFile, Stopped
from actions.mysql.pipeline import MAX_PACKET, BatchFailed, Pipeline
from actions.mysql.sql_census import TRAILER, Census, dump_header
from actions.mysql.sql_split import DumpError, Splitter, Statement

PIPE_BYTES = 32 << 20
BATCH_BYTES = 8 << 20
PROGRESS_EVERY = 0.25
TAIL = 4096
_DECOMPRESS_ERRORS = (EOFError, OSError, zlib.error, zipfile.BadZipFile)


class StatementFailed(Exception):
    """The server refused a statement of the dump."""

    def __init__(self, stmt: Statement, exc: BaseException) -> None:
        head = stmt.text[:60].decode("utf-8", "replace").replace("\n", " ")
        super().__init__(f"statement {stmt.number} (line {stmt.line}) failed: {message(exc)}; it starts {head!r}")
        self.number, self.line, self.reason = stmt.number, stmt.line, message(exc)


class Reporter:
    """A worker thread's voice: output lines and throttled progress, handed to the event loop."""

    def __init__(self, ctx: Any, host: str, sink: Any, loop: asyncio.AbstractEventLoop, stop: threading.Event):
        self._ctx, self._host, self._sink, self._loop, self.stop = ctx, host, sink, loop, stop
        self._last = 0.0
        self.closed = False

    def line(self, text: str) -> None:
        self._loop.call_soon_threadsafe(self._on_loop, self._sink.write, (text + "\n").encode())

    def progress(self, done: int, total: int, label: str, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= PROGRESS_EVERY:
            self._last = now
            self._loop.call_soon_threadsafe(self._on_loop, self._ctx.progress, self._host, done, total, "bytes", label)

    def _on_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        if not self.closed:  # a thread outliving a cancelled step must not write to a closed spool
            fn(*args)


@dataclass
class Reading:
    """One pass over a dump: what it held and how far it got."""

    census: Census
    mysqldump: bool = False
    trailer: bool = False
    bytes: int = 0
    method: str = "full read"
    tail: bytes = b""
    stats: dict[str, Any] = field(default_factory=dict)

    def check_trailer(self, number: int, line: int) -> None:
        """A dump that starts like mysqldump's output but lacks its closing line was cut off."""
        if self.mysqldump and not self.trailer:
            raise DumpError(
                number,
                line,
                f"the dump ends after statement {number - 1} without mysqldump's closing '-- Dump completed' "
                "line: it was cut off (truncated)",
            )


def statements(
    open_stream: Callable[[], tuple[BinaryIO, RemoteFile]],
    backup: Backup,
    reading: Reading,
    reporter: Reporter,
    label: str,
) -> Iterator[Statement]:
    """The dump's statements in order, counted into ``reading.census``; progress by file bytes."""
    start, span = backup.span()
    splitter = Splitter()
    stream, raw = open_stream()
    first = True
    try:
        while True:
            if reporter.stop.is_set():
                raise Stopped()
            try:
                chunk = stream.read(READ_SIZE)
            except _DECOMPRESS_ERRORS as exc:
                raise DumpError(splitter.number + 1, splitter.line, f"the compressed data is broken: {exc}") from None
            if first:
                reading.mysqldump = dump_header(chunk)
                first = False
            if not chunk:
                break
            reading.bytes += len(chunk)
            reading.tail = (reading.tail + chunk)[-TAIL:]
            for stmt in splitter.feed(chunk):
                reading.census.see(stmt)
                yield stmt
            reporter.progress(min(span, max(0, raw.position - start)), span, label)
        for stmt in splitter.finish():
            reading.census.see(stmt)
            yield stmt
        reading.trailer = TRAILER in reading.tail
        reading.check_trailer(splitter.number + 1, splitter.line)
        reporter.progress(span, span, label, force=True)
    finally:
        with contextlib.suppress(Exception):
            stream.close()


def precheck(
    open_stream: Callable[[], tuple[BinaryIO, RemoteFile]], backup: Backup, reading: Reading, reporter
) -> None:
    """Make sure the dump is whole before anything touches the database.

    A plain ``.sql`` from mysqldump is checked by its first and last lines (mysqldump writes
    ``-- Dump completed`` only when it finished). Anything else is read through once: the
    compressed stream's checksum, every statement's quoting, the final delimiter.
    """
    if backup.format == "sql":
        stream, raw = open_stream()
        try:
            head = stream.read(512)
            raw.seek(max(0, backup.size - TAIL))
            tail = raw.read(TAIL) or b""
        finally:
            stream.close()
        if dump_header(head) and TRAILER in tail[-TAIL:]:
            reading.mysqldump = reading.trailer = True
            reading.method = "mysqldump header and closing line"
            return
    for _ in statements(open_stream, backup, reading, reporter, "check"):
        pass
    reading.method = "full read"


class _Pipe:
    """A queue bounded by bytes, so a dump of 16 MB statements cannot fill the memory."""

    def __init__(self, budget: int) -> None:
        self._items: deque[Any] = deque()
        self._bytes = 0
        self._budget = budget
        self._cond = threading.Condition()

    def put(self, item: Any, size: int, halt: threading.Event) -> bool:
        with self._cond:
            while self._items and self._bytes + size > self._budget:
                if halt.is_set():
                    return False
                self._cond.wait(0.2)
            self._items.append((item, size))
            self._bytes += size
            self._cond.notify_all()
            return True

    def get(self, wait: bool = True, timeout: float | None = None) -> Any:
        """The next item; ``_EMPTY`` if there is none and ``wait`` is false (or ``timeout`` passed)."""
        with self._cond:
            while not self._items:
                if not wait or (not self._cond.wait(timeout) and not self._items):
                    return _EMPTY
            item, size = self._items.popleft()
            self._bytes -= size
            self._cond.notify_all()
            return item

    def unget(self, item: Any, size: int) -> None:
        with self._cond:
            self._items.appendleft((item, size))
            self._bytes += size


_END = object()
_EMPTY = object()


def _batchable(stmt: Statement) -> bool:
    return stmt.text[:7].upper() in (b"INSERT ", b"REPLACE")


def restore(
    open_stream: Callable[[], tuple[BinaryIO, RemoteFile]],
    backup: Backup,
    reading: Reading,
    conn: Any,
    reporter: Reporter,
    applied: list[int],
) -> None:
    """Stream every statement into ``conn``; ``applied[0]`` counts what the server accepted.

    Runs of INSERTs go out as multi-statement batches of up to ``BATCH_BYTES``, one batch ahead
    of the server (:mod:`actions.mysql.pipeline`); every other statement goes alone once the batches
    before it are done, so DDL and DELIMITER blocks run exactly as the mysql client runs them.
    """
    pipe = _Pipe(PIPE_BYTES)
    halt = threading.Event()
    limit = _batch_limit(conn)

    def produce() -> None:
        cpu = time.thread_time()
        item: Any = _END
        try:
            for stmt in statements(open_stream, backup, reading, reporter, "restore"):
                if not pipe.put(stmt, len(stmt.text), halt):
                    return
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, which raises it in its place
            item = exc
        finally:
            reading.stats["reader_cpu_seconds"] = round(time.thread_time() - cpu, 2)
        pipe.put(item, 0, halt)

    reader = threading.Thread(target=produce, name="warroom-mysql-reader", daemon=True)
    reader.start()
    pipeline = Pipeline(conn)
    waited = sent = 0.0
    rounds = 0
    try:
        while True:
            t0 = time.perf_counter()
            item = pipe.get()
            if item is _END:
                break
            if isinstance(item, BaseException):
                pipeline.drain()
                raise item
            pipelined = _batchable(item) and len(item.text) <= limit
            batch = _fill(pipe, item, limit) if pipelined else [item]
            t1 = time.perf_counter()
            waited += t1 - t0
            if reporter.stop.is_set():
                raise Stopped()
            if pipelined:
                pipeline.send(batch)
            else:
                pipeline.drain()
                _send_one(conn, item)
                pipeline.applied = item.number
            applied[0] = pipeline.applied
            rounds += 1
            sent += time.perf_counter() - t1
        pipeline.drain()
        applied[0] = pipeline.applied
    except BatchFailed as exc:
        applied[0] = max(applied[0], exc.applied)
        if reporter.stop.is_set():
            raise Stopped() from None
        raise StatementFailed(exc.statement, exc.cause) from None
    finally:
        halt.set()
        reader.join(timeout=10)
        reading.stats.update(
            round_trips=rounds,
            waiting_for_dump_seconds=round(waited, 2),
            waiting_for_server_seconds=round(sent, 2),
        )


def _fill(pipe: _Pipe, first: Statement, limit: int) -> list[Statement]:
    """``first`` and the INSERTs queued right behind it, up to ``limit`` bytes."""
    batch, size = [first], len(first.text)
    while size < limit:
        nxt = pipe.get(wait=False)
        if nxt is _EMPTY:
            break
        if not isinstance(nxt, Statement) or not _batchable(nxt) or size + len(nxt.text) > limit:
            pipe.unget(nxt, len(nxt.text) if isinstance(nxt, Statement) else 0)
            break
        batch.append(nxt)
        size += len(nxt.text)
    return batch


def _batch_limit(conn: Any) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT @@max_allowed_packet")
        allowed = int(cur.fetchone()[0])
    return max(1 << 20, min(BATCH_BYTES, allowed - (64 << 10), MAX_PACKET - (64 << 10)))


def _send_one(conn: Any, stmt: Statement) -> None:
    """A statement that is not an INSERT (DDL, a DELIMITER block), alone and in step."""
    import pymysql

    try:
        with conn.cursor() as cur:
            cur.execute(stmt.text)
            while cur.nextset():
                pass
    except pymysql.MySQLError as exc:
        raise BatchFailed([stmt], 0, exc) from None


def verify(
    conn: Any, census: Census, reporter: Reporter, connect: Callable[[], Any] | None = None, parallel: int = 1
) -> tuple[bool, dict[str, Any]]:
    """Every table the dump creates is there, with as many rows as the dump inserted. With
    ``connect`` the tables are counted over ``parallel`` connections (``conn`` and new ones), as
    they were restored: a count reads the whole table, and the server counts several at once."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()",
        )
        present = {str(name): str(kind) for name, kind in cur.fetchall()}
    folded = {name.lower(): name for name in present}  # lower_case_table_names = 1 servers
    actual = {name: name if name in present else folded.get(name.lower(), name) for name in census.tables}
    counted = [actual[name] for name in sorted(census.tables) if actual[name] in present]
    counts = count_rows(conn, counted, reporter, connect if parallel > 1 else None, parallel)
    tables: dict[str, Any] = {}
    problems: list[str] = []
    for name, expected in sorted(census.tables.items()):
        table = actual[name]
        if table not in present:
            tables[table] = {"expected": expected, "rows": None, "ok": False}
            problems.append(f"table `{table}` is missing")
            reporter.line(f"verify: `{table}` MISSING (the dump creates it)")
            continue
        rows = counts[table]
        ok = expected is None or rows == expected
        tables[table] = {"expected": expected, "rows": rows, "ok": ok}
        if not ok:
            problems.append(f"table `{table}` has {rows} rows, the dump inserted {expected}")
        shown = "not countable from the dump" if expected is None else f"dump: {expected}"
        reporter.line(f"verify: `{table}` {rows} rows ({shown}) {'ok' if ok else 'MISMATCH'}")
    known = {t.lower() for t in census.tables}
    extra = sorted(n for n, kind in present.items() if n.lower() not in known and kind == "BASE TABLE")
    facts = {"tables": tables, "extra_tables": extra, "problems": problems}
    return not problems, facts


def count_rows(
    conn: Any, tables: list[str], reporter: Reporter, connect: Callable[[], Any] | None, parallel: int
) -> dict[str, int]:
    """``SELECT COUNT(*)`` of each table: on ``conn`` alone, or spread over ``parallel`` connections."""
    groups = [tables[i :: max(1, parallel)] for i in range(max(1, parallel))] if connect else [tables]
    groups = [group for group in groups if group]
    counts: dict[str, int] = {}
    failures: list[BaseException] = []

    import pymysql

    def count(group: list[str], own: Any) -> None:
        try:
            with own.cursor() as cur:
                for table in group:
                    if reporter.stop.is_set():
                        raise Stopped()
                    cur.execute(f"SELECT COUNT(*) FROM `{table.replace('`', '``')}`")
                    counts[table] = int(cur.fetchone()[0])
        except (pymysql.MySQLError, OSError, Stopped) as exc:  # raised in the caller's thread
            failures.append(exc)

    extra = []
    try:
        for _ in groups[1:]:
            extra.append(connect())  # type: ignore[misc]
        threads = [threading.Thread(target=count, args=(g, c)) for g, c in zip(groups[1:], extra, strict=True)]
        for thread in threads:
            thread.start()
        count(groups[0] if groups else [], conn)
        for thread in threads:
            thread.join()
    finally:
        for own in extra:
            with contextlib.suppress(Exception):
                own.close()
    if failures:
        raise failures[0]
    return counts


def dump_error_facts(exc: DumpError | StatementFailed) -> dict[str, Any]:
    return {"statement": exc.number, "line": exc.line, "reason": exc.reason}
