"""A fresh machine: ``init`` then ``plan`` work without ~/.ssh; the key files are checked when a
host is reached (and by ``check``), in one line naming the host and the key."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fresh_machine_support import warroom

from actions.transport import ConnectionPool, reach
from console.model.errors import AuthError, HostKeyError
from console.model.plan import Target


def test_init_then_plan_work_with_an_empty_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    assert warroom(home, "init", "-o", "config.toml").returncode == 0
    planned = warroom(home, "plan", "-c", "config.toml")
    assert planned.returncode == 0, planned.stderr
    assert "app1$ cd /CHANGE-ME/salonmanager/backend && php artisan down" in planned.stdout
    assert not (home / ".ssh").exists()
    checked = warroom(home, "check", "-c", "config.toml")  # check reaches the hosts: there it is said
    assert checked.returncode == 1 and "Traceback" not in checked.stderr
    unset = next(line for line in checked.stdout.splitlines() if "value vars.app.root" in line)
    assert "FAIL: still the starter's CHANGE-ME: set it in config.toml" in unset  # init's marks are not values
    row = next(line for line in checked.stdout.splitlines() if line.startswith("app1"))
    assert f"hosts.app1.known_hosts: file {home}/.ssh/known_hosts does not exist" in row


def target(tmp_path: Path, known_hosts: Path, identity: Path | None = None) -> Target:
    return Target("app1", "127.0.0.1", 1, "deploy", str(identity) if identity else None, str(known_hosts), 2.0)


@pytest.mark.parametrize(
    ("known", "identity", "stage", "words"),
    [
        ("missing", None, HostKeyError, "hosts.app1.known_hosts: file {known} does not exist"),
        ("directory", None, HostKeyError, "hosts.app1.known_hosts: file {known} is a directory, not a file"),
        ("dangling", None, HostKeyError, "hosts.app1.known_hosts: file {known} is a dangling symlink"),
        ("file", "missing", AuthError, "hosts.app1.identity_file: file {identity} does not exist"),
    ],
)
def test_key_files_are_checked_when_a_host_is_reached(tmp_path, known, identity, stage, words):
    paths = {"file": tmp_path / "known_hosts", "missing": tmp_path / "nope", "directory": tmp_path}
    paths["dangling"] = tmp_path / "dangling"
    paths["dangling"].symlink_to(tmp_path / "nowhere")
    paths["file"].write_text("")
    known_path, identity_path = paths[known], paths[identity] if identity else None
    with pytest.raises(stage) as raised:
        asyncio.run(reach(ConnectionPool(), target(tmp_path, known_path, identity_path)))
    message = str(raised.value)
    assert message.startswith("host app1 (deploy@127.0.0.1:1): ")
    assert words.format(known=known_path, identity=identity_path) in message and "\n" not in message
