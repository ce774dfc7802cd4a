"""The built-in SSH server in-process, its sessions running tests/ssh_console_stub.py, and asyncssh
clients that misbehave on purpose: the tests read the server's own file descriptors and memory."""

from __future__ import annotations

import asyncio
import gc
import time
from pathlib import Path

import asyncssh

from console.host.attach import AttachServer
from console.host.sshserver import SessionServer
from console.model.config import load_config

TESTS = Path(__file__).parent
USERS = {"alice": "driver", "olive": "observer", "oscar": "observer"}


def open_fds() -> int:
    return sum(1 for _ in Path("/proc/self/fd").iterdir())


def rss_mb() -> float:
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


class Client(asyncssh.SSHClientSession):
    """One session seen from the client: everything it received, and when it ended."""

    def __init__(self) -> None:
        self.output = bytearray()
        self.ended = asyncio.Event()
        self.chan: asyncssh.SSHClientChannel | None = None

    def connection_made(self, chan) -> None:
        self.chan = chan

    def data_received(self, data: bytes, datatype) -> None:
        self.output += data

    def connection_lost(self, exc) -> None:
        self.ended.set()

    async def wait_for(self, text: bytes, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            assert time.monotonic() < deadline, f"{text!r} never came; got {bytes(self.output[-300:])!r}"
            assert not self.ended.is_set() or text in self.output, f"session ended: {bytes(self.output[-300:])!r}"
            await asyncio.sleep(0.02)

    async def round_trip(self, word: bytes) -> float:
        """Seconds for ``word`` to come back from the stub's echo."""
        assert self.chan is not None
        start = time.monotonic()
        self.chan.write(word)
        await self.wait_for(word, timeout=10)
        return time.monotonic() - start


class Room:
    def __init__(self, server: SessionServer, port: int, keys: dict[str, asyncssh.SSHKey]) -> None:
        self.server, self.port, self.keys = server, port, keys

    async def connect(self, user: str) -> asyncssh.SSHClientConnection:
        return await asyncssh.connect(
            "127.0.0.1", self.port, username=user, client_keys=[self.keys[user]], known_hosts=None
        )

    async def session(
        self, conn: asyncssh.SSHClientConnection, size: tuple[int, int] = (80, 24), env: dict | None = None
    ) -> Client:
        _, client = await conn.create_session(
            Client, term_type="xterm", term_size=size, request_pty="force", encoding=None, env=env or {}
        )
        return client

    def server_session(self, name: str):
        (found,) = [s for s in self.server.sessions if s.actor.name == name]
        return found

    async def wait_idle(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while self.server.sessions:
            assert time.monotonic() < deadline, f"{len(self.server.sessions)} sessions never ended"
            await asyncio.sleep(0.05)


async def start_room(tmp_path: Path, engine, server_settings: dict[str, int]) -> Room:
    keys = {name: asyncssh.generate_private_key("ssh-ed25519") for name in USERS}
    users = "".join(
        f'\n[[server.users]]\nname = "{name}"\nrole = "{role}"\n'
        f'public_keys = ["{keys[name].export_public_key().decode().strip()}"]\n'
        for name, role in USERS.items()
    )
    # a console each: the stub console stands for the one an observer gets on their first key
    settings = "".join(f"{key} = {value}\n" for key, value in {"shared_views": "false", **server_settings}.items())
    known = tmp_path / "known"
    known.write_text("")
    cfg = tmp_path / "ssh.toml"
    cfg.write_text(
        f'[environment]\nname = "t"\nstate_dir = "{tmp_path / "state"}"\n\n'
        f'[hosts.h1]\naddress = "127.0.0.1"\nuser = "root"\nknown_hosts = "{known}"\n\n[groups]\napp = ["h1"]\n\n'
        f'[server]\nhost_key = "{tmp_path / "host_key"}"\n{settings}{users}'
    )
    server = SessionServer(load_config(cfg), AttachServer(engine, tmp_path / "a.sock"), "ssh_console_stub")
    port = await server.start("127.0.0.1", 0)
    return Room(server, port, keys)
