"""Where a runbook's steps use variables, and the load-time rules about it.

Every ``{{ name }}`` must name a declared variable (or ``host.*``); a secret never goes into a
command, cwd, targets or params (they are shown and journaled: use ``secret_env``); a list goes
only where it can become separate words. All are runbook errors naming file:line, step and field.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from console.model.errors import RunbookError
from console.model.quoting import contexts
from console.model.tomlsource import TomlSource
from console.model.variables import HOST_VARS, PLACEHOLDER, Variable


def step_texts(step: Any) -> Iterator[tuple[tuple[Any, ...], str, str]]:
    """``(field loc, field kind, text)`` of every step field that may hold placeholders;
    kind is "cwd", "command", "param" or "targets"."""
    yield ("cwd",), "cwd", step.cwd
    for i, command in enumerate(step.commands):
        yield ("commands", i), "command", command
    for key, value in step.params.items():
        if isinstance(value, str):
            yield ("params", key), "param", value
    if step.targets:
        yield ("targets",), "targets", step.targets


def used_names(step: Any) -> list[str]:
    """The variables a step's fields name, in order, without repeats."""
    names = [m.group(1) for _, _, text in step_texts(step) for m in PLACEHOLDER.finditer(text)]
    return list(dict.fromkeys(names))


def check_step_usage(step: Any, loc: tuple[Any, ...], declared: dict[str, Variable], source: TomlSource) -> None:
    for field_loc, kind, text in step_texts(step):
        where = (*loc, *field_loc)
        for match in PLACEHOLDER.finditer(text):
            name = match.group(1)
            if name in HOST_VARS:
                if kind == "targets":
                    raise source.error(where, f"step {step.id!r}: targets cannot depend on the host", RunbookError)
                if not step.targets:
                    raise source.error(where, f"step {step.id!r}: {name} needs targets (no host runs it)", RunbookError)
                continue
            var = declared.get(name)
            if var is None:
                raise source.error(where, f"step {step.id!r}: {_undeclared(name, declared)}", RunbookError)
            if var.secret:
                raise source.error(
                    where,
                    f"step {step.id!r}: {name} is a secret and would be shown and journaled here; "
                    "use secret_env (or the kind's secret parameter)",
                    RunbookError,
                )
            if var.type == "list" and kind in ("cwd", "targets"):
                raise source.error(where, f"step {step.id!r}: {name} is a list; a {kind} is one value", RunbookError)
        if kind == "command":
            for name, context, _, _ in contexts(text):
                var = declared.get(name)
                if var is not None and var.type == "list" and context != "unquoted":
                    raise source.error(
                        where,
                        f"step {step.id!r}: {name} is a list: write it outside quotes (each element becomes one word)",
                        RunbookError,
                    )
    for var_name, key in step.secret_env.items():
        var = declared.get(key)
        if var is not None and not var.secret:
            raise source.error(
                (*loc, "secret_env", var_name),
                f"step {step.id!r}: {key} is of type {var.type}, not secret",
                RunbookError,
            )


def check_secret_key(
    step: Any, loc: tuple[Any, ...], param: str, key: str, declared: dict[str, Variable], source: TomlSource
) -> None:
    """A kind's secret parameter (mysql ``password``) names a declared secret variable."""
    var = declared.get(key)
    if var is not None and var.secret:
        return
    problem = f"is of type {var.type}, not secret" if var else "is not a declared variable"
    raise source.error(
        (*loc, "params", param),
        f'step {step.id!r}: params.{param} = {key!r} {problem}; declare [vars.{key}] with type = "secret"',
        RunbookError,
    )


def _undeclared(name: str, declared: dict[str, Variable]) -> str:
    near = difflib.get_close_matches(name, [*declared, *HOST_VARS], n=1)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    names = ", ".join(sorted(declared)) or "none"
    return f"{{{{ {name} }}}} is not a declared variable (declare it under [vars]; declared: {names}){hint}"


__all__ = ["check_secret_key", "check_step_usage", "step_texts", "used_names"]
