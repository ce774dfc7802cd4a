"""Rendering one runbook step for one host: its cwd, commands, params and secret references.

The values come from :mod:`console.model.varvalues` (the config's three levels over the
runbook's defaults); commands and cwd get them quoted by type and position
(:mod:`console.model.quoting`), params and targets get them raw. Secrets are never values here,
only their ``env:``/``file:`` references.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from console.model.config import SECRET_FIELDS, LoadedConfig
from console.model.errors import RunbookError
from console.model.quoting import Lookup, QuotingError, render_cwd, render_raw, render_shell
from console.model.runbook import LoadedRunbook, Step
from console.model.secrets import lookup as config_lookup
from console.model.variables import PLACEHOLDER
from console.model.varvalues import HostValues, bind, missing_error


class StepRenderer:
    """The bound values of one runbook and config, rendering steps host by host."""

    def __init__(self, runbook: LoadedRunbook, config: LoadedConfig, users: dict[str, str] | None = None) -> None:
        """``users``: each host's login as resolved (an OpenSSH config can supply it)."""
        self.runbook, self.config = runbook, config
        users = users or {}
        cfg = config.model
        self.base, self.hosts = bind(
            runbook.variables,
            config.source,
            common=cfg.vars,
            groups=cfg.groups,
            group_vars=cfg.group_vars,
            hosts={name: h.vars for name, h in cfg.hosts.items()},
            host_facts={
                name: {"host.name": name, "host.address": h.address, "host.user": users.get(name, h.user or "")}
                for name, h in cfg.hosts.items()
            },
        )

    def values(self, host: str | None) -> HostValues:
        return self.hosts.get(host or "", self.base)

    def lookup(self, host: str | None, step_id: str) -> Lookup:
        values = self.values(host)

        def find(name: str) -> tuple[str, Any]:
            var = self.runbook.variables.get(name)
            found = values.values.get(name)
            if found is None:
                groups = [g for g, members in self.config.model.groups.items() if host in members]
                raise missing_error(self.config.source, name, host, step_id, self.runbook.id, groups)
            return (var.type if var else "string", found.value)

        return find

    def targets(self, step: Step, loc: tuple[Any, ...]) -> str:
        value = render_raw(step.targets or "", self.lookup(None, step.id))
        if not isinstance(value, str):
            raise self.runbook.source.error(
                (*loc, "targets"), f"step {step.id!r}: targets must be a name", RunbookError
            )
        return value

    def render(self, step: Step, loc: tuple[Any, ...], host: str | None) -> dict[str, Any]:
        """``{cwd, commands, params, secrets}`` of ``step`` as ``host`` sees it."""
        find = self.lookup(host, step.id)
        try:
            cwd = render_cwd(step.cwd, find)
            commands = []
            for i, command in enumerate(step.commands):
                commands.append(self._shell(command, find, (*loc, "commands", i), step.id))
        except QuotingError as exc:
            raise self.runbook.source.error((*loc, "cwd"), f"step {step.id!r}: {exc}", RunbookError) from None
        return {
            "cwd": cwd,
            "commands": tuple(commands),
            "params": self._params(step, loc, find, host),
            "secrets": self._secrets(step, loc, host),
        }

    def _shell(self, text: str, find: Lookup, loc: tuple[Any, ...], step_id: str) -> str:
        try:
            return render_shell(text, find)
        except QuotingError as exc:
            raise self.runbook.source.error(loc, f"step {step_id!r}: {exc}", RunbookError) from None

    def _params(self, step: Step, loc: tuple[Any, ...], find: Lookup, host: str | None) -> dict[str, Any]:
        """The params rendered, and checked by the kind now: a value that only a placeholder gave
        (``rpo_minutes = "{{ database.rpo }}"``) is judged here, so ``warroom check`` and
        ``warroom plan`` refuse a bad one before any incident rather than the step failing in one."""
        held = [k for k, v in step.params.items() if isinstance(v, str) and PLACEHOLDER.search(v)]
        rendered = {k: render_raw(v, find) if k in held else _table(v, find) for k, v in step.params.items()}
        kind = self.runbook.kinds[step.kind]
        rendered = kind.rendered_params(rendered, held)
        rendered = self._paths(rendered, getattr(kind, "path_params", ()))
        problem = kind.check_rendered(rendered, step.timeout)
        if problem:
            on = f" on host {host!r}" if host else ""
            raise self.runbook.source.error(
                (*loc, "params"), f"step {step.id!r}: {problem} (once rendered{on})", RunbookError
            )
        return rendered

    def _paths(self, params: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
        """A kind's file params (an ansible playbook) read relative to the runbook file, made
        absolute here: the plan, journaled, then names the very file whatever the cwd."""
        if not keys or self.runbook.origin.startswith("built-in:"):
            return params
        base = Path(self.runbook.origin).expanduser().resolve().parent
        return {
            k: str(base / os.path.expanduser(v)) if k in keys and isinstance(v, str) and v else v
            for k, v in params.items()
        }

    def _secrets(self, step: Step, loc: tuple[Any, ...], host: str | None) -> dict[str, str]:
        """Every secret the step needs, as its reference: secret variables from the values, other
        keys (``notify.slack.webhook_url``) from the config."""
        keys = [*step.secret_env.values(), *self.runbook.kinds[step.kind].secret_keys(step.params).values()]
        found: dict[str, str] = {}
        values = self.values(host).values
        for key in dict.fromkeys(keys):
            if key in self.runbook.variables:
                if key not in values:
                    groups = [g for g, members in self.config.model.groups.items() if host in members]
                    raise missing_error(self.config.source, key, host, step.id, self.runbook.id, groups)
                found[key] = values[key].value
                continue
            found[key] = self._config_secret(step, loc, key)
        return found

    def _config_secret(self, step: Step, loc: tuple[Any, ...], key: str) -> str:
        try:
            ref = config_lookup(self.config.model, key)
        except KeyError:
            names = ", ".join(sorted(n for n, v in self.runbook.variables.items() if v.secret)) or "none"
            raise self.runbook.source.error(
                (*loc, "secret_env"),
                f"step {step.id!r}: {key!r} is neither a declared secret variable (declared: {names}) "
                "nor a secret key of the config",
                RunbookError,
            ) from None
        if key.split(".")[-1] not in SECRET_FIELDS or not isinstance(ref, str):
            raise self.runbook.source.error((*loc, "secret_env"), f"{key!r} is not a secret field", RunbookError)
        return ref


def _table(value: Any, find: Lookup) -> Any:
    """A table param's text values get their placeholders too (an ansible step's ``vars``)."""
    if not isinstance(value, dict):
        return value
    return {k: render_raw(v, find) if isinstance(v, str) and PLACEHOLDER.search(v) else v for k, v in value.items()}


__all__ = ["StepRenderer"]
