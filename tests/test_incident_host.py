"""The incident host started and closed for real (engine, socket, SSH server on loopback): every part
is closed whatever fails, a refused socket leaves other people's files alone, and the seat can be
handed to whoever serves the incident."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import asyncssh
import pytest
from conftest import ALICE, BOB, REPO
from serve_support import free_port

from console.engine import Engine
from console.host.attach import POINTER_NAME, socket_path_for
from console.host.incident_host import IncidentHost, Sharing
from console.host.ptyzygote import ForkServer
from console.host.remote import RemoteSession
from console.model.config import LoadedConfig, load_config
from console.model.errors import IncidentError, WarroomError

ENTRY = "console.cli"


def _config(tmp_path: Path, *, users: dict[str, str] | None = None, port: int | None = None) -> LoadedConfig:
    """The engine fixture's hosts, plus a ``[server]`` with ``users`` (fresh keys) on ``port``."""
    known = tmp_path / "host_known"
    known.write_text("")
    text = (
        f'[environment]\nname = "t"\n\n[hosts.h1]\naddress = "127.0.0.1"\nuser = "root"\nknown_hosts = "{known}"\n\n'
        '[groups]\napp = ["h1"]\n\n'
        f'[server]\nhost_key = "{tmp_path / "server" / "host_key"}"\nport = {port or free_port()}\n'
    )
    for name, role in (users or {}).items():
        key = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
        text += f'\n[[server.users]]\nname = "{name}"\nrole = "{role}"\npublic_keys = ["{key}"]\n'
    path = tmp_path / "host.toml"
    path.write_text(text)
    return load_config(path)


def _watchers() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if getattr(t.get_coro(), "__name__", "") == "watch_deadlines"]


async def _released(engine: Engine) -> None:
    """The incident's lock is free: another engine can resume it."""
    resumed = Engine.resume(engine.directory, ALICE)
    await resumed.aclose()


