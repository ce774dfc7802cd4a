"""Sending batches of INSERTs one ahead of the server, without losing stop-at-first-error.

pymysql waits for each response before it sends the next command, so the next batch only starts
travelling when the previous one is done. Through an SSH tunnel that costs a transfer and often a
delayed-ACK stall (sshd does not set TCP_NODELAY on forwarded sockets) per round trip, during
which the server idles. Here the next multi-statement batch is written while the server still
executes the one before. Each batch opens with a guard that fails unless the previous batch ran
to its end, and closes by recording that it did, so after a refused statement nothing later runs.

This uses pymysql's packet layer (``_write_bytes``, ``_next_seq_id``, ``_read_query_result``,
``_result``); tests/test_mysql_*.py exercises every path of it against a real server.
"""

from __future__ import annotations

import struct
from collections import deque
from typing import Any

from actions.mysql.sql_split import Statement

COM_QUERY = 3
MAX_PACKET = (1 << 24) - 1
GUARD_FAILED = 1242  # ER_SUBQUERY_NO_1_ROW: the guard's way of saying "the batch before failed"
_JOIN = b"\n;\n"  # a newline before each ';': a statement may end in a '#' or '-- ' comment


class BatchFailed(Exception):
    """A statement of a batch was refused; ``index`` is its position in the batch."""

    def __init__(self, batch: list[Statement], index: int, exc: BaseException) -> None:
        super().__init__(str(exc))
        self.statement, self.cause, self.applied = batch[index], exc, batch[index - 1].number if index else 0


class Pipeline:
    """At most one batch queued behind the one the server is executing."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.serial = 0
        self.inflight: deque[tuple[int, list[Statement]]] = deque()
        self.applied = 0
        with conn.cursor() as cur:
            cur.execute("SET @warroom_batch = 0")

    def send(self, batch: list[Statement]) -> None:
        """Write a batch; then collect the older one's results if two are outstanding."""
        self.serial += 1
        # Two rows in a scalar subquery (error 1242) unless the previous batch recorded its end.
        # (DO would not do: MariaDB does not evaluate the subquery of a DO.)
        guard = b"SET @warroom_guard = (SELECT 1 UNION ALL SELECT 1 FROM DUAL WHERE NOT (@warroom_batch <=> %d))" % (
            self.serial - 1
        )
        payload = _JOIN.join([guard, *(s.text for s in batch), b"SET @warroom_batch = %d" % self.serial])
        if len(payload) + 1 >= MAX_PACKET:
            raise ValueError("batch too large for one packet")
        self.conn._write_bytes(struct.pack("<iB", len(payload) + 1, COM_QUERY) + payload)
        self.inflight.append((self.serial, batch))
        if len(self.inflight) > 1:
            self.receive()

    def receive(self) -> None:
        """Read the oldest outstanding batch's results; raise :class:`BatchFailed` on a refusal."""
        import pymysql

        _, batch = self.inflight.popleft()
        conn = self.conn
        conn._next_seq_id = 1
        done = 0
        try:
            conn._read_query_result()
            done = 1
            while conn._result is not None and conn._result.has_next:
                conn.next_result()
                done += 1
        except pymysql.MySQLError as exc:
            self._discard()
            if done == 0:  # the guard: an earlier batch failed (reported already) or the query was killed
                raise BatchFailed([batch[0]], 0, exc) from None
            index = min(done - 1, len(batch) - 1)
            raise BatchFailed(batch, index, exc) from None
        self.applied = batch[-1].number

    def drain(self) -> None:
        while self.inflight:
            self.receive()

    def _discard(self) -> None:
        """After a failure: read (and ignore) the refusals of batches already sent."""
        import pymysql

        while self.inflight:
            self.inflight.popleft()
            self.conn._next_seq_id = 1
            try:
                self.conn._read_query_result()
            except pymysql.MySQLError:
                continue
