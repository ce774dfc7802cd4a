"""Hosts resolved for connecting: address, port, user, keys and the bastion chain of each.

A host is what ``[hosts.NAME]`` says, completed (with ``[environment] ssh_config`` on) by the
OpenSSH client config's ``Host`` blocks the way ``ssh NAME`` would read them: what the warroom
config sets explicitly wins, like ssh's command-line options. With ``ssh_config`` off no OpenSSH
config file is read at all, so what ``check`` verifies is what a run does.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from console.model import defaults
from console.model.config import Host, LoadedConfig
from console.model.errors import ConfigError

MAX_HOPS = 8
"""A bastion chain longer than this is taken for a loop (an ssh_config ProxyJump can name itself)."""


@dataclass(frozen=True)
class Target:
    """A host as the config describes it, resolved for connecting."""

    name: str
    address: str
    port: int
    user: str
    identity_file: str | None
    known_hosts: str
    connect_timeout: float = 10.0
    keepalive: int = 15
    jump: Target | None = None
    """The bastion this host is reached through (itself a target, with its own chain)."""
    alias: str = ""
    """The address as written, when the OpenSSH config resolved it to another (``app1``)."""
    passphrase: str = ""
    """The secret reference of the identity file's passphrase (never the value)."""
    sudo_password: str = ""
    """The secret reference of the user's sudo password on this host (never the value)."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Target:
        """From the plan's journal record (a journal from before bastions has no ``jump``)."""
        data = dict(data)
        if data.get("jump") is not None:
            data["jump"] = cls.from_dict(data["jump"])
        return cls(**data)

    def chain(self) -> list[Target]:
        """The bastions in connection order: the first is dialled from this machine."""
        hops: list[Target] = []
        hop = self.jump
        while hop is not None:
            hops.insert(0, hop)
            hop = hop.jump
        return hops

    def login(self) -> str:
        return f"{self.user}@{self.address}:{self.port}"

    def route(self) -> str:
        """``deploy@10.0.0.5:22 via bastion`` (every hop named), as plan, check and report show it."""
        hops = " -> ".join(h.name for h in self.chain())
        return self.login() + (f" via {hops}" if hops else "")


def resolve_targets(config: LoadedConfig, names: set[str] | list[str]) -> dict[str, Target]:
    """The targets of ``names`` and of every bastion they are reached through (config order,
    bastions first so a check shows them before the hosts behind them)."""
    resolver = _Resolver(config)
    for name in config.model.hosts:
        if name in names:
            resolver.target(name, ())
    order = {name: i for i, name in enumerate(config.model.hosts)}
    found = resolver.targets
    depth = {name: len(t.chain()) for name, t in found.items()}
    return dict(sorted(found.items(), key=lambda kv: (depth[kv[0]], order.get(kv[0], len(order)))))


