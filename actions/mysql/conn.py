"""Reaching the database: its coordinates, the SSH tunnel from the app host, pymysql connections.

Production databases usually accept only the app hosts, so by default the connection goes
through an SSH tunnel from the step's target host. The tunnel's local listener accepts only the
sockets warroom itself opened (checked by their source port), and the SSH host's ability to reach
the database is probed first, so "refused" and "unreachable" are told apart before pymysql runs.
pymysql is imported lazily and used from worker threads only.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from dataclasses import dataclass
from typing import Any

import asyncssh

from console.model.errors import ActionError, AuthError, HostUnreachable

_TARGET = re.compile(r"^(?P<user>[^@/\s]+)@(?P<host>\[[^\]]+\]|[^:/\s]+)(?::(?P<port>\d{1,5}))?/(?P<name>[^/\s]+)$")
CONNECT_TIMEOUT = 15


@dataclass(frozen=True)
class DbTarget:
    user: str
    host: str
    port: int
    name: str

    def __str__(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.name}"


def parse_target(text: str) -> DbTarget | None:
    m = _TARGET.match(text.strip())
    if m is None:
        return None
    return DbTarget(m["user"], m["host"].strip("[]"), int(m["port"] or 3306), m["name"])


class Tunnel:
    """A local listener forwarding to the database through the SSH connection of one host."""

    def __init__(self, conn: asyncssh.SSHClientConnection, db: DbTarget, via: str) -> None:
        self._conn, self._db, self.via = conn, db, via
        self._listener: asyncssh.SSHListener | None = None
        self._allowed: set[int] = set()
        self._lock = threading.Lock()
        self.port = 0

    async def open(self, where: str) -> None:
        try:
            _reader, writer = await self._conn.open_connection(self._db.host, self._db.port)
        except asyncssh.ChannelOpenError as exc:
            raise HostUnreachable(
                f"{where}: host {self.via} cannot reach the database at {self._db.host}:{self._db.port} "
                f"through its SSH tunnel: {exc.reason or 'channel refused'}"
            ) from None
        writer.close()
        self._listener = await self._conn.forward_local_port("127.0.0.1", 0, self._db.host, self._db.port, self._accept)
        self.port = self._listener.get_port()

    def _accept(self, _host: str, port: int) -> bool:
        with self._lock:
            return port in self._allowed

    def socket(self) -> socket.socket:
        """A socket connected to the tunnel (worker thread); only such sockets are forwarded."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", 0))
            with self._lock:
                self._allowed.add(sock.getsockname()[1])
            sock.settimeout(CONNECT_TIMEOUT)
            sock.connect(("127.0.0.1", self.port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            sock.close()
            raise
        return sock

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None


@dataclass
class Endpoint:
    """Everything needed to open a connection from a worker thread."""

    db: DbTarget
    password: str
    tunnel: Tunnel | None
    where: str

    @property
    def route(self) -> str:
        return f"via SSH from {self.tunnel.via}" if self.tunnel else "direct"

    def describe(self) -> str:
        return f"{self.db} ({self.route})"

    def connect(self, *, database: bool = True) -> Any:
        """A pymysql connection with autocommit, as the mysql client has; errors become typed."""
        import pymysql
        from pymysql.constants import CLIENT

        options: dict[str, Any] = {
            "host": self.db.host,
            "port": self.db.port,
            "user": self.db.user,
            "password": self.password,
            "database": self.db.name if database else None,
            "charset": "utf8mb4",
            "autocommit": True,
            "connect_timeout": CONNECT_TIMEOUT,
            "local_infile": False,
            "defer_connect": True,
            "client_flag": CLIENT.MULTI_STATEMENTS,
        }
        conn = pymysql.connect(**options)
        try:
            conn.connect(self.tunnel.socket() if self.tunnel else None)
        except pymysql.MySQLError as exc:
            raise self.error(exc) from None
        except OSError as exc:
            raise HostUnreachable(f"{self.where}: cannot reach the database {self.describe()}: {exc}") from None
        return conn

    def error(self, exc: BaseException) -> ActionError:
        """A one-line, password-free error naming host, user and database."""
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
        db = self.db
        at = f"{db.host}:{db.port} ({self.route})"
        if code == 1045:
            return AuthError(
                f"{self.where}: the database at {at} refused user {db.user!r} for database {db.name!r}: "
                "access denied (wrong password in the config's secret?)"
            )
        if code == 1044:
            return AuthError(f"{self.where}: user {db.user!r} may not use database {db.name!r} at {at}")
        if code == 1049:
            return ActionError(f"{self.where}: database {db.name!r} does not exist at {at}")
        if code in (2003, 2006, 2013):
            return HostUnreachable(f"{self.where}: lost or no connection to the database at {at}: {message(exc)}")
        return ActionError(f"{self.where}: database {self.describe()}: {message(exc)}")

    def kill_query(self, thread_id: int) -> None:
        """Interrupt the statement another connection is running (cancel, timeout)."""
        with contextlib.suppress(Exception):
            conn = self.connect(database=False)
            try:
                with conn.cursor() as cur:
                    cur.execute(f"KILL QUERY {int(thread_id)}")
            finally:
                conn.close()


def message(exc: BaseException) -> str:
    """pymysql's ``(code, text)`` as ``text (code)``; never includes the password."""
    if len(exc.args) >= 2 and isinstance(exc.args[0], int):
        return f"{exc.args[1]} (error {exc.args[0]})"
    return str(exc) or type(exc).__name__
