"""The environment a runbook runs against: hosts, groups, app paths, database, channels, people.

Secrets are never written in the file: a secret field holds a reference, ``env:NAME`` or
``file:PATH``, resolved only when a step needs it (see :mod:`console.model.secrets`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, model_validator

from console.model import defaults
from console.model.errors import ConfigError, SecretError
from console.model.runbook import BUILTIN, Contact, Ident
from console.model.secrets import Redactor, resolve_ref
from console.model.tomlsource import TomlSource, load_toml
from console.model.validation import StrictModel, pattern, validate
from console.model.variables import flatten, is_secret_ref
from console.model.webconfig import Web


def _secret_ref(value: str) -> str:
    if value.startswith("env:") and value[4:].replace("_", "a").isalnum() and value[4:]:
        return value
    if value.startswith("file:") and len(value) > 5:
        return value
    raise ValueError("inline secrets are not allowed: write env:NAME or file:PATH")


# Field names that hold secret references wherever they appear in the config.
SECRET_FIELDS = ("password", "webhook_url", "url", "passphrase", "sudo_password")

SecretRef = Annotated[str, AfterValidator(_secret_ref)]
Port = Annotated[int, Field(ge=1, le=65535)]


class Environment(StrictModel):
    name: str
    state_dir: str = defaults.STATE_DIR
    runbook: str = defaults.RUNBOOK
    ssh_config: bool | str = False
    """Read the OpenSSH client config (``true``: ~/.ssh/config, or a path) for host aliases; off,
    no OpenSSH config file is read at all."""


class Host(StrictModel):
    address: str
    port: Port = 22
    user: str | None = None
    """Required unless ``[environment] ssh_config`` may supply it (then ssh's own default too)."""
    identity_file: str | None = None
    passphrase: SecretRef | None = None
    """The encrypted identity file's passphrase, as a reference (headless runs; the console asks)."""
    jump: Ident | None = None
    """The bastion: another host of this config, itself reached through its own ``jump``."""
    sudo_password: SecretRef | None = None
    """For ``sudo = true`` steps when sudo wants a password: fed on stdin, never in argv."""
    known_hosts: str = defaults.KNOWN_HOSTS
    connect_timeout: float = Field(default=10.0, gt=0)
    keepalive: int = Field(default=15, ge=0)
    vars: dict[str, Any] = {}
    """This host's own values of the runbook's variables (the most specific level)."""


class Slack(StrictModel):
    webhook_url: SecretRef
    channel: str = "#ops"


class Email(StrictModel):
    smtp_host: str
    smtp_port: Port = 587
    starttls: bool = True
    username: str = ""
    password: SecretRef | None = None
    sender: str
    recipients: list[str] = Field(min_length=1)


class Webhook(StrictModel):
    url: SecretRef


class Notify(StrictModel):
    slack: Slack | None = None
    email: Email | None = None
    statuspage: Webhook | None = None


class ServerUser(StrictModel):
    name: Ident
    role: Literal["driver", "observer"]
    public_keys: list[str] = []
    authorized_keys: str | None = None


class Server(StrictModel):
    listen: str = "127.0.0.1"
    port: Port = 2222
    host_key: str = ""
    users: list[ServerUser] = []
    seat_grace: float = Field(default=60.0, ge=0)
    keepalive: int = Field(default=15, ge=1)
    max_sessions: int = Field(default=64, ge=1)
    max_sessions_per_user: int = Field(default=16, ge=1)
    driver_reserved_sessions: int = Field(default=8, ge=0)
    """Of ``max_sessions``, the slots only driver-eligible users may take."""
    max_unauthenticated: int = Field(default=16, ge=1)
    """Connections still logging in at once; more are dropped at once."""
    observers_may_note: bool = True
    """Observers may add notes to the shared timeline (the one thing they may do); journaled as policy."""
    shared_views: bool = True
    """Observers on the same kind and size of terminal share one console, whose frames the server
    copies to each (an observer who presses a key gets one of their own); false: one each."""

    @model_validator(mode="after")
    def _observers_get_a_slot(self) -> Server:
        if self.driver_reserved_sessions >= self.max_sessions:
            raise ValueError("driver_reserved_sessions must be below max_sessions, or no observer could ever join")
        return self


class Config(StrictModel):
    environment: Environment
    variants: dict[Ident, Ident] = {}
    hosts: dict[Ident, Host] = Field(min_length=1)
    groups: dict[Ident, list[Ident]] = {}
    vars: dict[str, Any] = {}
    """Values of the runbook's variables for every host (checked against its declarations by the plan)."""
    group_vars: dict[Ident, dict[str, Any]] = {}
    """Values per group: ``[group_vars.GROUP]``, over ``[vars]``."""
    notify: Notify = Notify()
    contacts: list[Contact] = []
    server: Server = Server()
    web: Web = Web()
    """The read-only status page (:mod:`console.model.webconfig`)."""
    keymap: dict[
        Annotated[
            str,
            StringConstraints(
                pattern=pattern(r"^[a-z0-9_.-]+$", "a binding id uses lowercase letters, digits, '_', '.' and '-'")
            ),
        ],
        str,
    ] = {}

    def state_dir(self) -> Path:
        return Path(os.path.expanduser(self.environment.state_dir))


class LoadedConfig:
    """A validated config with its source (for line numbers) and its file path."""

    def __init__(self, model: Config, source: TomlSource, path: Path) -> None:
        self.model = model
        self.source = source
        self.path = path

    def error(self, loc: tuple, problem: str) -> ConfigError:
        return self.source.error(loc, problem)

    def runbook_ref(self) -> str:
        """``environment.runbook`` as :func:`console.model.runbook.load_runbook` takes it: a built-in
        name as is, a relative path read from the config's own directory (not wherever warroom
        happens to be started), like every tool that keeps its files beside its config."""
        ref = self.model.environment.runbook
        if ref in BUILTIN:
            return ref
        path = Path(ref).expanduser()
        if path.is_absolute():
            return str(path)
        beside = self.path.parent / path
        looks_like_a_file = "/" in ref or path.suffix == ".toml" or beside.exists()
        return str(beside) if looks_like_a_file else ref  # else a mistyped built-in name, said as such


def load_config(path: str | Path) -> LoadedConfig:
    """Load and validate a config file on its own (the runbook is checked in :mod:`console.model.plan`)."""
    file = Path(path).expanduser()
    source = load_toml(file, display=str(path))
    _refuse_old_sections(source)
    model = validate(Config, source, secret_keys=SECRET_FIELDS)
    loaded = LoadedConfig(model, source, file)
    _check_references(loaded)
    return loaded


OLD_SECTIONS = ("app", "database", "health", "docker")
"""Fixed sections of earlier configs; their values are now variables the runbook declares."""


def _refuse_old_sections(source: TomlSource) -> None:
    for name in OLD_SECTIONS:
        if name in source.data:
            raise source.error(
                (name,),
                f"[{name}] is now [vars.{name}] (values the runbook declares; see warroom init --runbook NAME)",
            )


def _check_references(cfg: LoadedConfig) -> None:
    model = cfg.model
    for group, members in model.groups.items():
        if group in model.hosts:
            raise cfg.error(("groups", group), f"group {group!r} has the same name as a host")
        if not members:
            raise cfg.error(("groups", group), "a group needs at least one host")
        for member in members:
            if member not in model.hosts:
                known = ", ".join(sorted(model.hosts))
                raise cfg.error(("groups", group), f"host {member!r} is not defined in [hosts] (defined: {known})")
    _check_hosts(cfg)
    seen_users: set[str] = set()
    for i, user in enumerate(model.server.users):
        if user.name in seen_users:
            raise cfg.error(("server", "users", i, "name"), f"duplicate user {user.name!r}")
        seen_users.add(user.name)
        if not user.public_keys and not user.authorized_keys:
            raise cfg.error(("server", "users", i), "give public_keys or authorized_keys")


def _check_hosts(cfg: LoadedConfig) -> None:
    """Every ``jump`` names another host and no chain of them loops; without ssh_config (which can
    supply it) every host names its user."""
    hosts = cfg.model.hosts
    for name, host in hosts.items():
        if host.user is None and cfg.model.environment.ssh_config is False:
            raise cfg.error(("hosts", name, "user"), "missing required key")
        if host.jump is not None and host.jump not in hosts:
            known = ", ".join(sorted(hosts))
            raise cfg.error(("hosts", name, "jump"), f"host {host.jump!r} is not defined in [hosts] (defined: {known})")
    for name, host in hosts.items():
        chain, hop = [name], host.jump
        while hop is not None:
            if hop in chain:
                loop = " -> ".join([*chain[chain.index(hop) :], hop])
                raise cfg.error(("hosts", name, "jump"), f"the bastion chain loops: {loop}")
            chain.append(hop)
            hop = hosts[hop].jump


def unreadable(file: Path) -> str | None:
    """Why ``file`` cannot serve as a key or known_hosts file, or None if it can be read.

    Asked when a host is connected to (and by ``warroom check``), not when the config loads:
    ``init`` and ``plan`` touch no host and work on a machine without ~/.ssh/known_hosts."""
    if file.is_symlink() and not file.exists():
        return f"is a dangling symlink (to {file.readlink()})"
    if not file.exists():
        return "does not exist"
    if file.is_dir():
        return "is a directory, not a file"
    if not file.is_file():
        return "is not a regular file"
    try:
        with file.open("rb"):  # the real test: what ssh will do with it
            pass
    except OSError as exc:
        return f"is not readable ({exc.strerror})"
    return None


def secret_refs(node: object, prefix: str = "") -> list[tuple[str, str]]:
    """``(key path, reference)`` of every secret reference set in the config."""
    found: list[tuple[str, str]] = []
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            value = getattr(node, name)
            key = f"{prefix}{name}"
            if name in SECRET_FIELDS and isinstance(value, str) and value.startswith(("env:", "file:")):
                found.append((key, value))
            else:
                found.extend(secret_refs(value, key + "."))
    elif isinstance(node, dict):
        for name, value in node.items():
            found.extend(secret_refs(value, f"{prefix}{name}."))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(secret_refs(value, f"{prefix}{i}."))
    return found


def variable_refs(config: Config) -> list[tuple[str, str]]:
    """``(key path, reference)`` of every variable value that is a secret reference, at any level
    (the config alone cannot tell a secret variable: every reference-shaped value is taken)."""
    tables = [("vars", config.vars)]
    tables += [(f"group_vars.{g}", t) for g, t in config.group_vars.items()]
    tables += [(f"hosts.{h}.vars", host.vars) for h, host in config.hosts.items()]
    return [
        (".".join((prefix, *path)), value)
        for prefix, table in tables
        for path, value in flatten(table)
        if is_secret_ref(value)
    ]


def config_redactor(config: LoadedConfig | None) -> Redactor:
    """A redactor holding every secret the config can resolve now, so each is masked wherever it
    turns up (output, journal, report), not only where a step asked for it."""
    redactor = Redactor()
    if config is None:
        return redactor
    for key, ref in [*secret_refs(config.model), *variable_refs(config.model)]:
        try:
            resolve_ref(ref, where=key, redactor=redactor)
        except SecretError:
            continue  # not resolvable now; it is masked once a step resolves it
    return redactor
