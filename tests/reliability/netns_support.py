"""A host in its own network namespace whose link a test can cut, and a listener that never speaks.

Follows ../shared/docs/test-environment.md "Bastions and cut links": the unreachable route for
the host's subnet goes in *first* (metric 1000), so once the link is down the client's retries
fail here with "No route to host" instead of following the default route off the machine.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import subprocess
import threading
import time
from pathlib import Path

from netns_base import SSHD, ip


class NetnsHost:
    """sshd inside namespace ``ns``, reached from the root namespace over a veth pair on a
    link-local /30; :meth:`cut` takes the root side of the link down."""

    def __init__(self, base: Path, authorized_keys: Path, user: str) -> None:
        tag = f"{os.getpid() % 10000}{random.randrange(100):02d}"
        self.ns, self.outer, self.inner = f"wrrely{tag}", f"wrro{tag}", f"wrri{tag}"
        self.subnet_octet = 200 + random.randrange(50)
        block = 4 * random.randrange(64)
        self.subnet = f"169.254.{self.subnet_octet}.{block}/30"
        self.local = f"169.254.{self.subnet_octet}.{block + 1}"
        self.address = f"169.254.{self.subnet_octet}.{block + 2}"
        self.port = 2222
        self.base = base
        self.process: subprocess.Popen | None = None
        try:
            self._setup(authorized_keys, user)
        except BaseException:
            self.close()  # no route, namespace or link may outlive a failed setup
            raise

    def _setup(self, authorized_keys: Path, user: str) -> None:
        ip("route", "add", "unreachable", self.subnet, "metric", "1000")  # first: see the module doc
        ip("netns", "add", self.ns)
        ip("link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
        ip("link", "set", self.inner, "netns", self.ns)
        ip("addr", "add", f"{self.local}/30", "dev", self.outer)
        ip("link", "set", self.outer, "up")
        ip("-n", self.ns, "addr", "add", f"{self.address}/30", "dev", self.inner)
        ip("-n", self.ns, "link", "set", self.inner, "up")
        ip("-n", self.ns, "link", "set", "lo", "up")
        self.base.mkdir(parents=True, exist_ok=True)
        self.host_key = self.base / "ssh_host_ed25519_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.host_key)], check=True)
        config = self.base / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress {self.address}\nHostKey {self.host_key}\n"
            f"PidFile {self.base / 'sshd.pid'}\nAuthorizedKeysFile {authorized_keys}\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
            "PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nLogLevel ERROR\n"
        )
        log = (self.base / "sshd.log").open("ab")
        with log:
            self.process = subprocess.Popen(
                ["ip", "netns", "exec", self.ns, SSHD, "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + 10
        while not self._accepts():
            assert self.process.poll() is None, (self.base / "sshd.log").read_text()
            assert time.monotonic() < deadline, "sshd in the namespace did not start"
            time.sleep(0.05)

    def _accepts(self) -> bool:
        try:
            with socket.create_connection((self.address, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def known_hosts_line(self) -> str:
        pub = " ".join(self.host_key.with_name(self.host_key.name + ".pub").read_text().split()[:2])
        return f"[{self.address}]:{self.port} {pub}\n"

    def cut(self) -> None:
        ip("link", "set", self.outer, "down")
        # the link's own route is gone: only the unreachable one can answer for the subnet now
        routed = ip("route", "get", self.address, check=False)
        assert routed.returncode != 0, f"{self.address} still routed after the cut: {routed.stdout}"

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        ip("link", "del", self.outer, check=False)
        ip("netns", "del", self.ns, check=False)
        ip("route", "del", "unreachable", self.subnet, "metric", "1000", check=False)


class SilentListener:
    """Accepts TCP on loopback and never sends a byte (no SSH banner); holds every socket open."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.server.accept()
                self.accepted.append(conn)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)
        self.server.close()
        self._thread.join(timeout=5)
        for conn in self.accepted:
            conn.close()
