"""A fan-out to N hosts behind one bastion, side by side with OpenSSH's ``ssh -J`` per host.

Builds the three places of tests/bastion_support.py (the targets in their own network namespace,
reachable only through the bastion's; needs root), then times, median of ``--runs``:

- baseline: one ``ssh -F CONFIG tN 'hostname -I'`` per host, all at once, each with
  ``ProxyJump bastion`` (its own connection to the bastion per host, as an operator's loop does);
- warroom: one ``ssh`` step on all N hosts through the engine (journal with fsync, spools), its
  hosts tunnelled through the one bastion connection of the pool (the first run opens them all,
  as the first step of an incident does: a new engine each run);

and counts the logins on the bastion's sshd for each (its log: one ``Accepted publickey`` each).

    .venv/bin/python benchmarks/bastion_fanout.py [--hosts 30] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from bastion_support import BastionNet  # noqa: E402
from conftest import ssh_step, write_runbook  # noqa: E402
from netns_base import netns_usable  # noqa: E402
from sshd import SSHLab  # noqa: E402

from actions.registry import KINDS  # noqa: E402
from console.engine import Actor, Engine  # noqa: E402
from console.model.config import load_config  # noqa: E402
from console.model.plan import build_plan  # noqa: E402
from console.model.runbook import load_runbook  # noqa: E402

DRIVER = Actor("bench", "driver")


def write_files(base: Path, lab: SSHLab, net: BastionNet, names: list[str]) -> tuple[Path, Path]:
    """The warroom config and the OpenSSH client config of the same hosts."""
    bastion_known = base / "known_bastion"
    bastion_known.write_text(net.bastion.known_hosts_line())
    targets_known = base / "known_targets"
    targets_known.write_text("".join(t.known_hosts_line() for t in net.targets.values()))
    common = f'user = "{lab.user}"\nidentity_file = "{lab.client_key}"\nconnect_timeout = 10\n'
    lines = [
        f'[environment]\nname = "bench"\nstate_dir = "{base / "state"}"\nrunbook = "{base / "rb.toml"}"\n',
        f'[hosts.bastion]\naddress = "{net.bastion.address}"\nport = 2222\n{common}known_hosts = "{bastion_known}"\n',
    ]
    ssh = [
        f"Host bastion\n  HostName {net.bastion.address}\n  Port 2222\n  UserKnownHostsFile {bastion_known}\n",
        f"Host *\n  User {lab.user}\n  IdentityFile {lab.client_key}\n  IdentitiesOnly yes\n  IdentityAgent none\n"
        "  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  BatchMode yes\n  ConnectTimeout 10\n",
    ]
    for name in names:
        target = net.targets[name]
        lines.append(
            f'[hosts.{name}]\naddress = "{target.address}"\nport = {target.port}\n{common}'
            f'known_hosts = "{targets_known}"\njump = "bastion"\n'
        )
        ssh.insert(
            1,
            f"Host {name}\n  HostName {target.address}\n  Port {target.port}\n  ProxyJump bastion\n"
            f"  UserKnownHostsFile {targets_known}\n",
        )
    lines.append(f"[groups]\napp = {json.dumps(names)}\n")
    config = base / "config.toml"
    config.write_text("\n".join(lines))
    ssh_config = base / "ssh_config"
    ssh_config.write_text("\n".join(ssh))
    write_runbook(base / "rb.toml", ssh_step("where", "hostname -I", timeout=120))
    return config, ssh_config


def openssh_fanout(ssh_config: Path, names: list[str]) -> float:
    started = time.perf_counter()
    procs = [
        subprocess.Popen(["ssh", "-F", str(ssh_config), name, "hostname -I"], stdout=subprocess.PIPE, text=True)
        for name in names
    ]
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0 and out.strip(), f"ssh exited {proc.returncode}"
    return time.perf_counter() - started


async def warroom_fanout(config_path: Path, run: int) -> float:
    config = load_config(config_path)
    plan = build_plan(load_runbook(config.runbook_ref(), KINDS), config)
    state = config_path.parent / "state" / str(run)
    engine = Engine.open(state, plan, DRIVER, severity="P0", trigger="Something broke", config=config)
    engine.take_seat(DRIVER)
    try:
        started = time.perf_counter()
        status = await engine.run_step(DRIVER, "where")
        elapsed = time.perf_counter() - started
    finally:
        await engine.aclose()
    assert status == "succeeded", engine.state.steps["where"].attempt.results
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    reason = netns_usable()
    if reason:
        print(f"skipped: {reason}")
        return 0
    with tempfile.TemporaryDirectory(prefix="warroom-bench-bastion-") as tmp:
        base = Path(tmp)
        with SSHLab(base / "lab") as lab:
            net = BastionNet(base / "net", lab.authorized_keys)
            try:
                net.bastion = net.start_bastion()
                names = [f"t{i + 1}" for i in range(args.hosts)]
                net.targets = {name: net.start_target(name, 2201 + i) for i, name in enumerate(names)}
                config, ssh_config = write_files(base, lab, net, names)
                ssh_times, ssh_logins, wr_times, wr_logins = [], [], [], []
                for run in range(args.runs):  # interleaved, so load on the machine hits both alike
                    before = len(net.bastion.logins())
                    ssh_times.append(openssh_fanout(ssh_config, names))
                    ssh_logins.append(len(net.bastion.logins()) - before)
                    before = len(net.bastion.logins())
                    wr_times.append(asyncio.run(warroom_fanout(config, run)))
                    wr_logins.append(len(net.bastion.logins()) - before)
            finally:
                net.close()
    ssh_wall, wr_wall = statistics.median(ssh_times), statistics.median(wr_times)
    print(f"{args.hosts} hosts behind one bastion, median of {args.runs} run(s)")
    print(f"  ssh -J per host, all at once (baseline): {ssh_wall:.3f} s, bastion logins {max(ssh_logins)}")
    print(f"  warroom fan-out step (new engine):       {wr_wall:.3f} s, bastion logins {max(wr_logins)}")
    print(f"  warroom / ssh: {wr_wall / ssh_wall:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
