"""The application's build and admin tools: ``php artisan``, ``composer install``, ``flutter``."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path

from .state import DB_DUMP_MEMBER, Refused, load_dump, state_dir, write_atomic


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
