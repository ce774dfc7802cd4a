"""Hosts only a bastion can reach: three places, as ../shared/docs/test-environment.md "Bastions
and cut links" lays them out.

The console stays in the root namespace; the bastion's sshd runs in namespace B, the targets'
sshd instances in namespace T. One veth pair joins root and B, another joins B and T, each on a
link-local /30. The root namespace gets ``unreachable`` for T's subnet *first*, so a direct
attempt fails here ("No route to host") instead of following the default route off the machine:
a run that reaches a target went through the bastion.
"""

from __future__ import annotations

import os
import random
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from netns_base import SSHD, ip


@dataclass
class NsSshd:
    """One sshd in a namespace: its address, port, host key and log (LogLevel INFO: one
    ``Accepted publickey`` line per login, so a test can count connections)."""

    name: str
    address: str
    port: int
    host_key: Path
    log: Path
    process: subprocess.Popen

    def known_hosts_line(self) -> str:
        pub = " ".join(self.host_key.with_name(self.host_key.name + ".pub").read_text().split()[:2])
        return f"[{self.address}]:{self.port} {pub}\n"

    def logins(self) -> list[str]:
        return [line for line in self.log.read_text(errors="replace").splitlines() if "Accepted publickey" in line]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class BastionNet:
    """Namespace B (the bastion) bridging the root namespace to namespace T (the targets)."""

    def __init__(self, base: Path, authorized_keys: Path) -> None:
        tag = f"{os.getpid() % 10000}{random.randrange(100):02d}"
        self.b_ns, self.t_ns = f"wrbb{tag}", f"wrbt{tag}"
        self.rb_root, self.rb_ns = f"wrbr{tag}", f"wrbb{tag}x"  # root <-> B
        self.bt_b, self.bt_t = f"wrbq{tag}", f"wrbt{tag}x"  # B <-> T
        octet = 150 + random.randrange(40)
        block = 4 * random.randrange(64)
        self.root_b_subnet = f"169.254.{octet}.{block}/30"
        self.root_side, self.bastion_address = f"169.254.{octet}.{block + 1}", f"169.254.{octet}.{block + 2}"
        self.b_t_subnet = f"169.254.{octet + 50}.{block}/30"
        self.bastion_inner = f"169.254.{octet + 50}.{block + 1}"
        self.target_address = f"169.254.{octet + 50}.{block + 2}"
        self.base = base
        self.authorized_keys = authorized_keys
        self.sshds: list[NsSshd] = []
        self._routes: list[str] = []
        try:
            self._setup()
        except BaseException:
            self.close()  # no route, namespace or link may outlive a failed setup
            raise

    def _setup(self) -> None:
        # first: anything for T's subnet from the root namespace dies here (see the module doc)
        ip("route", "add", "unreachable", self.b_t_subnet)
        self._routes.append(self.b_t_subnet)
        ip("route", "add", "unreachable", self.root_b_subnet, "metric", "1000")
        self._routes.append(f"{self.root_b_subnet} metric 1000")
        ip("netns", "add", self.b_ns)
        ip("netns", "add", self.t_ns)
        ip("link", "add", self.rb_root, "type", "veth", "peer", "name", self.rb_ns)
        ip("link", "set", self.rb_ns, "netns", self.b_ns)
        ip("addr", "add", f"{self.root_side}/30", "dev", self.rb_root)
        ip("link", "set", self.rb_root, "up")
        ip("-n", self.b_ns, "addr", "add", f"{self.bastion_address}/30", "dev", self.rb_ns)
        ip("-n", self.b_ns, "link", "set", self.rb_ns, "up")
        ip("-n", self.b_ns, "link", "set", "lo", "up")
        ip("-n", self.b_ns, "link", "add", self.bt_b, "type", "veth", "peer", "name", self.bt_t)
        ip("-n", self.b_ns, "link", "set", self.bt_t, "netns", self.t_ns)
        ip("-n", self.b_ns, "addr", "add", f"{self.bastion_inner}/30", "dev", self.bt_b)
        ip("-n", self.b_ns, "link", "set", self.bt_b, "up")
        ip("-n", self.t_ns, "addr", "add", f"{self.target_address}/30", "dev", self.bt_t)
        ip("-n", self.t_ns, "link", "set", self.bt_t, "up")
        ip("-n", self.t_ns, "link", "set", "lo", "up")

    def start_bastion(self) -> NsSshd:
        return self._sshd("bastion", self.b_ns, self.bastion_address, 2222, self.root_side)

    def start_target(self, name: str, port: int) -> NsSshd:
        return self._sshd(name, self.t_ns, self.target_address, port, self.bastion_inner)

    def _sshd(self, name: str, ns: str, address: str, port: int, dial_from: str) -> NsSshd:
        home = self.base / name
        home.mkdir(parents=True, exist_ok=True)
        host_key = home / "ssh_host_ed25519_key"
        if not host_key.exists():
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"bastion-test-{name}", "-f", str(host_key)],
                check=True,
                timeout=30,
            )
        config = home / "sshd_config"
        config.write_text(
            f"Port {port}\nListenAddress {address}\nHostKey {host_key}\nPidFile {home / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {self.authorized_keys}\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\n"
            "StrictModes no\nUsePAM no\nAllowTcpForwarding yes\nMaxSessions 50\nMaxStartups 200\nLogLevel INFO\n"
        )
        log = home / "sshd.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                ["ip", "netns", "exec", ns, SSHD, "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        sshd = NsSshd(name, address, port, host_key, log, process)
        self.sshds.append(sshd)
        deadline = time.monotonic() + 10
        while not _accepts(ns, address, port):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"sshd {name} in {ns} did not start"
            time.sleep(0.05)
        return sshd

    def direct_route(self) -> str:
        """What the root namespace does with a target's address: it must be unreachable."""
        return ip("route", "get", self.target_address, check=False).stderr.strip()

    def close(self) -> None:
        for sshd in self.sshds:
            sshd.stop()
        ip("link", "del", self.rb_root, check=False)
        ip("netns", "del", self.t_ns, check=False)
        ip("netns", "del", self.b_ns, check=False)
        for route in self._routes:
            ip("route", "del", "unreachable", *route.split(), check=False)


def _accepts(ns: str, address: str, port: int) -> bool:
    """Probe from inside the namespace (the root namespace may have no route to it)."""
    probe = (
        "import socket,sys\n"
        f"s=socket.socket(); s.settimeout(0.5)\n"
        f"sys.exit(0 if s.connect_ex(({address!r}, {port})) == 0 else 1)\n"
    )
    done = subprocess.run(["ip", "netns", "exec", ns, "python3", "-c", probe], capture_output=True, timeout=10)
    return done.returncode == 0
