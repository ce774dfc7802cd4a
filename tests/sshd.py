"""Real OpenSSH servers on loopback, one per simulated host.

SSH steps are tested against the real sshd and the real ``ssh`` client rather than a stub, so
host-key checking, auth and remote environment behave as in production. Each host is its own
``sshd -D`` process with its own host key, port and working directory (``$HOSTDIR``).
Imported by ``tests/conftest.py``; this module defines no fixtures itself.
"""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "ssh-keygen"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
PORT_ATTEMPTS = 5


class SSHLabError(RuntimeError):
    """An sshd of the lab could not be started; the message carries its log tail."""


@dataclass
class SSHHost:
    """One running sshd; ``root`` is what remote commands see as ``$HOSTDIR``."""

    name: str
    port: int
    root: Path
    host_key: Path
    host_pubkey_line: str
    process: subprocess.Popen
    config: Path = field(default=Path())
    log: Path = field(default=Path())

    @property
    def known_hosts_line(self) -> str:
        """The line OpenSSH and asyncssh expect for a non-22 port."""
        return f"[127.0.0.1]:{self.port} {self.host_pubkey_line}"

    def stop(self) -> None:
        """Terminate and reap the sshd, so no process or ResourceWarning outlives a test."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def is_running(self) -> bool:
        return self.process.poll() is None


class SSHLab:
    """N real sshd instances on 127.0.0.1 sharing one client key and one known_hosts file."""

    def __init__(self, base: Path) -> None:
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.client_key = self.base / "client_ed25519"
        self.client_pubkey = _keygen(self.client_key, comment="warroom-test-client")
        self.authorized_keys = self.base / "authorized_keys"
        self.authorized_keys.write_text(self.client_pubkey.read_text())
        self.known_hosts = self.base / "known_hosts"
        self.known_hosts.touch()
        self.hosts: dict[str, SSHHost] = {}

    def __enter__(self) -> SSHLab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def start(self, name: str, *, known: bool = True, sftp: bool = True) -> SSHHost:
        """Start host ``name``; with ``known=False`` it is left out of known_hosts, with
        ``sftp=False`` its sshd has no sftp subsystem (as on many hardened hosts)."""
        if name in self.hosts:
            raise ValueError(f"host {name!r} already started")
        _ensure_privsep_dir()
        host_dir = self.base / "hosts" / name
        root = host_dir / "root"
        root.mkdir(parents=True)
        host_key = host_dir / "ssh_host_ed25519_key"
        pub = _keygen(host_key, comment=f"warroom-test-{name}")
        pubkey_line = " ".join(pub.read_text().split()[:2])
        config = host_dir / "sshd_config"
        log = host_dir / "sshd.log"
        pid_file = host_dir / "sshd.pid"

        for attempt in range(1, PORT_ATTEMPTS + 1):
            port = _free_port()
            config.write_text(self._config(port, host_key, pid_file, root, sftp=sftp))
            pid_file.unlink(missing_ok=True)
            log_start = log.stat().st_size if log.exists() else 0
            process = _spawn_sshd(config, log)
            failure = _wait_ready(process, port, pid_file)
            if failure is None:
                break
            _reap(process)
            # Another process may have taken the port between probe and bind: try a new one.
            this_run = log.read_bytes()[log_start:].decode(errors="replace")
            if "Address already in use" in this_run and attempt < PORT_ATTEMPTS:
                continue
            raise SSHLabError(f"sshd {name!r} on port {port} {failure}; log:\n{_tail(log)}")

        host = SSHHost(name, port, root, host_key, pubkey_line, process, config, log)
        self.hosts[name] = host
        if known:
            with self.known_hosts.open("a") as f:
                f.write(host.known_hosts_line + "\n")
        return host

    def stop_all(self) -> None:
        for host in self.hosts.values():
            host.stop()

    def write_unknown_key_known_hosts(self, host: SSHHost, path: Path) -> Path:
        """Write a known_hosts whose key for ``host`` is a different one of the same type.

        Same type on purpose: the client then reports a changed host key (a mismatch), not an
        unknown host.
        """
        other = self.base / "impostors" / f"{host.name}_{host.port}"
        other.parent.mkdir(parents=True, exist_ok=True)
        other.unlink(missing_ok=True)
        other.with_suffix(".pub").unlink(missing_ok=True)
        pub = _keygen(other, comment=f"impostor-{host.name}")
        key = " ".join(pub.read_text().split()[:2])
        path = Path(path)
        path.write_text(f"[127.0.0.1]:{host.port} {key}\n")
        return path

    def ssh_argv(self, host: SSHHost, command: str, *, known_hosts: Path | None = None) -> list[str]:
        """argv for the real OpenSSH client with strict host-key checking and no user config."""
        return [
            "ssh",
            "-F",
            "none",
            "-p",
            str(host.port),
            "-i",
            str(self.client_key),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "IdentityAgent=none",
            "-o",
            f"UserKnownHostsFile={known_hosts or self.known_hosts}",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=5",
            f"{self.user}@127.0.0.1",
            command,
        ]

    def _config(self, port: int, host_key: Path, pid_file: Path, root: Path, *, sftp: bool = True) -> str:
        lines = [
            f"Port {port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {_q(host_key)}",
            f"PidFile {_q(pid_file)}",
            # AuthorizedKeysFile expands %-tokens, so a literal % must be doubled.
            f"AuthorizedKeysFile {_q(self.authorized_keys).replace('%', '%%')}",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "PermitRootLogin prohibit-password",
            "StrictModes no",
            "UsePAM no",
            f'SetEnv "HOSTDIR={_unquoted(root)}"',
            "MaxSessions 50",
            "MaxStartups 100:30:200",
            "LogLevel ERROR",
        ]
        if sftp:
            lines.append("Subsystem sftp internal-sftp")
        return "\n".join(lines) + "\n"


def _unquoted(path: Path) -> str:
    text = str(path)
    if '"' in text or "\n" in text:
        raise ValueError(f"path unusable in sshd_config: {text!r}")
    return text


def _q(path: Path) -> str:
    """Quote a path for sshd_config (OpenSSH >= 8.7 splits arguments like a shell)."""
    return f'"{_unquoted(path)}"'


def _keygen(path: Path, *, comment: str) -> Path:
    """Generate an ed25519 key without passphrase; returns the .pub path."""
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
    )
    path.chmod(0o600)
    return path.with_name(path.name + ".pub")


def _ensure_privsep_dir() -> None:
    """sshd refuses to start without /run/sshd; scripts/setup-services makes it, but as root we
    can heal a machine where only the package was installed."""
    privsep = Path("/run/sshd")
    if not privsep.is_dir() and os.geteuid() == 0:
        privsep.mkdir(mode=0o755, parents=True, exist_ok=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn_sshd(config: Path, log: Path) -> subprocess.Popen:
    # sshd keeps its own copy of the descriptor, so ours is closed right away.
    with log.open("ab") as log_file:
        return subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,
        )


def _wait_ready(process: subprocess.Popen, port: int, pid_file: Path) -> str | None:
    """None once *this* sshd listens, else why not.

    A successful connect alone could reach another process that grabbed the port; sshd writes
    its PidFile only after binding, so the pid in it proves the listener is ours.
    """
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"exited with status {process.returncode}"
        if _pid_in(pid_file) == process.pid and _accepts(port):
            return None
        time.sleep(0.01)
    return f"not accepting connections after {START_TIMEOUT:.0f}s"


def _pid_in(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _reap(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()


def _tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