def _refused(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


# ----- closing ------------------------------------------------------------------------------------------
async def test_a_part_that_fails_to_close_does_not_keep_the_others_open(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("WARROOM_SSH_SPAWN", "exec")  # no fork server: this test is about closing
    config = _config(tmp_path, users={"alice": "driver"})
    host = IncidentHost(engine, ALICE, config, Sharing(ssh=True, session_entry=ENTRY))
    await host.start()
    assert host.attach is not None and host.ssh_port is not None and _watchers()
    pointer = engine.directory / POINTER_NAME
    assert pointer.is_file() and not _refused(host.ssh_port)
    host.attach.path.unlink()
    host.attach.path.mkdir()  # the socket's path is a directory now: removing it fails
    try:
        with pytest.raises(IsADirectoryError):
            await host.aclose()
        assert _refused(host.ssh_port)  # the SSH server closed before,
        assert not pointer.exists()  # the pointer removed despite the socket,
        assert not _watchers()  # the watcher ended (awaited, not only cancelled)
        await _released(engine)  # and the engine closed after
    finally:
        host.attach.path.rmdir()
    await host.aclose()  # closed once


async def test_a_failure_in_the_middle_of_start_closes_what_had_started(engine, tmp_path):
    host = IncidentHost(engine, ALICE, _config(tmp_path), Sharing(strict=False))
    seen: list[Path] = []

    def on_socket(host: IncidentHost) -> None:
        assert host.attach is not None
        seen.append(host.attach.path)
        raise RuntimeError("the terminal went away")

    with pytest.raises(RuntimeError, match="went away"):  # not a sharing failure: even lenient, it stops
        await host.start(on_socket=on_socket)
    assert seen and not seen[0].exists() and not (engine.directory / POINTER_NAME).exists()
    assert not _watchers()
    await _released(engine)
    await host.aclose()  # start closed it already


async def test_a_taken_ssh_port_stops_a_strict_host_and_closes_its_socket(engine, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = _config(tmp_path, users={"alice": "driver"}, port=port)
        host = IncidentHost(engine, ALICE, config, Sharing(ssh=True, session_entry=ENTRY))
        with pytest.raises(WarroomError, match=f"cannot listen on 127.0.0.1:{port}"):
            await host.start()
    assert host.ssh is None and not socket_path_for(engine.directory).exists()
    assert not (engine.directory / POINTER_NAME).exists() and not _watchers()
    await _released(engine)


async def test_a_socket_refused_at_start_leaves_the_files_that_are_not_its_own(engine, tmp_path):
    path = socket_path_for(engine.directory)
    path.write_text("somebody's file")
    pointer = engine.directory / POINTER_NAME
    pointer.write_text("/somewhere/else.sock\n")
    host = IncidentHost(engine, ALICE, _config(tmp_path), Sharing())
    with pytest.raises(IncidentError, match="not a socket"):
        await host.start()
    assert path.read_text() == "somebody's file"
    assert pointer.read_text() == "/somewhere/else.sock\n"
    await _released(engine)


# ----- what sharing needs -------------------------------------------------------------------------------
def test_serving_ssh_needs_a_session_entry():
    for ssh in (None, True):
        with pytest.raises(WarroomError, match="needs a session entry") as caught:
            Sharing(ssh=ssh)
        assert caught.value.title == "Cannot serve SSH"
    assert Sharing().session_entry == ""  # no SSH: no entry needed
    assert Sharing(ssh=None, session_entry=ENTRY, session_preload=("json",)).session_preload == ("json",)


async def test_the_seat_can_be_handed_to_the_serving_actor_and_config_users_without_ssh(engine, tmp_path):
    config = _config(tmp_path, users={"carol": "driver", "olive": "observer"})
    host = IncidentHost(engine, ALICE, config, Sharing())  # the config has users, SSH is not served
    async with host:
        assert host.ssh is None and host.attach is not None
        bob = await RemoteSession.connect(host.attach.path, token=host.attach.issue_token(BOB))
        try:
            await bob.command("take-seat")
            await bob.command("hand-over", to="alice")  # the one who serves it is a driver
        finally:
            await bob.aclose()
        assert engine.state.driver == "alice"
        alice = host.session()
        await alice.command("hand-over", to="carol")  # a config user, though nobody serves SSH
        assert engine.state.driver == "carol"
    assert engine.users == {"alice": "driver", "bob": "driver", "carol": "driver", "olive": "observer"}


async def test_serve_without_server_users_still_hands_the_seat_to_the_serving_actor(engine, tmp_path):
    host = IncidentHost(engine, ALICE, _config(tmp_path), Sharing(ssh=None, session_entry=ENTRY))
    async with host:
        assert host.ssh is None  # no [[server.users]]: no SSH
        assert host.attach is not None
        bob = await RemoteSession.connect(host.attach.path, token=host.attach.issue_token(BOB))
        try:
            await bob.command("take-seat")
            await bob.command("hand-over", to="alice")
        finally:
            await bob.aclose()
        assert engine.state.driver == "alice"


# ----- the fork server's preload ------------------------------------------------------------------------
PROBE = """
import sys

SESSION_PRELOAD = ("probe_unwanted",)  # the entry's own list: never read by the fork server


def main(argv):
    loaded = sorted(name for name in sys.modules if name.startswith("probe_"))
    with open(argv[0], "w") as out:
        out.write(" ".join(loaded))
    return 0
"""


async def test_the_fork_server_imports_the_preload_it_is_handed_not_the_entrys(tmp_path):
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "probe_entry.py").write_text(PROBE)
    (modules / "probe_wanted.py").write_text("")
    (modules / "probe_unwanted.py").write_text("")
    env = {"PYTHONPATH": f"{modules}{os.pathsep}{REPO}", "PATH": os.environ.get("PATH", "")}
    forks = ForkServer()
    await forks.start(env, "probe_entry", ("probe_wanted",))
    master, slave = os.openpty()
    try:
        child = await forks.spawn(slave, [str(tmp_path / "loaded")], env)
        assert await asyncio.wait_for(child.wait(), 30) == 0
    finally:
        os.close(slave)
        os.close(master)
        await forks.close()
    assert (tmp_path / "loaded").read_text() == "probe_entry probe_wanted"
