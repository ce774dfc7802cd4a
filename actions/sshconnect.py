"""SSH connections to hosts: one per host, opened on first use and reused across steps, each
host key checked against that host's own known_hosts only, hosts behind a bastion tunnelled
through the bastion's one connection (shared by every host behind it).

No OpenSSH client config is read here (``config=None``): asyncssh would otherwise fall back on
``~/.ssh/config``, and what ``check`` verified would not be what a run does. Aliases from an
OpenSSH config are resolved, explicitly, when the plan is built (:mod:`console.model.hosts`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncssh
from asyncssh.encryption import get_default_encryption_algs

from console.model.config import unreadable
from console.model.errors import ActionError, AuthError, HostKeyError, HostUnreachable, SecretError
from console.model.hosts import Target
from console.model.sanitize import neutralise
from console.model.secrets import Redactor, resolve_ref

PassphrasePrompt = Callable[[Target, str], Awaitable[str | None]]
"""Asks a person for an identity file's passphrase (the console); None: nobody to ask."""
Reconnected = Callable[[Target, str], None]
"""Told when a host's connection was lost since its last use and has been opened again."""

_prompt: PassphrasePrompt | None = None
_passphrases: dict[str, str] = {}
"""Passphrases a person typed, by identity file: asked once per process, kept only in memory."""
_asking: dict[tuple[int, str], asyncio.Lock] = {}
"""One question per identity file at a time: the hosts sharing a key wait for the one answer."""


GCM = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
CIPHERS = [
    *(c for c in GCM if c.encode() in get_default_encryption_algs()),
    *(c.decode() for c in get_default_encryption_algs() if c.decode() not in GCM),
]
"""asyncssh's ciphers with AES-GCM first (chacha20-poly1305 leads by default): with AES-NI it
costs about a third less CPU per byte on both ends, which a 200 MB restore through the tunnel
feels (benchmarks/mysql_restore.py); every cipher still offered is one OpenSSH accepts."""


def set_passphrase_prompt(prompt: PassphrasePrompt | None) -> None:
    """The console registers how to ask for a passphrase; headless runs take a secret reference."""
    global _prompt
    _prompt = prompt


def said(exc: BaseException) -> str:
    """An exception's text as warroom may show it: a server chooses a disconnect reason (and
    sends it before its host key is checked), so its control sequences are neutralised here."""
    return neutralise(str(exc)) or type(exc).__name__


def describe(target: Target) -> str:
    return f"host {target.name} ({target.route()})"


class ConnectionPool:
    """One SSH connection per host, opened on first use and reused across steps; a bastion's
    connection carries the tunnels of every host behind it. A connection found closed when a step
    wants it (lost between steps) is opened again and told to the caller's ``reconnected``."""

    def __init__(self) -> None:
        self._conns: dict[str, asyncssh.SSHClientConnection] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._finished: Counter[str] = Counter()
        """Connection attempts ended (opened or failed) per host."""
        self._failed: dict[str, ActionError] = {}
        self.opened: Counter[str] = Counter()
        """Connections opened per host (a fan-out behind one bastion opens it once)."""

    async def get(self, target: Target, *, reconnected: Reconnected | None = None) -> asyncssh.SSHClientConnection:
        """The host's connection, opened (through its bastions) if it has none or lost it; a lost
        one (a bastion's too) is told to ``reconnected`` once it is open again. Callers that waited
        while an attempt failed get its error rather than a new attempt each: 30 hosts behind a
        dead bastion cost one connect timeout, not thirty in a row."""
        name = target.name
        lock = self._locks.setdefault(name, asyncio.Lock())
        finished_before = self._finished[name]
        async with lock:
            conn = self._conns.get(name)
            if conn is not None and not conn.is_closed():
                return conn
            failed = self._failed.get(name)
            if failed is not None and self._finished[name] != finished_before:  # failed while we waited
                raise type(failed)(str(failed))
            try:
                tunnel = await self._bastion(target, reconnected) if target.jump is not None else None
                new = await connect(target, tunnel=tunnel)
            except ActionError as exc:
                self._failed[name] = exc
                raise
            finally:
                self._finished[name] += 1
            self._failed.pop(name, None)
            self._conns[name] = new
            self.opened[target.name] += 1
            if conn is not None and reconnected is not None:
                reconnected(target, f"the connection to {describe(target)} was lost since its last use; reconnected")
            return new

    async def _bastion(self, target: Target, reconnected: Reconnected | None) -> asyncssh.SSHClientConnection:
        assert target.jump is not None
        try:
            return await self.get(target.jump, reconnected=reconnected)
        except ActionError as exc:
            raise type(exc)(f"host {target.name}: cannot reach its bastion: {exc}") from None

    async def close(self) -> None:
        conns, self._conns = list(self._conns.values()), {}
        for conn in reversed(conns):  # the hosts behind a bastion before the bastion
            conn.close()
        for conn in conns:
            with contextlib.suppress(Exception):
                await conn.wait_closed()


