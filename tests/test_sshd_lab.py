"""The SSH lab must behave like real hosts, or every SSH integration test built on it lies."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sshd import SSHHost, SSHLab

pytestmark = pytest.mark.sshd


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[SSHLab]:
    with SSHLab(tmp_path / "lab") as lab:
        yield lab


def run_ssh(
    lab: SSHLab, host: SSHHost, command: str, *, known_hosts: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        lab.ssh_argv(host, command, known_hosts=known_hosts),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_three_hosts_reached_with_strict_host_keys_each_see_own_hostdir(lab: SSHLab) -> None:
    hosts = [lab.start(name) for name in ("h1", "h2", "h3")]

    assert len({h.port for h in hosts}) == 3
    for host in hosts:
        result = run_ssh(lab, host, 'echo "$HOSTDIR"')
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == str(host.root)
        assert host.root.is_dir()


def test_known_hosts_and_client_key_are_what_clients_expect(lab: SSHLab) -> None:
    h1 = lab.start("h1")
    hidden = lab.start("hidden", known=False)

    lines = lab.known_hosts.read_text().splitlines()
    assert lines == [f"[127.0.0.1]:{h1.port} {h1.host_pubkey_line}"]
    assert h1.host_pubkey_line.startswith("ssh-ed25519 ")
    assert hidden.port != h1.port
    assert lab.client_key.stat().st_mode & 0o777 == 0o600


def test_host_missing_from_known_hosts_is_refused(lab: SSHLab) -> None:
    host = lab.start("stranger", known=False)

    result = run_ssh(lab, host, "echo reached")

    assert result.returncode == 255
    assert "reached" not in result.stdout
    assert "Host key verification failed" in result.stderr


def test_mismatched_host_key_is_refused(lab: SSHLab, tmp_path: Path) -> None:
    host = lab.start("h1")
    wrong = lab.write_unknown_key_known_hosts(host, tmp_path / "wrong_known_hosts")

    assert host.host_pubkey_line not in wrong.read_text()
    result = run_ssh(lab, host, "echo reached", known_hosts=wrong)

    assert result.returncode == 255
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in result.stderr


def test_stop_really_stops_the_sshd(lab: SSHLab) -> None:
    host = lab.start("h1")
    pid = host.process.pid
    assert host.is_running()

    host.stop()

    assert not host.is_running()
    assert host.process.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not _listening(host.port)
    host.stop()  # idempotent


def _listening(port: int) -> bool:
    """True if something accepts on the port. A connect to a free ephemeral port can, rarely,
    connect to itself (TCP simultaneous open); that is not a listener."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=2)
    except ConnectionRefusedError:
        return False
    with sock:
        return sock.getsockname() != sock.getpeername()


def test_stop_all_stops_every_host(lab: SSHLab) -> None:
    hosts = [lab.start(name) for name in ("a", "b")]

    lab.stop_all()

    assert not any(h.is_running() for h in hosts)


def test_duplicate_host_name_is_an_error(lab: SSHLab) -> None:
    lab.start("h1")
    with pytest.raises(ValueError, match="already started"):
        lab.start("h1")
