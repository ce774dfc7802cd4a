"""The stand-in commands of the drill sandbox: php artisan, composer, flutter, docker-compose, ...

This module runs *inside the sandbox*, not inside warroom: :mod:`console.drill.standins` copies it
to ``<sandbox>/libexec/drill_tools.py`` and writes one tiny script per command into
``<sandbox>/bin`` that calls :func:`main` with the sandbox root. So it imports the standard
library only, and each command changes the sandbox the way the real tool changes a server:

- ``var/state/maintenance`` exists while the app is in maintenance mode (it holds the message);
- ``var/state/services`` says ``up`` or ``down`` per service, ``var/state/version`` which
  checked-out tag the running services were started from;
- ``var/db.sqlite3`` is the database: ``mysql`` and ``artisan backup:restore`` really load the
  MySQL-style dump into it (sqlite understands the subset the drill's dumps use);
- ``var/state/db_restored_from``, ``composer``, ``flutter`` record what was restored or built;
- ``var/log/<service>.log`` is what ``docker-compose logs`` and ``journalctl`` show, and
  ``var/log/commands.log`` every stand-in call (the drill's own audit trail).

Anything a stand-in does not rehearse exits 1 with a message that says so, rather than
pretending to succeed.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

SERVICES = ("salonmanager-backend", "salonmanager-frontend")
APP = "srv/salonmanager"
DB_DUMP_MEMBER = "db-dumps/mysql-salonmanager.sql"


class Refused(Exception):
    """A stand-in refuses its arguments: the message goes to stderr, ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# ----- the sandbox's state ---------------------------------------------------------------------


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` in one step: the health endpoint reads these files concurrently."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def state_dir(root: Path) -> Path:
    return root / "var" / "state"


def read_services(root: Path) -> dict[str, str]:
    """``{service: "up" | "down"}``; a service never started is down."""
    found = dict.fromkeys(SERVICES, "down")
    path = state_dir(root) / "services"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            name, _, state = line.partition(" ")
            if name:
                found[name] = state.strip()
    return found


def set_services(root: Path, names: list[str], state: str) -> None:
    services = read_services(root)
    for name in names:
        services[name] = state
    write_atomic(state_dir(root) / "services", "".join(f"{n} {s}\n" for n, s in services.items()))
    message = "stopped"
    if state == "up":
        version = checked_out(root)
        write_atomic(state_dir(root) / "version", version + "\n")
        message = f"started SalonManager {version}"
    for name in names:
        log_service(root, name, message)


def checked_out(root: Path) -> str:
    """The tag (or commit) checked out in the app tree, as ``git describe`` names it."""
    result = subprocess.run(
        ["git", "-C", str(root / APP), "describe", "--tags", "--always"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "unknown"


def log_service(root: Path, service: str, message: str) -> None:
    path = root / "var" / "log" / f"{service}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"{_now()} {message}\n")


def service_log(root: Path, service: str) -> list[tuple[str, str]]:
    path = root / "var" / "log" / f"{service}.log"
    if not path.exists():
        return []
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        stamp, _, message = line.partition(" ")
        lines.append((stamp, message))
    return lines


def audit(root: Path, tool: str, argv: list[str]) -> None:
    path = root / "var" / "log" / "commands.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"{_now()} {Path.cwd()} {json.dumps([tool, *argv])}\n")


def load_dump(root: Path, sql: str, source: str) -> dict[str, int]:
    """Load a dump into the sandbox database; returns the row count of every table."""
    path = root / "var" / "db.sqlite3"
    conn = sqlite3.connect(path)
    try:
        conn.executescript(sql)
        conn.commit()
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        counts = {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
    except sqlite3.Error as exc:
        raise Refused(f"ERROR 1064 (42000): {exc}") from None
    finally:
        conn.close()
    digest = hashlib.sha256(sql.encode()).hexdigest()
    write_atomic(state_dir(root) / "db_restored_from", f"{source}\nsha256 {digest}\n{json.dumps(counts)}\n")
    return counts


# ----- php artisan -----------------------------------------------------------------------------


def _options(args: list[str], known: tuple[str, ...], command: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for arg in args:
        name, eq, value = arg.partition("=")
        if name in ("-n", "--no-interaction"):
            continue
        if name not in known:
            raise Refused(f'The "{name}" option does not exist. (artisan {command})')
        found[name] = value if eq else ""
    return found


def php(root: Path, argv: list[str]) -> int:
    if not argv or argv[0] != "artisan":
        raise Refused(f"drill: the php stand-in only runs artisan (down, up, backup:restore, migrate), not: {argv}")
    backend = Path.cwd()
    if not (backend / "artisan").is_file():
        raise Refused("Could not open input file: artisan")
    command, args = (argv[1], argv[2:]) if len(argv) > 1 else ("", [])
    handler = _ARTISAN.get(command)
    if handler is None:
        raise Refused(
            f"drill: artisan {command or '(no command)'} is not rehearsed; the stand-in knows: {', '.join(_ARTISAN)}"
        )
    return handler(root, backend, args)


def artisan_down(root: Path, backend: Path, args: list[str]) -> int:
    opts = _options(args, ("--message", "--retry", "--refresh", "--secret", "--render"), "down")
    path = state_dir(root) / "maintenance"
    if path.exists():
        print("   INFO  Application is already down.")
        return 0
    write_atomic(path, opts.get("--message", "") + "\n")
    print("   INFO  Application is now in maintenance mode.")
    return 0


def artisan_up(root: Path, backend: Path, args: list[str]) -> int:
    _options(args, (), "up")
    path = state_dir(root) / "maintenance"
    if not path.exists():
        print("   INFO  Application is already up.")
        return 0
    path.unlink()
    print("   INFO  Application is now live.")
    return 0


def artisan_backup_restore(root: Path, backend: Path, args: list[str]) -> int:
    opts = _options(args, ("--disk", "--backup", "--connection", "--reset"), "backup:restore")
    disk = opts.get("--disk", "local")
    if disk != "local":
        raise Refused(f"Disk [{disk}] does not have a configured driver.")
    backups = backend / "storage" / "app" / "backups"
    archives = sorted(backups.glob("*/*.zip"))
    wanted = opts.get("--backup", "latest")
    if wanted == "latest":
        if not archives:
            raise Refused(f"No backups found on disk [{disk}] in {backups}.")
        archive = archives[-1]
    else:
        matches = [a for a in archives if wanted in (a.name, str(a.relative_to(backups)))]
        if not matches:
            raise Refused(f"Backup [{wanted}] not found on disk [{disk}].")
        archive = matches[0]
    name = archive.relative_to(backups)
    print(f"Downloading backup {name} from disk {disk}…")
    with zipfile.ZipFile(archive) as bundle:
        if DB_DUMP_MEMBER not in bundle.namelist():
            raise Refused(f"Backup {name} holds no database dump ({DB_DUMP_MEMBER}).")
        print(f"Extracting database dump {DB_DUMP_MEMBER}…")
        sql = bundle.read(DB_DUMP_MEMBER).decode("utf-8")
    print("Importing database…")
    counts = load_dump(root, sql, f"artisan backup:restore {name} ({DB_DUMP_MEMBER})")
    print(f"Database restored successfully: {sum(counts.values())} rows in {len(counts)} tables.")
    return 0


def artisan_migrate(root: Path, backend: Path, args: list[str]) -> int:
    opts = _options(args, ("--force", "--step", "--pretend"), "migrate")
    env = _dotenv(backend / ".env")
    if env.get("APP_ENV", "production") == "production" and "--force" not in opts:
        raise Refused("   ERROR  Application In Production! Use --force to run migrations non-interactively.")
    files = sorted(p.stem for p in (backend / "database" / "migrations").glob("*.php"))
    conn = sqlite3.connect(root / "var" / "db.sqlite3")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS migrations (id INTEGER PRIMARY KEY, migration VARCHAR(255), batch INTEGER)"
        )
        ran = {row[0] for row in conn.execute("SELECT migration FROM migrations")}
        pending = [f for f in files if f not in ran]
        if not pending:
            print("   INFO  Nothing to migrate.")
            return 0
        batch = (conn.execute("SELECT MAX(batch) FROM migrations").fetchone()[0] or 0) + 1
        print("   INFO  Running migrations.")
        for name in pending:
            conn.execute("INSERT INTO migrations (migration, batch) VALUES (?, ?)", (name, batch))
            print(f"  {name} .......... DONE")
        conn.commit()
    finally:
        conn.close()
    return 0


_ARTISAN = {
    "down": artisan_down,
    "up": artisan_up,
    "backup:restore": artisan_backup_restore,
    "migrate": artisan_migrate,
}


def _dotenv(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.partition("=") for line in path.read_text(encoding="utf-8").splitlines())
    return {k.strip(): v.strip().strip('"') for k, eq, v in pairs if eq and not k.startswith("#")}


# ----- composer, flutter ----------------------------------------------------------------------


def composer(root: Path, argv: list[str]) -> int:
    if not argv or argv[0] != "install":
        raise Refused(f"drill: the composer stand-in only runs install, not: {argv}")
    allowed = ("--no-dev", "--optimize-autoloader", "-o", "--no-interaction", "-n", "--prefer-dist")
    for arg in argv[1:]:
        if arg not in allowed:
            raise Refused(f'The "{arg}" option does not exist.')
    manifest = Path.cwd() / "composer.json"
    if not manifest.is_file():
        raise Refused("Composer could not find a composer.json file in " + str(Path.cwd()))
    data = json.loads(manifest.read_text(encoding="utf-8"))
    requires = dict(data.get("require", {}))
    if "--no-dev" not in argv:
        requires.update(data.get("require-dev", {}))
    packages = {name: version for name, version in requires.items() if "/" in name}
    print("Installing dependencies from lock file")
    print(f"Package operations: {len(packages)} installs, 0 updates, 0 removals")
    for name, version in packages.items():
        print(f"  - Installing {name} ({version})")
    vendor = Path.cwd() / "vendor"
    write_atomic(
        vendor / "composer" / "installed.json",
        json.dumps({"packages": packages, "dev": "--no-dev" not in argv}, indent=1) + "\n",
    )
    write_atomic(vendor / "autoload.php", f"<?php // {data.get('name')} {data.get('version', '')} (drill)\n")
    optimized = "optimized " if {"-o", "--optimize-autoloader"} & set(argv) else ""
    print(f"Generating {optimized}autoload files")
    write_atomic(state_dir(root) / "composer", f"{data.get('name')} {data.get('version', '')}\n")
    return 0


def _pubspec(cwd: Path) -> dict[str, str]:
    path = cwd / "pubspec.yaml"
    if not path.is_file():
        raise Refused(f"Error: No pubspec.yaml file found in {cwd}.")
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition(":")
        if sep and not line.startswith((" ", "\t", "#")):
            found[key.strip()] = value.strip()
    return found


def flutter(root: Path, argv: list[str]) -> int:
    cwd = Path.cwd()
    spec = _pubspec(cwd)
    if argv == ["pub", "get"]:
        print(f"Resolving dependencies in {cwd}...")
        write_atomic(
            cwd / ".dart_tool" / "package_config.json",
            json.dumps({"configVersion": 2, "generator": "drill", "name": spec.get("name")}) + "\n",
        )
        print("Got dependencies!")
        return 0
    if argv[:2] == ["build", "web"] and set(argv[2:]) <= {"--release"}:
        if not (cwd / ".dart_tool" / "package_config.json").exists():
            raise Refused("Error: run `flutter pub get` first (no .dart_tool/package_config.json).")
        version = spec.get("version", "")
        print("Compiling lib/main.dart for the Web...")
        write_atomic(
            cwd / "build" / "web" / "index.html",
            f'<!DOCTYPE html><html><head><meta name="version" content="{version}">'
            f"<title>{spec.get('name')}</title></head><body></body></html>\n",
        )
        write_atomic(cwd / "build" / "web" / "version.json", json.dumps({"version": version}) + "\n")
        write_atomic(state_dir(root) / "flutter", f"{spec.get('name')} {version}\n")
        print("✓ Built build/web")
        return 0
    raise Refused(f"drill: the flutter stand-in only runs `pub get` and `build web --release`, not: {argv}")


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
            print(f"{name:<24} {'Up' if state.get(name) == 'up' else 'Exit 0'}")
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


TOOLS = {
    "php": php,
    "composer": composer,
    "flutter": flutter,
    "docker-compose": docker_compose,
    "systemctl": systemctl,
    "journalctl": journalctl,
    "sudo": sudo,
    "mysql": mysql,
    "curl": curl,
}


def main(root: str, tool: str, argv: list[str]) -> int:
    """Entry point of every stand-in script in ``<sandbox>/bin``."""
    base = Path(root)
    audit(base, tool, argv)
    try:
        return TOOLS[tool](base, argv)
    except Refused as exc:
        sys.stdout.flush()
        print(str(exc), file=sys.stderr)
        return exc.code
