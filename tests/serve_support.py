"""``warroom serve`` as a subprocess and the OpenSSH client's argv for it: shared by
tests/test_ssh_server.py and benchmarks/ssh_sessions.py."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

WARROOM = str(Path(sys.executable).with_name("warroom"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path: Path, comment: str = "") -> str:
    """A passphrase-less ed25519 key pair at ``path``; returns the public key line."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().strip()


def server_users(keys: Path, users: dict[str, str]) -> str:
    """``[[server.users]]`` tables for ``{name: role}``, each with the public key ``keys/<name>.pub``."""
    tables = []
    for name, role in users.items():
        key = (keys / f"{name}.pub").read_text().strip()
        tables.append(f'\n[[server.users]]\nname = "{name}"\nrole = "{role}"\npublic_keys = ["{key}"]\n')
    return "".join(tables)


class ServedWarRoom:
    """A ``warroom serve`` subprocess on a free loopback port, its banner read and its host key pinned."""

    def __init__(
        self,
        base: Path,
        keys: Path,
        config: Path,
        runbook: Path,
        *,
        spawn: str = "fork",
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.base, self.key_dir = base, keys
        self.port = free_port()
        self.stderr = base / "serve.err"
        self._err = self.stderr.open("w")
        self.process = subprocess.Popen(
            [WARROOM, "serve", "-c", str(config), "--runbook", str(runbook), "--port", str(self.port), *args],
            stdout=subprocess.PIPE,
            stderr=self._err,
            text=True,
            env={**os.environ, "WARROOM_SSH_SPAWN": spawn, **(env or {})},
        )
        try:
            lines = self._read_banner()
        except BaseException:
            self.stop()
            raise
        self.incident = lines["incident"].split(":")[0]
        self.journal = Path(lines["journal"].split()[0])
        self.socket = lines["socket"].split()[0]
        self.host_key = Path(lines["host key"].split("(")[1].rstrip(")"))
        self.known_hosts = base / "known_hosts"
        pub = self.host_key.with_name(self.host_key.name + ".pub").read_text().strip()
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {pub}\n")

    def _read_banner(self) -> dict[str, str]:
        assert self.process.stdout is not None
        lines: dict[str, str] = {}
        deadline = time.monotonic() + 20
        while "host key" not in lines:
            line = self.process.stdout.readline()
            assert line and time.monotonic() < deadline, f"warroom serve did not start: {self.stderr.read_text()}"
            head, _, rest = line.partition(" ")
            lines["host key" if line.startswith("host key") else head] = line.removeprefix("host key").strip()
            if head != "host":
                lines[head] = rest.strip()
        return lines

    def ssh_argv(self, user: str, key: str | None = None, *options: str) -> list[str]:
        """The OpenSSH client for ``user`` (with the key of that name unless ``key``), batch mode."""
        return [
            "ssh",
            "-F",
            "/dev/null",
            "-p",
            str(self.port),
            "-i",
            str(self.key_dir / (key or user)),
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            *options,
            f"{user}@127.0.0.1",
        ]

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.journal.read_text().splitlines() if line.endswith("}")]

    def wait_record(self, predicate, timeout: float = 20) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            found = [r for r in self.records() if predicate(r)]
            if found:
                return found[-1]
            assert time.monotonic() < deadline, "no such journal record"
            time.sleep(0.05)

    def children(self) -> set[int]:
        """Session children still in the process table: ``warroom attach`` processes on this socket, or
        the fork server's children."""
        found = subprocess.run(["pgrep", "-f", f"attach --socket {self.socket}"], capture_output=True, text=True)
        pids = {int(pid) for pid in found.stdout.split()}
        forks = subprocess.run(
            ["pgrep", "-P", str(self.process.pid), "-f", "console.host.ptyzygote"], capture_output=True, text=True
        )
        for fork_server in forks.stdout.split():
            forked = subprocess.run(["pgrep", "-P", fork_server], capture_output=True, text=True)
            pids |= {int(pid) for pid in forked.stdout.split()}
        return pids

    def wait_children(self, count: int, timeout: float = 20) -> set[int]:
        deadline = time.monotonic() + timeout
        while len(pids := self.children()) != count:
            assert time.monotonic() < deadline, f"{len(pids)} session children, expected {count}"
            time.sleep(0.02)
        return pids

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        assert self.process.stdout is not None
        self.process.stdout.close()
        self._err.close()


def environ_of(pid: int) -> dict[str, str]:
    """A process's environment as it started (``/proc/PID/environ``)."""
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)