class _Resolver:
    def __init__(self, config: LoadedConfig) -> None:
        self.config = config
        self.targets: dict[str, Target] = {}
        self._ssh = _ssh_config_paths(config)

    def target(self, name: str, seen: tuple[str, ...]) -> Target:
        if name in self.targets:
            return self.targets[name]
        if name in seen or len(seen) > MAX_HOPS:
            loop = " -> ".join((*seen, name))
            raise self.config.error(("hosts", seen[0], "jump"), f"the bastion chain loops: {loop}")
        host = self.config.model.hosts[name]
        found = self._resolve(name, host, (*seen, name))
        self.targets[name] = found
        return found

    def _resolve(self, name: str, host: Host, seen: tuple[str, ...]) -> Target:
        explicit = host.model_fields_set
        options = self._ssh_options(name, host.address, host.user, host.port if "port" in explicit else None)
        address = str(options.get("Hostname") or host.address)
        known = host.known_hosts if "known_hosts" in explicit else _first(options.get("UserKnownHostsFile"))
        identity = host.identity_file or _first(options.get("IdentityFile"))
        target = Target(
            name=name,
            address=address,
            port=host.port if "port" in explicit else int(options.get("Port") or 22),  # type: ignore[call-overload]
            user=host.user or str(options.get("User") or _local_user()),
            identity_file=os.path.expanduser(identity) if identity else None,
            known_hosts=os.path.expanduser(known or defaults.KNOWN_HOSTS),
            connect_timeout=host.connect_timeout,
            keepalive=host.keepalive,
            alias=host.address if address != host.address else "",
            passphrase=host.passphrase or "",
            sudo_password=host.sudo_password or "",
        )
        if host.jump:
            return replace(target, jump=self.target(host.jump, seen))
        proxy = str(options.get("ProxyJump") or "")
        if proxy and proxy.lower() != "none":
            return replace(target, jump=self._proxy_chain(name, proxy, seen))
        return target

    def _proxy_chain(self, name: str, proxy: str, seen: tuple[str, ...]) -> Target:
        """``ProxyJump a,b``: dial a, then b through a, then the host through b. A hop that names a
        configured host is that host; any other is resolved through the OpenSSH config too."""
        jump: Target | None = None
        for spec in (part.strip() for part in proxy.split(",")):
            user, hop, port = _parse_hop(spec)
            if not hop:
                raise self._ssh_error(f"host {name}: ProxyJump {proxy!r} has an empty hop")
            if hop in self.config.model.hosts and not user and port is None:
                found = self.target(hop, seen)
                if jump is not None and found.jump != jump:  # one host, one route: the pool keys by name
                    raise self._ssh_error(
                        f"host {name}: ProxyJump {proxy!r} reaches {hop} through {jump.name}, but [hosts.{hop}] "
                        f"is reached {'through ' + found.jump.name if found.jump else 'directly'}: "
                        f'set hosts.{hop}.jump = "{jump.name}" (a [hosts] entry) or list only {hop}'
                    )
                jump = found
                continue
            if hop in seen or len(seen) > MAX_HOPS:
                raise self._ssh_error(f"the bastion chain loops: {' -> '.join((*seen, hop))}")
            options = self._ssh_options(hop, hop, user or None, port)
            known = _first(options.get("UserKnownHostsFile"))
            identity = _first(options.get("IdentityFile"))
            address = str(options.get("Hostname") or hop)
            hop_target = Target(
                name=hop,
                address=address,
                port=port or int(options.get("Port") or 22),  # type: ignore[call-overload]
                user=user or str(options.get("User") or _local_user()),
                identity_file=os.path.expanduser(identity) if identity else None,
                known_hosts=os.path.expanduser(known or defaults.KNOWN_HOSTS),
                alias=hop if address != hop else "",
            )
            if jump is None:
                own = str(options.get("ProxyJump") or "")
                if own and own.lower() != "none":
                    jump = self._proxy_chain(hop, own, (*seen, hop))
            hop_target = replace(hop_target, jump=jump)
            if self.targets.get(hop, hop_target) != hop_target:
                raise self._ssh_error(f"ProxyJump host {hop} is reached two different ways; give it a [hosts] entry")
            self.targets[hop] = hop_target
            jump = hop_target
        assert jump is not None
        return jump

    def _ssh_options(self, name: str, address: str, user: str | None, port: int | None) -> dict[str, Any]:
        if not self._ssh:
            return {}
        # imported only with ssh_config on: asyncssh is slow to import (the console paints first)
        from asyncssh.config import ConfigParseError, SSHClientConfig

        try:
            parsed = SSHClientConfig.load(
                None, self._ssh, False, False, False, _local_user(), user or (), address, port or ()
            )
        except ConfigParseError as exc:
            raise self._ssh_error(f"host {name}: {exc}") from None
        except OSError as exc:
            raise self._ssh_error(f"cannot read {exc.filename}: {exc.strerror}") from None
        except (ValueError, LookupError, TypeError) as exc:  # the parser's own slips on odd lines ("=")
            where = ", ".join(map(str, self._ssh))
            raise self._ssh_error(f"host {name}: {where} cannot be parsed ({type(exc).__name__}: {exc})") from None
        return {
            key: parsed.get(key)
            for key in ("Hostname", "Port", "User", "IdentityFile", "ProxyJump", "UserKnownHostsFile")
        }

    def _ssh_error(self, problem: str) -> ConfigError:
        return self.config.error(("environment", "ssh_config"), problem)


def _ssh_config_paths(config: LoadedConfig) -> list[Path]:
    setting = config.model.environment.ssh_config
    if setting is False:
        return []
    path = Path("~/.ssh/config" if setting is True else str(setting)).expanduser()
    if not path.is_absolute() and setting is not True:
        path = config.path.parent / path
    if not path.exists():
        if setting is True:
            return []  # like ssh: no user config is no aliases
        raise config.error(("environment", "ssh_config"), f"file {path} does not exist")
    return [path]


def _parse_hop(spec: str) -> tuple[str, str, int | None]:
    """``[user@]host[:port]`` (``[v6]:port`` too) of a ProxyJump hop; ssh:// URLs as OpenSSH allows."""
    spec = spec.removeprefix("ssh://")
    user, _, rest = spec.rpartition("@")
    port: int | None = None
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port_text = tail.removeprefix(":")
    else:
        host, _, port_text = rest.partition(":")
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            return user, "", None
        port = int(port_text)
    return user, host, port


def _first(value: object) -> str | None:
    if isinstance(value, list | tuple):
        return str(value[0]) if value else None
    return str(value) if value else None


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "root"
