"""What one SSH client may cost the war room server: bounds on connections, sessions, env and windows.

A key holder's mistake (or a hostile client before it has logged in) must not exhaust the
server's file descriptors or memory, nor take every session slot from the people who drive.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import asyncssh

log = logging.getLogger("warroom.sshserver")

MAX_COLUMNS = 1024  # wider or taller than any real screen; TIOCSWINSZ itself stops at 65535
MAX_ROWS = 1024
MAX_PIXELS = 65535
ACCEPTED_ENV = frozenset({b"COLORTERM", b"NO_COLOR"})  # all a session's console reads of the client's env
ENV_VALUE_LIMIT = 64
SESSION_WINDOW = 256 * 1024  # keyboard bytes a client may have in flight before its session stops reading
CHANNELS_PER_CONNECTION = 10  # OpenSSH's MaxSessions


def clamp_size(cols: int, rows: int, xpixels: int = 0, ypixels: int = 0) -> tuple[int, int, int, int]:
    """A window size the kernel accepts: 0 means "unknown" (80x24), anything past a screen is cut."""
    return (
        min(cols, MAX_COLUMNS) or 80,
        min(rows, MAX_ROWS) or 24,
        min(xpixels, MAX_PIXELS),
        min(ypixels, MAX_PIXELS),
    )


class EnvFilteringChannel(asyncssh.SSHServerChannel):
    """asyncssh keeps every ``env`` request a client sends, of any size and number, with no hook to
    refuse one; this channel replaces that one request handler and keeps only what a console reads."""

    @classmethod
    def adopt(cls, chan: asyncssh.SSHServerChannel) -> EnvFilteringChannel:
        """The channel ``create_server_channel`` built (asyncssh's public way), with this handler."""
        chan.__class__ = cls
        return chan  # type: ignore[return-value]

    def _process_env_request(self, packet) -> bool:
        key = packet.get_string()
        value = packet.get_string()
        packet.check_end()
        return accept_env(self._env, key, value)


def accept_env(env: dict[bytes, bytes], key: bytes, value: bytes) -> bool:
    if key not in ACCEPTED_ENV or len(value) > ENV_VALUE_LIMIT:
        return False
    env[key] = value
    return True


@dataclass
class SessionLimits:
    """Session slots: a total, a share per user, and slots only driver-eligible users may take."""

    total: int
    per_user: int
    driver_reserved: int
    unauthenticated: int
    held: Counter[str] = field(default_factory=Counter)
    """Open sessions per user name."""
    connected: Counter[str] = field(default_factory=Counter)
    """Logged-in connections per user name (each may carry sessions)."""
    observers: int = 0
    pending: int = 0
    """Connections that have not logged in yet."""
    dropped: int = 0

    def refusal(self, name: str, role: str) -> str | None:
        """Why ``name`` may not open one more session now, or None."""
        if sum(self.held.values()) >= self.total:
            return f"too many sessions on this server ({self.total}); try again later"
        if self.held[name] >= self.per_user:
            return f"{name} already has {self.per_user} sessions open (server.max_sessions_per_user); close one first"
        if role != "driver" and self.observers >= self.total - self.driver_reserved:
            return "every session slot open to observers is taken; try again later"
        return None

    def take(self, name: str, role: str) -> None:
        self.held[name] += 1
        self.observers += role != "driver"

    def give_back(self, name: str, role: str) -> None:
        self.held[name] -= 1
        if self.held[name] <= 0:
            del self.held[name]
        self.observers -= role != "driver"

    def admit_unauthenticated(self, peer: str) -> bool:
        if self.pending >= self.unauthenticated:
            self.dropped += 1
            if self.dropped % 100 == 1:  # a flood must not flood the log too
                log.warning("dropped a connection from %s: %d are already logging in", peer, self.pending)
            return False
        self.pending += 1
        return True

    def logged_in_or_gone(self) -> None:
        self.pending -= 1

    def connect(self, name: str) -> str | None:
        """Count a logged-in connection of ``name``, or say why it may not have one more."""
        if self.connected[name] >= self.per_user:
            return f"{name} already has {self.per_user} connections open (server.max_sessions_per_user)"
        self.connected[name] += 1
        return None

    def disconnect(self, name: str) -> None:
        self.connected[name] -= 1
        if self.connected[name] <= 0:
            del self.connected[name]


__all__ = ["EnvFilteringChannel", "SessionLimits", "accept_env", "clamp_size"]
