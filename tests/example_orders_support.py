"""The Orders API example's lab: two app hosts with releases and a systemctl stand-in, a load
balancer admin API, one health endpoint per host, and the shipped config pointed at all of it.

systemd cannot run in the test container, so ``<root>/bin/systemctl`` stands in for it: it keeps
each unit's state in ``<root>/units/<unit>`` and logs every stop/start, which is all the runbook
asks of systemd. Everything else is real: sshd, MariaDB, HTTP servers on 127.0.0.1.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import tomli_w
from mysql_dump import Dump
from mysql_support import place, small_dump

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "orders-api"
RUNBOOK = EXAMPLE / "runbook.toml"
CONFIG = EXAMPLE / "config.toml"
UNITS = ("orders-api", "orders-worker")
RUNNING, PREVIOUS = "2.3.0", "2.2.4"
PASSWORD_ENV = "ORDERS_DB_PASSWORD"

SYSTEMCTL = """\
#!/bin/sh
# A stand-in for systemd's systemctl (systemd cannot run in the test container).
root=$(dirname "$(dirname "$0")")
command=$1
shift
case "$command" in
stop | start)
    echo "$command $*" >>"$root/systemctl.log"
    state=inactive
    [ "$command" = start ] && state=active
    for unit in "$@"; do echo "$state" >"$root/units/$unit"; done
    ;;
is-active)
    code=0
    for unit in "$@"; do
        state=$(cat "$root/units/$unit" 2>/dev/null || echo inactive)
        echo "$state"
        [ "$state" = active ] || code=3
    done
    exit "$code"
    ;;
*)
    echo "systemctl stand-in: unknown command $command" >&2
    exit 1
    ;;
esac
"""


def warroom(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess, with ``env`` added to this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )


# ----- the app hosts -----------------------------------------------------------------------------


def prepare_app_host(root: Path) -> None:
    """A host running release 2.3.0 with 2.2.4 still on disk, both units active."""
    for release in (RUNNING, PREVIOUS):
        (root / "releases" / release).mkdir(parents=True)
    (root / "current").symlink_to(root / "releases" / RUNNING)
    ctl = root / "bin" / "systemctl"
    ctl.parent.mkdir()
    ctl.write_text(SYSTEMCTL)
    ctl.chmod(0o755)
    (root / "units").mkdir()
    for unit in UNITS:
        (root / "units" / unit).write_text("active\n")


def systemctl_calls(root: Path) -> list[str]:
    log = root / "systemctl.log"
    return log.read_text().splitlines() if log.exists() else []


def units_active(root: Path) -> bool:
    states = [path.read_text().strip() for path in sorted((root / "units").iterdir())]
    return bool(states) and all(state == "active" for state in states)


# ----- HTTP: the load balancer and each host's health endpoint ------------------------------------


@dataclass
class Recorder:
    """A ThreadingHTTPServer on 127.0.0.1 in a thread; ``seen`` is every request as ``METHOD PATH``."""

    health_root: Path | None = None
    """When set, ``GET /healthz`` answers 200 only while every unit under this host root is active."""
    seen: list[str] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def recording_server(recorder: Recorder) -> Iterator[Recorder]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            recorder.seen.append(f"POST {self.path}")
            self._answer(200, b'{"ok": true}\n')

        def do_GET(self) -> None:
            recorder.seen.append(f"GET {self.path}")
            if recorder.health_root is None or self.path != "/healthz":
                self._answer(404, b"not found\n")
            elif units_active(recorder.health_root):
                self._answer(200, b'{"status": "ok"}\n')
            else:
                self._answer(503, b'{"status": "units down"}\n')

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    recorder.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ----- the config: the shipped one, pointed at the lab --------------------------------------------


def lab_config(
    path: Path, lab, *, lb_url: str, health: dict[str, str], backup_dir: Path, db_name: str, db_user: str
) -> Path:
    """The SHIPPED examples/orders-api/config.toml with its hosts and environment values replaced by
    the lab's, so the test runs what a team would run, only against loopback."""
    shipped = tomllib.loads(CONFIG.read_text())
    data = copy.deepcopy(shipped)
    data["environment"]["runbook"] = str(RUNBOOK)
    data["environment"]["state_dir"] = str(path.parent / "state")
    data.pop("notify", None)  # nothing to send to from the lab; comms stay recorded, not sent
    for name in ("web1", "web2"):
        host = lab.hosts[name]
        data["hosts"][name].update(
            address="127.0.0.1",
            port=host.port,
            user=lab.user,
            identity_file=str(lab.client_key),
            known_hosts=str(lab.known_hosts),
            connect_timeout=5,
        )
        host_vars = data["hosts"][name]["vars"]
        host_vars["service"] = {"ctl": [str(host.root / "bin" / "systemctl")]}
        host_vars["app"] = {"releases_dir": str(host.root / "releases"), "current_link": str(host.root / "current")}
        host_vars["health"] = {"url": health[name]}
    data["hosts"]["web1"]["vars"]["db"] = {"backup_dir": str(backup_dir)}
    data["vars"]["lb"]["admin_url"] = lb_url
    data["vars"]["db"].update(host="127.0.0.1", port=3306, name=db_name, user=db_user, password=f"env:{PASSWORD_ENV}")
    del data["group_vars"]["web"]["health"]  # each lab host has its own health port
    path.write_text(tomli_w.dumps(data))
    return path


# ----- the whole lab -------------------------------------------------------------------------------


@dataclass
class OrdersLab:
    web: dict[str, Any]
    """web1 and web2: the lab's SSHHost of each."""
    backups: Path
    dump: Dump
    balancer: Recorder
    health: dict[str, Recorder]
    config: Path
    state: Path
    env: dict[str, str]

    def warroom(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The CLI with this lab's config and the database password in the environment."""
        return warroom(*args, "-c", str(self.config), env=self.env)

    def incident(self) -> str:
        [incident] = [d.name for d in (self.state / "incidents").iterdir()]
        return incident


@contextmanager
def orders_lab(tmp_path: Path, lab, db) -> Iterator[OrdersLab]:
    """web1 and web2 running release 2.3.0, a damaged database with a dump on web1, the balancer
    and both health endpoints serving, and the shipped config pointed at all of it."""
    web = {name: lab.start(name) for name in ("web1", "web2")}
    for host in web.values():
        prepare_app_host(host.root)
    backups = web["web1"].root / "backups" / "orders"
    backups.mkdir(parents=True)
    dump = small_dump(tmp_path / "orders.sql")
    place(dump.sql, backups, "orders-2026-12-04-0300.sql", age_minutes=20)
    db.reset()  # the database as the bad release left it
    with (
        recording_server(Recorder()) as balancer,
        recording_server(Recorder(health_root=web["web1"].root)) as health1,
        recording_server(Recorder(health_root=web["web2"].root)) as health2,
    ):
        health = {"web1": health1, "web2": health2}
        config = lab_config(
            tmp_path / "config.toml",
            lab,
            lb_url=balancer.url("/api"),
            health={name: server.url("/healthz") for name, server in health.items()},
            backup_dir=backups,
            db_name=db.name,
            db_user=db.user,
        )
        env = {PASSWORD_ENV: db.password}
        yield OrdersLab(web, backups, dump, balancer, health, config, tmp_path / "state", env)
