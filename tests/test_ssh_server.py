"""The built-in SSH server of ``warroom serve``, used as the team uses it: the real OpenSSH client in
tmux, keys pressed with ``send-keys``, screens read with ``capture-pane``, the journal read back.

``warroom serve`` runs as a subprocess on a config whose ``app`` host is a real sshd of the lab;
alice and bob may drive, olive observes, eve's key is known to nobody.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest
from conftest import ssh_step, write_config, write_runbook
from serve_support import WARROOM, ServedWarRoom, environ_of, free_port, keygen, server_users

from console.host.attach import AttachServer
from console.host.sshserver import SessionServer
from console.model.config import load_config
from console.model.errors import InputError

pytestmark = [
    pytest.mark.sshd,
    pytest.mark.skipif(
        not (shutil.which("tmux") and shutil.which("ssh") and shutil.which("ssh-keygen")),
        reason="tmux and the OpenSSH client are needed: run ./scripts/test",
    ),
]
USERS = {"alice": "driver", "bob": "driver", "olive": "observer"}
SECRET = "s3cret-of-the-server-process"
STEPS = ssh_step("hello", "echo MARKER-$((6*7))") + ssh_step("two", "echo SECOND-$((5*5))")
OBSERVER_KEYS = ("n", "r", "s", "p", "x", "c", "d")  # run, skip, pass, cancel, comms, drive (a note they may add)


# ----- the served war room ------------------------------------------------------------------------------
class WarRoom(ServedWarRoom):
    """``warroom serve`` (tests/serve_support.py), a private tmux server for its clients, and readers of both."""

    def __init__(self, base: Path, keys: Path, config: Path, runbook: Path, spawn: str = "fork") -> None:
        env = {"WARROOM_TEST_SECRET": SECRET}
        super().__init__(base, keys, config, runbook, spawn=spawn, env=env, args=("--as", "ops"))

    @property
    def tmux_socket(self) -> str:
        return f"warroom-ssh-{os.getpid()}-{self.port}"

    # ----- clients --------------------------------------------------------------------------------
    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.tmux_socket, "-f", "/dev/null", *args], capture_output=True, text=True, check=True
        ).stdout

    def open(self, name: str, user: str, *options: str, width: int = 160, height: int = 48) -> int:
        """A client in its own tmux session; returns the pid of its ssh (the pane's process)."""
        argv = " ".join(self.ssh_argv(user, None, "-tt", *options))
        # pytest exports COLUMNS/LINES; the console must measure its terminal instead
        command = f"exec env -u COLUMNS -u LINES TERM=xterm-256color {argv}"
        self.tmux("new-session", "-d", "-x", str(width), "-y", str(height), "-s", name, command)
        return int(self.tmux("display-message", "-p", "-t", name, "#{pane_pid}").strip())

    def screen(self, name: str) -> str:
        return self.tmux("capture-pane", "-p", "-t", name)

    def keys(self, name: str, *keys: str) -> None:
        self.tmux("send-keys", "-t", name, *keys)

    def wait_screen(self, name: str, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen(name)
            if text in shown:
                return shown
            assert time.monotonic() < deadline, f"{name}: {text!r} never appeared; screen:\n{shown}"
            time.sleep(0.05)

    def stop(self) -> None:
        subprocess.run(["tmux", "-L", self.tmux_socket, "kill-server"], capture_output=True, check=False)
        super().stop()


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _wait_reaped(pid: int, timeout: float = 3) -> None:
    """pgrep no longer lists a zombie (it has no command line): the server must also reap it."""
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists():
        assert time.monotonic() < deadline, f"session child {pid} was never reaped (a zombie)"
        time.sleep(0.02)


def _acting(records: list[dict]) -> list[dict]:
    return [r for r in records if not r["type"].startswith("presence.")]


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("keys")
    for name in (*USERS, "eve"):
        keygen(folder / name, name)
    return folder


@pytest.fixture
def serve_war_room(tmp_path, lab, keys):
    """``warroom serve`` on the lab's app host; ``spawn="exec"`` turns its fork server off."""
    rooms: list[WarRoom] = []

    def serve(spawn: str = "fork", shared: bool = False) -> WarRoom:  # shared: tests/test_shared_views.py
        users = f"\n[server]\nseat_grace = 30\nkeepalive = 1\nshared_views = {str(shared).lower()}\n"
        users += server_users(keys, USERS)
        config = write_config(tmp_path / "config.toml", lab, ["app1"], extra=users)
        rooms.append(WarRoom(tmp_path, keys, config, write_runbook(tmp_path / "runbook.toml", STEPS), spawn))
        return rooms[-1]

    yield serve
    for room in rooms:
        room.stop()
        assert not room.children(), "a session child outlived warroom serve"


@pytest.fixture
def war_room(serve_war_room) -> WarRoom:
    return serve_war_room()


# ----- the tests ------------------------------------------------------------------------------------------
def test_a_step_run_by_the_driver_reaches_an_observer_within_a_second(war_room):
    before = war_room.children()
    war_room.open("alice", "alice", "-o", "SetEnv=COLORTERM=truecolor")
    war_room.wait_screen("alice", "you: alice (not driving)")
    (alice_child,) = war_room.children() - before
    war_room.open("olive", "olive")
    war_room.wait_screen("olive", "you: olive (observer)")
    (olive_child,) = war_room.children() - before - {alice_child}
    war_room.wait_screen("alice", "2 watching")  # presence is shown to everyone: nobody drives yet, both watch

    # colour depth follows the client: 24-bit colours for alice's COLORTERM, a 256-colour palette for olive
    assert "38;2;" in war_room.tmux("capture-pane", "-p", "-e", "-t", "alice")
    olive_colours = war_room.tmux("capture-pane", "-p", "-e", "-t", "olive")
    assert "38;5;" in olive_colours and "38;2;" not in olive_colours
    for child in (alice_child, olive_child):  # nothing of the server's environment (its secrets) reaches a session
        started_with = environ_of(child)
        assert "WARROOM_TEST_SECRET" not in started_with and SECRET not in "".join(started_with.values())
        assert "COLUMNS" not in started_with

    before_keys = _acting(war_room.records())
    for key in OBSERVER_KEYS:
        war_room.keys("olive", key)
    time.sleep(1.0)
    shown = war_room.screen("olive")
    assert "Note (optional)" not in shown and "Skip hello" not in shown and "MARKER-42" not in shown
    pressed = [(r["type"], r["actor"]) for r in _acting(war_room.records()) if r not in before_keys]
    assert pressed == [("command.refused", "olive")] * len(OBSERVER_KEYS), "each press refused, journaled"

    war_room.keys("alice", "d")
    taken = war_room.wait_record(lambda r: r["type"] == "seat.taken")
    assert taken["actor"] == "alice"
    war_room.wait_screen("olive", "driver: alice")

    war_room.keys("alice", "n")
    pressed = time.monotonic()
    war_room.wait_screen("olive", "MARKER-42", timeout=5)
    latency = time.monotonic() - pressed
    print(f"driver's n to the observer's screen showing the step output: {latency * 1000:.0f} ms")
    assert latency < 1.0
    started = war_room.wait_record(lambda r: r["type"] == "step.started")
    assert (started["actor"], started["data"]["step"]) == ("alice", "hello")
    joined = [r for r in war_room.records() if r["type"] == "presence.joined"]
    assert [(r["actor"], r["role"]) for r in joined] == [("alice", "driver"), ("olive", "observer")]


def test_crafted_commands_on_an_observer_connection_are_refused_and_journaled(war_room):
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(war_room.socket)
        stream = raw.makefile("rwb")
        stream.write(json.dumps({"user": "mallory", "via": "crafted"}).encode() + b"\n")
        crafted = [
            ("take-seat", {}),
            ("request-seat", {}),
            ("start", {"step": "hello"}),
            ("tick", {"step": "hello", "check": "x", "result": "pass"}),
            ("hand-over", {"to": "mallory"}),
            ("close", {"outcome": "resolved"}),
        ]
        for ident, (name, args) in enumerate(crafted, start=1):
            stream.write(json.dumps({"id": ident, "cmd": name, "args": args}).encode() + b"\n")
        stream.flush()
        raw.settimeout(10)
        replies = {}
        while len(replies) < len(crafted):
            message = json.loads(stream.readline())
            if "reply" in message:
                replies[message["reply"]] = message
    assert all(reply["error"]["refused"] for reply in replies.values()), replies
    assert "observers watch only" in replies[3]["error"]["message"]
    refused = [r for r in war_room.records() if r["type"] == "command.refused"]
    assert [(r["actor"], r["role"], r["data"]["command"]) for r in refused] == [
        ("mallory", "observer", name) for name, _ in crafted
    ]
    assert not [r for r in war_room.records() if r["type"].startswith(("seat.", "step.", "incident.closed"))]


def test_the_driver_hands_the_seat_over_and_the_new_driver_acts(war_room):
    war_room.open("alice", "alice")
    war_room.open("bob", "bob")
    war_room.wait_screen("alice", "you: alice")
    war_room.wait_screen("bob", "you: bob")
    war_room.keys("alice", "d")
    war_room.wait_screen("bob", "driver: alice")
    war_room.keys("bob", "d")  # the seat is taken: bob asks for it
    war_room.wait_screen("alice", "bob asks for the driver seat")
    war_room.keys("alice", "H")
    war_room.wait_screen("alice", "Hand the driver seat over to")
    war_room.keys("alice", "Enter")  # bob, highlighted: on to the note
    time.sleep(0.2)
    war_room.keys("alice", "Enter")
    handed = war_room.wait_record(lambda r: r["type"] == "seat.handed_over")
    assert handed["actor"] == "alice" and "bob" in json.dumps(handed["data"])
    war_room.wait_screen("bob", "driver: bob (you)")
    war_room.wait_screen("alice", "driver: bob")

    war_room.keys("alice", "n")  # no longer the driver: the engine refuses it, journaled
    refused = war_room.wait_record(lambda r: r["type"] == "command.refused")["data"]["reason"]
    assert refused.startswith("alice does not hold") and not [r for r in war_room.records() if "step." in r["type"]]
    war_room.keys("bob", "n")
    started = war_room.wait_record(lambda r: r["type"] == "step.started")
    assert (started["actor"], started["data"]["step"]) == ("bob", "hello")
    war_room.wait_screen("alice", "MARKER-42")


def test_ten_observers_see_the_same_change(war_room):
    war_room.open("alice", "alice")
    for n in range(10):
        war_room.open(f"olive{n}", "olive", width=120, height=40)
    war_room.wait_children(11)
    for n in range(10):  # alice does not drive yet: she watches too
        war_room.wait_screen(f"olive{n}", "11 watching", timeout=30)
    war_room.wait_screen("alice", "11 watching")
    war_room.keys("alice", "d")
    war_room.wait_record(lambda r: r["type"] == "seat.taken")
    war_room.wait_screen("olive0", "10 watching")  # the driver's own client does not watch
    war_room.keys("alice", "n")
    pressed = time.monotonic()
    seen = {}
    while len(seen) < 10:
        for n in set(range(10)) - set(seen):
            if "MARKER-42" in war_room.screen(f"olive{n}"):
                seen[n] = time.monotonic() - pressed
        assert time.monotonic() - pressed < 10, f"only {sorted(seen)} saw the step output"
        time.sleep(0.02)
    print("n to each of ten observers:", " ".join(f"{seen[n] * 1000:.0f}" for n in range(10)), "ms")
    for n in range(10):
        assert "driver: alice" in war_room.screen(f"olive{n}")


def test_resize_killed_and_frozen_clients(war_room):
    war_room.open("olive", "olive")
    war_room.wait_screen("olive", "you: olive (observer)")
    (child,) = war_room.wait_children(1)
    wide = war_room.screen("olive").splitlines()
    assert len(wide) == 48 and max(len(line) for line in wide) == 160

    war_room.tmux("resize-window", "-t", "olive", "-x", "100", "-y", "30")
    deadline = time.monotonic() + 10
    while True:
        lines = war_room.screen("olive").splitlines()
        redrawn = len(lines) == 30 and lines[-2].startswith("╰") and len(lines[-2].rstrip()) == 100
        if redrawn and "watching · you: olive (observer)" in lines[0]:  # who you are is never what is cut
            break
        assert time.monotonic() < deadline, "the screen did not reflow:\n" + "\n".join(lines)
        time.sleep(0.05)
    assert all(len(line) <= 100 for line in lines) and lines[0].startswith(" INC ")

    war_room.tmux("kill-session", "-t", "olive")  # the client's terminal is gone: ssh dies with it
    killed = time.monotonic()
    war_room.wait_children(0, timeout=5)
    print(f"killed client's session child gone after {(time.monotonic() - killed) * 1000:.0f} ms")
    _wait_reaped(child)
    war_room.wait_record(lambda r: r["type"] == "presence.left" and r["actor"] == "olive", timeout=5)

    # a frozen client (outside tmux, which would SIGCONT its stopped pane) answers no keepalive
    master, terminal = os.openpty()
    frozen = subprocess.Popen(war_room.ssh_argv("olive", None, "-tt"), stdin=terminal, stdout=terminal, stderr=terminal)
    os.close(terminal)
    try:
        (child,) = war_room.wait_children(1)
        joined = lambda: sum(r["type"] == "presence.joined" for r in war_room.records())  # noqa: E731
        deadline = time.monotonic() + 10
        while joined() < 2:  # the frozen client's console is attached (olive's first one left)
            assert time.monotonic() < deadline, "the second client never attached"
            time.sleep(0.05)
        os.kill(frozen.pid, signal.SIGSTOP)
        stopped = time.monotonic()
        war_room.wait_children(0, timeout=10)  # keepalive every 1 s, 3 unanswered: dropped
        print(f"frozen client dropped after {time.monotonic() - stopped:.1f} s")
        _wait_reaped(child)
    finally:
        frozen.kill()
        os.kill(frozen.pid, signal.SIGCONT)
        frozen.wait()
        os.close(master)


def test_everything_but_a_console_on_a_terminal_is_refused(war_room, keys):
    def ssh(*options: str, command: tuple[str, ...] = (), user: str = "alice", key: str | None = None):
        argv = war_room.ssh_argv(user, key, *options) + list(command)
        return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=20)

    exec_request = ssh(command=("echo", "hi"))
    assert exec_request.returncode != 0 and "hi" not in exec_request.stdout
    assert "exec request failed" in exec_request.stderr

    sftp = subprocess.run(
        [
            *("sftp", "-b", "-", "-F", "/dev/null", "-P", str(war_room.port), "-i", str(keys / "alice")),
            *("-o", f"UserKnownHostsFile={war_room.known_hosts}", "-o", "BatchMode=yes", "alice@127.0.0.1"),
        ],
        input="ls\n",
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert sftp.returncode != 0 and "subsystem request failed" in sftp.stderr

    no_terminal = ssh()  # a shell without a pty
    assert no_terminal.returncode == 1 and "needs a terminal" in no_terminal.stdout

    unknown_key = ssh("-tt", key="eve")
    assert unknown_key.returncode == 255 and "Permission denied (publickey)" in unknown_key.stderr
    unknown_user = ssh("-tt", user="mallory")
    assert unknown_user.returncode == 255 and "Permission denied (publickey)" in unknown_user.stderr

    password = subprocess.run(
        war_room.ssh_argv(
            "alice", None, "-v", "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password"
        ),
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert password.returncode == 255
    assert "Authentications that can continue: publickey\n" in password.stderr  # after "none" was refused
    assert "Next authentication method: password" not in password.stderr

    remote_forward = ssh("-N", "-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:9")
    assert remote_forward.returncode == 255 and "remote port forwarding failed" in remote_forward.stderr

    to_port, to_socket = free_port(), free_port()
    forward = subprocess.Popen(
        war_room.ssh_argv(
            "alice", None, "-N", "-L", f"{to_port}:127.0.0.1:{war_room.port}", "-L", f"{to_socket}:{war_room.socket}"
        ),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for local in (to_port, to_socket):
            deadline = time.monotonic() + 10
            while True:
                try:
                    tunnel = socket.create_connection(("127.0.0.1", local), timeout=5)
                    break
                except ConnectionRefusedError:
                    assert time.monotonic() < deadline, "ssh -L never listened"
                    time.sleep(0.05)
            with tunnel:
                assert tunnel.recv(100) == b""  # refused by the server: the tunnel closes at once
    finally:
        forward.terminate()
        _, err = forward.communicate(timeout=10)
    assert err.count("open failed: administratively prohibited") == 2, err

    assert not war_room.children()
    assert not [r for r in war_room.records() if r["type"].startswith(("presence.", "command."))]


def test_sessions_outlive_the_loss_of_the_fork_server(war_room):
    war_room.open("first", "olive")
    war_room.wait_screen("first", "you: olive (observer)")
    (child,) = war_room.wait_children(1)
    found = subprocess.run(
        ["pgrep", "-P", str(war_room.process.pid), "-f", "console.host.ptyzygote"], capture_output=True
    )
    (fork_server,) = found.stdout.split()
    assert _parent(child) == int(fork_server)
    os.kill(int(fork_server), signal.SIGKILL)  # its children can no longer be reaped by it: they are ended
    war_room.wait_children(0, timeout=5)
    _wait_reaped(child)
    war_room.open("second", "olive")  # and new sessions start the plain way
    war_room.wait_screen("second", "you: olive (observer)")
    (second,) = war_room.wait_children(1)
    assert _parent(second) == war_room.process.pid
    assert "fork server exited" in war_room.stderr.read_text()


def test_plain_spawning_without_the_fork_server(serve_war_room):
    war_room = serve_war_room(spawn="exec")
    war_room.open("olive", "olive")
    war_room.wait_screen("olive", "you: olive (observer)")
    (child,) = war_room.wait_children(1)
    assert _parent(child) == war_room.process.pid
    assert "attach --socket" in Path(f"/proc/{child}/cmdline").read_text().replace("\0", " ")
    war_room.tmux("kill-session", "-t", "olive")
    war_room.wait_children(0, timeout=5)
    _wait_reaped(child)


# ----- files the server trusts (in-process: no serve needed) -----------------------------------------
def _server_config(tmp_path: Path, keys: Path, host_key: Path, authorized: Path) -> SessionServer:
    known = tmp_path / "known"
    known.write_text("")
    cfg = tmp_path / "server.toml"
    cfg.write_text(
        f'[environment]\nname = "t"\nstate_dir = "{tmp_path / "state"}"\n\n'
        f'[hosts.h1]\naddress = "127.0.0.1"\nuser = "root"\nknown_hosts = "{known}"\n\n[groups]\napp = ["h1"]\n\n'
        f'[server]\nhost_key = "{host_key}"\n\n[[server.users]]\nname = "alice"\nrole = "driver"\n'
        f'authorized_keys = "{authorized}"\n'
    )
    return load_config(cfg)


async def test_host_key_is_made_once_and_unsafe_files_are_refused(tmp_path, keys, engine):
    host_key, authorized = tmp_path / "keys" / "host", tmp_path / "authorized_keys"
    authorized.write_text((keys / "alice.pub").read_text())
    authorized.chmod(0o644)
    config = _server_config(tmp_path, keys, host_key, authorized)
    attach = AttachServer(engine, tmp_path / "a.sock")

    first = SessionServer(config, attach, "console.cli")
    port = await first.start("127.0.0.1", 0)
    assert port > 0
    await first.close()
    assert stat.S_IMODE(host_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(host_key.parent.stat().st_mode) == 0o700
    second = SessionServer(config, attach, "console.cli")
    await second.start("127.0.0.1", 0)
    await second.close()
    assert second.fingerprint == first.fingerprint  # generated once, then reused

    async def refused(match: str) -> None:
        with pytest.raises(InputError, match=match) as caught:
            await SessionServer(config, attach, "console.cli").start("127.0.0.1", 0)
        assert "\n" not in str(caught.value)

    for mode in (0o640, 0o620, 0o604):
        host_key.chmod(mode)
        await refused(f"SSH host key {host_key} has mode 0{mode:o}")
    host_key.chmod(0o600)
    authorized.chmod(0o664)
    await refused(f"authorized_keys of alice {authorized} has mode 0664: group/others can write it")
    authorized.chmod(0o646)
    await refused("group/others can write it")
    authorized.chmod(0o600)

    real_key = host_key.rename(tmp_path / "real-host-key")
    host_key.symlink_to(real_key)
    await refused(f"SSH host key {host_key} is a symlink")
    host_key.unlink()
    real_key.rename(host_key)
    real_authorized = authorized.rename(tmp_path / "real-authorized")
    authorized.symlink_to(real_authorized)
    await refused(f"authorized_keys of alice {authorized} is a symlink")
    authorized.unlink()

    authorized.write_text((keys / "alice.pub").read_text() + "ssh-ed25519 not-a-key alice@typo\n")
    await refused(r"line 2 is not a valid public key")


def test_serve_refuses_to_start_on_an_unsafe_key_file_before_opening_an_incident(tmp_path, lab, keys):
    authorized = tmp_path / "authorized_keys"
    authorized.write_text((keys / "olive.pub").read_text())
    authorized.chmod(0o666)
    users = f'\n[[server.users]]\nname = "olive"\nrole = "observer"\nauthorized_keys = "{authorized}"\n'
    config = write_config(tmp_path / "config.toml", lab, ["app1"], extra=users)
    runbook = write_runbook(tmp_path / "runbook.toml", STEPS)
    result = subprocess.run(
        [WARROOM, "serve", "-c", str(config), "--runbook", str(runbook), "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"warroom: Unsafe file: authorized_keys of olive {authorized} has mode 0666: group/others can write it; "
        "chmod go-rwx it"
    ]
    assert not list((tmp_path / "state").glob("incidents/*"))
