"""The values a config gives a runbook's variables, per host: most specific wins.

Three levels: ``[vars]`` (everyone), ``[group_vars.GROUP]`` (the hosts of a group) and
``[hosts.NAME.vars]`` (one host), over the runbook's defaults. A host in two groups that disagree
on a value it does not set itself is ambiguous, and an error naming both groups. Each value is
checked against its declaration where it is written, so errors name file, line and key.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from console.model.errors import ConfigError
from console.model.tomlsource import TomlSource
from console.model.validation import show_value as _show
from console.model.variables import HOST_VARS, Variable, flatten, type_problem


@dataclass(frozen=True)
class Value:
    """A value and where it came from (a config key path, or the runbook's default)."""

    value: Any
    loc: tuple[Any, ...] = ()

    @property
    def where(self) -> str:
        return ".".join(map(str, self.loc)) if self.loc else "the runbook's default"


@dataclass
class HostValues:
    """Every variable's value on one host (``None`` host: the environment-wide level)."""

    host: str | None
    values: dict[str, Value] = field(default_factory=dict)


def check_level(
    table: dict[str, Any], loc: tuple[Any, ...], declared: dict[str, Variable], source: TomlSource
) -> dict[str, Value]:
    """One level's values by variable name; an undeclared or ill-typed value is a config error."""
    found: dict[str, Value] = {}
    for path, value in flatten(table):
        name = ".".join(path)
        key_loc = (*loc, *path)
        var = declared.get(name)
        if var is None:
            if name in HOST_VARS or path[0] == "host":
                raise source.error(key_loc, f"{name} is built in (host.name, host.address, host.user); not settable")
            raise source.error(key_loc, f"runbook declares no variable {name!r}; {_known(name, declared)}")
        problem = type_problem(var.type, value)
        if problem:
            got = "" if var.secret else f", got {_show(value)}"  # a secret's value is never echoed
            raise source.error(key_loc, f"{problem}{got} ({name} is of type {var.type})")
        found[name] = Value(value, key_loc)
    return found


def _known(name: str, declared: dict[str, Variable]) -> str:
    near = difflib.get_close_matches(name, list(declared), n=1)
    hint = f"did you mean {near[0]!r}? " if near else ""
    names = ", ".join(sorted(declared)) or "none"
    return f"{hint}declared: {names}"


def bind(
    declared: dict[str, Variable],
    source: TomlSource,
    *,
    common: dict[str, Any],
    groups: dict[str, list[str]],
    group_vars: dict[str, dict[str, Any]],
    hosts: dict[str, dict[str, Any]],
    host_facts: dict[str, dict[str, str]],
) -> tuple[HostValues, dict[str, HostValues]]:
    """The environment-wide values and each host's values. ``hosts`` maps a host to its own
    ``vars`` table, ``host_facts`` to its ``host.*`` built-ins."""
    defaults = {n: Value(v.default) for n, v in declared.items() if v.has_default}
    base = {**defaults, **check_level(common, ("vars",), declared, source)}
    for group in group_vars:
        if group not in groups:
            known = ", ".join(sorted(groups)) or "none"
            raise source.error(("group_vars", group), f"{group!r} is not a group in [groups] (defined: {known})")
    by_group = {g: check_level(t, ("group_vars", g), declared, source) for g, t in group_vars.items()}
    per_host: dict[str, HostValues] = {}
    for host, own_table in hosts.items():
        own = check_level(own_table, ("hosts", host, "vars"), declared, source)
        values = dict(base)
        setters: dict[str, tuple[str, Value]] = {}
        for group, members in groups.items():
            for name, value in by_group.get(group, {}).items():
                if host not in members:
                    continue
                earlier = setters.get(name)
                if earlier and earlier[1].value != value.value and name not in own:
                    raise source.error(
                        ("hosts", host),
                        f"host {host!r} is in groups {earlier[0]!r} and {group!r}, which set {name} differently "
                        f"({earlier[1].value!r} and {value.value!r}); set it in [hosts.{host}.vars]",
                    )
                setters[name] = (group, value)
        values.update({name: value for name, (_, value) in setters.items()})
        values.update(own)
        values.update({name: Value(fact) for name, fact in host_facts.get(host, {}).items()})
        per_host[host] = HostValues(host, values)
    return HostValues(None, base), per_host


def missing_error(
    source: TomlSource, name: str, host: str | None, step_id: str, runbook_id: str, groups: list[str]
) -> ConfigError:
    """No value and no default for a variable a step needs: say where it would go."""
    parts = name.split(".")
    where = [f"[vars] ({'vars.' + name})"]
    where += [f"[group_vars.{g}] (group_vars.{g}.{name})" for g in groups]
    if host:
        where.append(f"[hosts.{host}.vars] (hosts.{host}.vars.{name})")
    on = f" on host {host!r}" if host else ""
    return source.error(
        ("vars", *parts),
        f"missing: runbook {runbook_id!r} step {step_id!r} needs {name}{on} and it has no default; "
        f"set it under {' or '.join(where)}",
    )


__all__ = ["HostValues", "Value", "bind", "check_level", "missing_error"]
