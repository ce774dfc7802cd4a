"""Reach a port on a host's own loopback through its pooled SSH connection.

A health endpoint often listens only on the host's localhost (the seed's ``curl -f
http://localhost:8000/api/v1/health`` runs ON the host). asyncssh forwards a local ephemeral port
to it; the request then goes to 127.0.0.1:<that port> while keeping the original Host header and
TLS server name. The forwarder swallows why a channel could not be opened, so :meth:`diagnose`
asks again over a direct channel to say "connection refused" rather than "server disconnected".
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncssh

from actions.urls import Origin

DIAGNOSE_TIMEOUT = 5.0


class Tunnel:
    """Forwarded ports over one SSH connection, one listener per remote (host, port), opened lazily."""

    def __init__(self, conn: Any, target_name: str) -> None:
        self._conn = conn
        self.target = target_name
        self._listeners: dict[tuple[str, int], Any] = {}

    async def local_port(self, remote: Origin) -> int:
        key = (remote.host, remote.port)
        listener = self._listeners.get(key)
        if listener is None:
            listener = await self._conn.forward_local_port("127.0.0.1", 0, remote.host, remote.port)
            self._listeners[key] = listener
        return listener.get_port()

    async def diagnose(self, remote: Origin) -> str | None:
        """Why the host cannot reach ``remote`` (e.g. "connection refused"), or None if it can."""
        try:
            _, writer = await asyncio.wait_for(
                self._conn.open_connection(remote.host, remote.port), timeout=DIAGNOSE_TIMEOUT
            )
        except asyncssh.ChannelOpenError as exc:
            reason = (exc.reason or "channel refused").strip()
            return reason[0].lower() + reason[1:] if reason else "channel refused"
        except TimeoutError:
            return f"no TCP connection within {DIAGNOSE_TIMEOUT:g}s"
        except (OSError, asyncssh.Error) as exc:
            return f"SSH connection problem: {exc}"
        writer.close()
        return None

    async def close(self) -> None:
        listeners, self._listeners = list(self._listeners.values()), {}
        for listener in listeners:
            listener.close()
        for listener in listeners:
            with contextlib.suppress(Exception):
                await listener.wait_closed()
