"""A private directory per ansible run: its ansible.cfg, inventory, 0600 extra-vars file, ansible's
own temp and ControlPath directories. Nothing user-global is read (``ANSIBLE_CONFIG`` names the
file written here) and two runs never share a socket or a temp file; all of it is removed after."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from actions.ansible.install import search_path
from actions.base import Target

CFG = """\
[defaults]
host_key_checking = True
retry_files_enabled = False
interpreter_python = auto_silent
nocolor = True
deprecation_warnings = False
local_tmp = {tmp}

[ssh_connection]
pipelining = True
control_path_dir = {cp}
ssh_args = -o ControlMaster=auto -o ControlPersist=60s
ssh_common_args = {common}
"""


def ssh_args(known_hosts: str, connect_timeout: float) -> str:
    """The host-key rule for every connection: strictly the configured known_hosts file (never
    Ansible's host_key_checking turned off), batch mode (no prompt can hang a step)."""
    return " ".join(
        [
            "-o StrictHostKeyChecking=yes",
            f"-o UserKnownHostsFile={shlex.quote(known_hosts)}",
            "-o GlobalKnownHostsFile=/dev/null",
            "-o BatchMode=yes",
            f"-o ConnectTimeout={max(1, round(connect_timeout))}",
        ]
    )


def proxy_command(chain: list[Target]) -> str:
    """An OpenSSH ProxyCommand through the host's bastions (first dialled from here), each hop
    checked strictly against its own known_hosts, as warroom's own connections check them; a hop's
    command nests the one before it (``%`` doubled, so each ``ssh`` expands only its own)."""
    command = ""
    for hop in chain:
        argv = ["ssh", "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={hop.known_hosts}"]
        argv += ["-o", "GlobalKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-F", "/dev/null"]
        argv += ["-o", f"ConnectTimeout={max(1, round(hop.connect_timeout))}", "-p", str(hop.port)]
        if hop.identity_file:
            argv += ["-i", hop.identity_file, "-o", "IdentitiesOnly=yes"]
        if command:
            argv += ["-o", "ProxyCommand=" + command.replace("%", "%%")]
        command = shlex.join([*argv, "-W", "%h:%p", f"{hop.user}@{hop.address}"])
    return command


def inventory(targets: list[Target], groups: dict[str, list[str]]) -> dict[str, Any]:
    """The inventory of warroom's own hosts (address, port, user, identity file, known_hosts) and
    its groups, restricted to the step's hosts."""
    hosts: dict[str, Any] = {}
    for t in targets:
        entry: dict[str, Any] = {
            "ansible_host": t.address,
            "ansible_port": t.port,
            "ansible_user": t.user,
            "ansible_ssh_common_args": ssh_args(t.known_hosts, t.connect_timeout),
        }
        if t.jump is not None:  # behind a bastion: through it, as warroom's own steps go
            entry["ansible_ssh_common_args"] += " -o ProxyCommand=" + shlex.quote(proxy_command(t.chain()))
        if t.identity_file:
            entry["ansible_ssh_private_key_file"] = t.identity_file
            entry["ansible_ssh_extra_args"] = "-o IdentitiesOnly=yes"
        hosts[t.name] = entry
    names = set(hosts)
    children = {
        group: {"hosts": {h: None for h in members if h in names}}
        for group, members in groups.items()
        if any(h in names for h in members) and group not in names
    }
    return {"all": {"hosts": hosts, "children": children}}


STEP_MARK = "WARROOM_ANSIBLE_STEP"


def leftovers(owner: str) -> list[int]:
    """Processes of an earlier run of the same step still alive (ansible-playbook ignores the
    SIGHUP of its terminal, so it outlives a warroom killed mid-step)."""
    return _marked(f"{STEP_MARK}={owner}") if owner else []


class Workspace:
    """The private directory of one run (0700), removed by :meth:`close`."""

    def __init__(self, owner: str = "") -> None:
        self.owner = owner
        """``STEP_MARK=<incident>/<step>`` in every process of the run: a run left behind by a
        warroom that died mid-step is found by it (:func:`leftovers`)."""
        self.root = Path(tempfile.mkdtemp(prefix="warroom-ansible-"))
        self.tmp = self.root / "tmp"
        self.cp = self.root / "cp"
        self.runner = self.root / "runner"
        for d in (self.tmp, self.cp, self.runner):
            d.mkdir(mode=0o700)

    def write_config(self, common_args: str = "") -> Path:
        path = self.root / "ansible.cfg"
        path.write_text(CFG.format(tmp=self.tmp, cp=self.cp, common=common_args.replace("%", "%%")))
        return path

    def write_inventory(self, data: dict[str, Any]) -> Path:
        path = self.root / "inventory.yml"  # JSON is YAML: the yaml inventory plugin reads it
        path.write_text(json.dumps(data, indent=1))
        return path

    def write_extravars(self, data: dict[str, Any]) -> Path:
        """The extra vars, secrets among them, in a file only this user can read (``-e @FILE``)."""
        path = self.root / "extravars.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        return path

    def env(self) -> dict[str, str]:
        """ansible-runner's environment additions: this directory's config, temp and sockets."""
        return {
            "ANSIBLE_CONFIG": str(self.root / "ansible.cfg"),
            "ANSIBLE_LOCAL_TEMP": str(self.tmp),
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(self.cp),
            "ANSIBLE_HOST_KEY_CHECKING": "True",  # ansible-runner turns it off unless told
            "ANSIBLE_NOCOLOR": "True",
            "ANSIBLE_FORCE_COLOR": "False",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_PIPELINING": "True",
            "PATH": search_path(),
            STEP_MARK: self.owner,
        }

    def close_masters(self) -> None:
        """Stop the SSH ControlPersist masters of this run, all at once: they detach from
        ansible's process group, so killing the group alone would leave them connected."""
        stops = []
        for sock in self.cp.iterdir() if self.cp.is_dir() else ():
            with contextlib.suppress(OSError):
                stops.append(
                    subprocess.Popen(
                        ["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "warroom-control"],
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
        for stop in stops:
            try:
                stop.wait(timeout=5)
            except subprocess.TimeoutExpired:
                stop.kill()
                stop.wait()

    def close(self) -> None:
        self.close_masters()
        shutil.rmtree(self.root, ignore_errors=True)


def kill_marked(marker: str, grace: float = 1.0) -> list[int]:
    """Kill every process whose environment carries ``marker`` (``ANSIBLE_CONFIG=<this run's
    cfg>``): ansible-playbook, its forked workers, their ssh children and the ControlPersist
    masters that left the process group. TERM, then KILL after ``grace``; returns the pids found."""
    import signal
    import time

    found = _marked(marker)
    for pid in found:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _marked(marker):
        time.sleep(0.05)
    for pid in _marked(marker):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return found


def _marked(marker: str) -> list[int]:
    wanted = marker.encode()
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and wanted in environ.split(b"\0"):
            found.append(int(entry.name))
    return found
