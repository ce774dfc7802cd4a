"""The server's tools: ``docker-compose``, ``systemctl``, ``journalctl``, ``sudo``, ``mysql``, ``curl``."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from .state import CRASHED, SERVICES, Refused, load_dump, read_services, service_log, set_services

# ----- services: docker-compose, systemctl, journalctl, sudo ----------------------------------


def _compose_services(path: Path) -> list[str]:
    """Service names of a compose file (the two-space keys under ``services:``)."""
    names, inside = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            inside = line.rstrip() == "services:"
        elif inside and line.startswith("  ") and not line.startswith("   ") and line.rstrip().endswith(":"):
            names.append(line.strip()[:-1])
    return names


def docker_compose(root: Path, argv: list[str]) -> int:
    files: list[str] = []
    args = list(argv)
    while args and args[0].startswith("-"):
        flag = args.pop(0)
        if flag in ("-f", "--file") and args:
            files.append(args.pop(0))
        elif flag in ("-p", "--project-name") and args:
            args.pop(0)
        else:
            raise Refused(f"drill: docker-compose option {flag} is not rehearsed")
    path = Path.cwd() / (files[0] if files else "docker-compose.yml")
    if not path.is_file():
        raise Refused(f"ERROR: .FileNotFoundError: [Errno 2] No such file or directory: '{path}'")
    services = _compose_services(path)
    if not args:
        raise Refused("drill: docker-compose needs a command (down, up -d, logs, ps)")
    command, rest = args[0], args[1:]
    if command == "down" and not rest:
        for name in services:
            print(f"Stopping {name} ... done", file=sys.stderr)
        set_services(root, services, "down")
        for name in services:
            print(f"Removing {name} ... done", file=sys.stderr)
        return 0
    if command == "up":
        if "-d" not in rest:
            raise Refused("drill: `up` without -d attaches to the containers forever; use `up -d`")
        chosen = [a for a in rest if a != "-d"] or services
        unknown = [a for a in chosen if a not in services]
        if unknown:
            raise Refused(f"ERROR: No such service: {unknown[0]}")
        set_services(root, chosen, "up")
        for name in chosen:
            print(f"Starting {name} ... done", file=sys.stderr)
        return 0
    if command == "logs":
        return _compose_logs(root, services, rest)
    if command == "ps" and not rest:
        state = read_services(root)
        for name in services:
            shown = {"up": "Up", CRASHED: "Exit 1"}.get(state.get(name, ""), "Exit 0")
            print(f"{name:<24} {shown}")
        return 0
    raise Refused(f"drill: docker-compose {' '.join(args)} is not rehearsed (down, up -d, logs, ps)")


def _compose_logs(root: Path, services: list[str], args: list[str]) -> int:
    tail: int | None = None
    for arg in args:
        if arg.startswith("--tail="):
            tail = int(arg.split("=", 1)[1])
        elif arg in ("-f", "--follow"):
            raise Refused("drill: `logs -f` follows the logs forever; use --tail=N")
        elif arg not in ("--no-color", "-t", "--timestamps"):
            raise Refused(f"drill: docker-compose logs {arg} is not rehearsed")
    width = max(len(s) for s in services) if services else 0
    for service in services:
        lines = service_log(root, service)
        if tail is not None:
            lines = lines[-tail:] if tail else []
        for stamp, message in lines:
            print(f"{service:<{width}}  | {stamp} {message}")
    return 0


def _unit(name: str) -> str:
    unit = name.removesuffix(".service")
    if unit not in SERVICES:
        raise Refused(f"Unit {unit}.service not found.", code=5)
    return unit


def systemctl(root: Path, argv: list[str]) -> int:
    if len(argv) < 2:
        raise Refused("drill: systemctl needs a command and a unit (start, stop, restart, is-active)")
    command, units = argv[0], [_unit(u) for u in argv[1:]]
    if command in ("start", "stop"):
        set_services(root, units, "up" if command == "start" else "down")
        return 0
    if command == "restart":
        set_services(root, units, "down")
        set_services(root, units, "up")
        return 0
    if command == "is-active":
        state = read_services(root)
        for unit in units:
            print("active" if state.get(unit) == "up" else "inactive")
        return 0 if all(state.get(u) == "up" for u in units) else 3
    raise Refused(f"drill: systemctl {command} is not rehearsed (start, stop, restart, is-active)")


def journalctl(root: Path, argv: list[str]) -> int:
    units: list[str] = []
    count: int | None = None
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-u", "--unit") and args:
            units.append(_unit(args.pop(0)))
        elif arg in ("-n", "--lines") and args:
            count = int(args.pop(0))
        elif arg != "--no-pager":
            raise Refused(f"drill: journalctl {arg} is not rehearsed (-u UNIT, -n N, --no-pager)")
    entries = sorted((stamp, unit, message) for unit in units or SERVICES for stamp, message in service_log(root, unit))
    if count is not None:
        entries = entries[-count:] if count else []
    for stamp, unit, message in entries:
        print(f"{stamp} app1 {unit}[1]: {message}")
    return 0


def sudo(root: Path, argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        raise Refused("drill: the sudo stand-in runs a command as is: sudo COMMAND [ARGS]")
    try:
        os.execvp(argv[0], argv)
    except OSError:
        raise Refused(f"sudo: {argv[0]}: command not found") from None
    return 1  # not reached


# ----- mysql, curl ------------------------------------------------------------------------------


def mysql(root: Path, argv: list[str]) -> int:
    opts: dict[str, str] = {}
    database = ""
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-h", "-P", "-u") and args:
            opts[arg] = args.pop(0)
        elif arg.startswith(("--host=", "--port=", "--user=")):
            name, _, value = arg.partition("=")
            opts[{"--host": "-h", "--port": "-P", "--user": "-u"}[name]] = value
        elif arg == "-p" or arg.startswith(("-p", "--password")):
            raise Refused(
                "drill: -p prompts on a terminal (there is none) or puts the password in the process list; "
                "set MYSQL_PWD"
            )
        elif arg.startswith("-"):
            raise Refused(f"drill: mysql option {arg} is not rehearsed (-h, -P, -u, DATABASE; password in MYSQL_PWD)")
        elif not database:
            database = arg
        else:
            raise Refused(f"drill: unexpected argument {arg}")
    account = json.loads((root / "var" / "mysql.json").read_text(encoding="utf-8"))
    user = opts.get("-u", os.environ.get("USER", "root"))
    password = os.environ.get("MYSQL_PWD")
    using = "YES" if password else "NO"
    if user != account["user"] or hashlib.sha256((password or "").encode()).hexdigest() != account["password_sha256"]:
        raise Refused(f"ERROR 1045 (28000): Access denied for user '{user}'@'localhost' (using password: {using})")
    if database != account["database"]:
        raise Refused(f"ERROR 1049 (42000): Unknown database '{database}'")
    if sys.stdin.isatty():
        raise Refused("drill: the mysql stand-in restores a dump from stdin; there is no interactive shell")
    sql = sys.stdin.read()
    load_dump(root, sql, f"mysql {database} < stdin ({len(sql.encode())} bytes)")
    return 0


def curl(root: Path, argv: list[str]) -> int:
    fail = False
    urls = []
    for arg in argv:
        if arg.startswith("-") and not arg.startswith("--") and set(arg[1:]) <= set("fsS"):
            fail = fail or "f" in arg
        elif arg in ("--fail", "--silent", "--show-error"):
            fail = fail or arg == "--fail"
        elif arg.startswith("-"):
            raise Refused(f"drill: curl option {arg} is not rehearsed (-f, -s, -S, URL)", code=2)
        else:
            urls.append(arg)
    if len(urls) != 1:
        raise Refused("curl: try 'curl --help' for more information (the stand-in takes one URL)", code=2)
    try:
        with urllib.request.urlopen(urls[0], timeout=10) as response:
            sys.stdout.write(response.read().decode("utf-8", errors="replace"))
        return 0
    except urllib.error.HTTPError as exc:
        if fail:
            raise Refused(f"curl: (22) The requested URL returned error: {exc.code}", code=22) from None
        sys.stdout.write(exc.read().decode("utf-8", errors="replace"))
        return 0
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Refused(f"curl: (7) Failed to connect to {urls[0]}: {reason}", code=7) from None
