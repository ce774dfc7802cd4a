"""The same command fanned out to N hosts three ways, in one run: warroom's ``ssh`` kind, the
``ansible`` kind (ansible-runner driving ``ansible``) and ``ansible -f N`` ad hoc by hand.

Each host is a real sshd on loopback (``tests/sshd.py``). The two warroom kinds run as a step of
an incident (engine, journal, output spools, per-host results); the baseline is the ad hoc command
a user would type, with an inventory of the same hosts and the same ansible settings warroom
writes (pipelining, ControlPersist, strict host keys against the lab's known_hosts), each run with
fresh SSH connections. Prints wall times and the ratios to the baseline.

    .venv/bin/python benchmarks/ansible_fanout.py [--hosts 50] [--command uptime] [--runs 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from ansible_support import ALICE, ansible_step, open_engine  # noqa: E402
from conftest import ssh_step  # noqa: E402
from sshd import SSHLab  # noqa: E402

from actions.ansible import install  # noqa: E402
from actions.ansible.workspace import CFG, inventory  # noqa: E402
from console.model.plan import Target  # noqa: E402

PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
"""The hosts' module interpreter (the lab's hosts are this machine), the same for both ansible runs."""


async def through_engine(base: Path, lab: SSHLab, hosts: list[str], steps: str) -> float:
    base.mkdir()
    engine = open_engine(base, lab, hosts, steps)
    try:
        started = time.perf_counter()
        status = await engine.run_step(ALICE, "fan")
        took = time.perf_counter() - started
        if status != "succeeded":
            raise SystemExit(f"step failed: {engine.state.steps['fan'].attempt.error}")
        return took
    finally:
        await engine.aclose()


def ad_hoc(base: Path, lab: SSHLab, hosts: list[str], command: str) -> float:
    base.mkdir()
    targets = [
        Target(h, "127.0.0.1", lab.hosts[h].port, lab.user, str(lab.client_key), str(lab.known_hosts), 5.0)
        for h in hosts
    ]
    (base / "inventory.yml").write_text(json.dumps(inventory(targets, {"app": hosts})))
    for d in ("tmp", "cp"):
        (base / d).mkdir()
    (base / "ansible.cfg").write_text(CFG.format(tmp=base / "tmp", cp=base / "cp", common=""))
    env = {**os.environ, "ANSIBLE_CONFIG": str(base / "ansible.cfg"), "PATH": install.search_path()}
    argv = ["ansible", "all", "-i", str(base / "inventory.yml"), "-f", str(len(hosts)), "-m", "command"]
    argv += ["-a", command, "-e", f"ansible_python_interpreter={PYTHON}"]
    started = time.perf_counter()
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, timeout=600)
    took = time.perf_counter() - started
    for sock in (base / "cp").iterdir():
        subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "x"], capture_output=True, check=False)
    if result.returncode != 0:
        tail = result.stdout[-2000:] + result.stderr[-2000:]
        raise SystemExit(f"ansible ad hoc failed ({result.returncode}):\n{tail}")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--command", default="uptime")
    parser.add_argument("--runs", type=int, default=1, help="rounds of the three, interleaved (median)")
    args = parser.parse_args()
    problem = install.missing()
    if problem:
        raise SystemExit(f"ansible_fanout: {problem}")
    base = Path(tempfile.mkdtemp(prefix="warroom-bench-ansible-"))
    names = [f"h{i:02d}" for i in range(1, args.hosts + 1)]
    times: dict[str, list[float]] = {"ssh": [], "ansible": [], "adhoc": []}
    try:
        with SSHLab(base / "lab") as lab:
            started = time.perf_counter()
            for name in names:
                lab.start(name)
            print(f"{args.hosts} sshd hosts on loopback started in {time.perf_counter() - started:.1f} s")
            print(f"command: {args.command!r} on {args.hosts} hosts, {args.runs} run(s), python {PYTHON}")
            ssh = ssh_step("fan", args.command, timeout=600)
            ans = ansible_step(
                "fan",
                module="ansible.builtin.command",
                args=args.command,
                forks=args.hosts,
                timeout=600,
                vars={"ansible_python_interpreter": PYTHON},
            )
            for run in range(1, args.runs + 1):
                times["ssh"].append(asyncio.run(through_engine(base / f"ssh{run}", lab, names, ssh)))
                times["ansible"].append(asyncio.run(through_engine(base / f"ansible{run}", lab, names, ans)))
                times["adhoc"].append(ad_hoc(base / f"adhoc{run}", lab, names, args.command))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    adhoc = statistics.median(times["adhoc"])
    rows = [
        ("ansible -f N ad hoc (baseline)", "adhoc"),
        ("warroom ssh kind (step)", "ssh"),
        ("warroom ansible kind (step)", "ansible"),
    ]
    print(f"{'':34} {'median':>9} {'x ad hoc':>9}   runs")
    for label, key in rows:
        med = statistics.median(times[key])
        each = " ".join(f"{t:.2f}" for t in times[key])
        print(f"{label:34} {med:8.2f}s {med / adhoc:8.2f}x   {each}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