async def connect(
    target: Target, *, tunnel: asyncssh.SSHClientConnection | None = None
) -> asyncssh.SSHClientConnection:
    """Connect with the host key checked against known_hosts; failures become typed errors."""
    check_files(target)
    options: dict = {
        "port": target.port,
        "username": target.user,
        "known_hosts": target.known_hosts,
        "connect_timeout": target.connect_timeout,
        "keepalive_interval": target.keepalive or None,
        "keepalive_count_max": 3,
        "config": None,  # never ~/.ssh/config behind the user's back (see the module's docstring)
        "encryption_algs": CIPHERS,
    }
    if tunnel is not None:
        options["tunnel"] = tunnel
    if target.identity_file:
        options["client_keys"] = [target.identity_file]
        options["agent_path"] = None
        options["passphrase"] = _passphrase(target)
    try:
        return await _connect(target, options)
    except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as exc:
        if target.identity_file and _encrypted(exc) and not target.passphrase:
            typed = await _ask(target)
            if typed is not None:
                return await _connect(target, {**options, "passphrase": typed}, asked=True)
            raise AuthError(
                f"{describe(target)}: identity file {target.identity_file} is encrypted: set "
                f'hosts.{target.name}.passphrase = "env:NAME" (or run the console, which asks for it)'
            ) from None
        raise _key_problem(target, exc, given=bool(options.get("passphrase"))) from None


async def _connect(target: Target, options: dict, *, asked: bool = False) -> asyncssh.SSHClientConnection:
    try:
        conn = await asyncssh.connect(target.address, **options)
    except asyncssh.HostKeyNotVerifiable as exc:
        raise HostKeyError(_host_key_problem(target, exc)) from None
    except asyncssh.PermissionDenied:
        raise AuthError(
            f"{describe(target)}: authentication refused for user {target.user!r}"
            + (f" with key {target.identity_file}" if target.identity_file else " (agent and default keys)")
        ) from None
    except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError):
        if asked:
            _passphrases.pop(str(target.identity_file), None)
            raise AuthError(
                f"{describe(target)}: the passphrase typed does not decrypt {target.identity_file}"
            ) from None
        raise
    except asyncssh.ChannelOpenError as exc:
        via = target.jump.name if target.jump else "?"
        raise HostUnreachable(
            f"{describe(target)}: bastion {via} could not open a tunnel to {target.address}:{target.port}: "
            f"{said(exc)} (its sshd must allow TCP forwarding, and reach the host)"
        ) from None
    except (OSError, TimeoutError, asyncssh.Error) as exc:
        raise HostUnreachable(f"{describe(target)}: cannot connect: {said(exc)}") from None
    except ValueError as exc:  # asyncssh checks its options (keys, algorithms) with ValueError
        raise AuthError(f"{describe(target)}: cannot set up the connection: {said(exc)}") from None
    if asked:
        _passphrases[str(target.identity_file)] = options["passphrase"]
    return conn


def _passphrase(target: Target) -> str | None:
    if target.passphrase:
        where = f"hosts.{target.name}.passphrase"
        try:
            return resolve_ref(target.passphrase, where=where, redactor=Redactor())
        except SecretError as exc:
            raise AuthError(f"{describe(target)}: {exc}") from None
    return _passphrases.get(str(target.identity_file))


async def _ask(target: Target) -> str | None:
    if _prompt is None:
        return None
    path = str(target.identity_file)
    # per event loop: a lock one loop waited on cannot serve the next (the gate and a run may each
    # have their own asyncio.run)
    async with _asking.setdefault((id(asyncio.get_running_loop()), path), asyncio.Lock()):
        if path not in _passphrases:
            typed = await _prompt(target, path)
            if typed is None:
                return None
            _passphrases[path] = typed  # forgotten again if it does not decrypt the key
        return _passphrases[path]


def _encrypted(exc: Exception) -> bool:
    return "passphrase" in str(exc).lower()


def _key_problem(target: Target, exc: Exception, *, given: bool) -> AuthError:
    if given and ("decrypt" in str(exc).lower() or "passphrase" in str(exc).lower()):
        source = f"hosts.{target.name}.passphrase" if target.passphrase else "the passphrase typed"
        return AuthError(f"{describe(target)}: {source} does not decrypt identity file {target.identity_file}")
    return AuthError(f"{describe(target)}: cannot load identity file {target.identity_file}: {said(exc)}")


def check_files(target: Target) -> None:
    """The host's known_hosts and identity file must be readable files: checked when a host is
    reached (and by ``warroom check``), so a plan works on a machine without them."""
    known = unreadable(Path(target.known_hosts))
    if known:
        raise HostKeyError(f"{describe(target)}: hosts.{target.name}.known_hosts: file {target.known_hosts} {known}")
    if target.identity_file:
        identity = unreadable(Path(target.identity_file))
        if identity:
            raise AuthError(
                f"{describe(target)}: hosts.{target.name}.identity_file: file {target.identity_file} {identity}"
            )


def _host_key_problem(target: Target, exc: Exception) -> str:
    try:
        known = asyncssh.read_known_hosts(target.known_hosts)
        trusted, ca_keys = known.match(target.address, target.address, target.port)[:2]
    except (OSError, ValueError):
        trusted, ca_keys = [], []
    if trusted or ca_keys:
        what = "host key" if trusted else "host key or certificate (not signed by the @cert-authority there)"
        return (
            f"{describe(target)}: {what} CHANGED — it does not match {target.known_hosts}; "
            "refusing to connect (possible man-in-the-middle); verify the new key out of band"
        )
    return (
        f"{describe(target)}: host key unknown — no entry in {target.known_hosts}; "
        f"verify its fingerprint out of band and add it (ssh-keyscan -p {target.port} {target.address})"
    )
