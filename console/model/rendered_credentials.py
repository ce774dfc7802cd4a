"""Credentials that appear only once a step is rendered: a config value such as a health URL
with ``user:password@`` in it, placed into a step by a ``{{ placeholder }}``.

The plan is journaled and sent to every watcher as rendered, and masking it would change what
runs, so such a value is refused at plan time (for each host's own rendering), naming the key
that holds it; credentials go through a secret (``env:``/``file:``) instead.
"""

from __future__ import annotations

from typing import Any

from console.model.errors import RunbookError
from console.model.quoting import cwd_text
from console.model.runbook import LoadedRunbook, Step
from console.model.secrets import Redactor
from console.model.variables import PLACEHOLDER
from console.model.varvalues import HostValues


def refuse_rendered_credentials(
    runbook: LoadedRunbook, config: Any, loc: tuple, step: Step, host: str | None, rendering: dict, values: HostValues
) -> None:
    """Raise a one-line error if a rendered cwd, command or param of ``step`` carries credentials."""
    check = Redactor()
    on = f" on host {host!r}" if host else ""
    for field_name, template, text in _fields(step, rendering):
        if not check.has_credentials(text):
            continue
        for match in PLACEHOLDER.finditer(template):
            name = match.group(1)
            found = values.values.get(name)
            if found is None or not check.has_credentials(str(found.value)):
                continue
            problem = (
                f"{name} holds a URL with credentials (user:password@), which step {step.id!r} puts into "
                f"{field_name}{on}: the plan is journaled and shown to every watcher; "
                "put the credentials in a secret (env:NAME or file:PATH) and pass them through secret_env"
            )
            if found.loc:
                raise config.source.error(found.loc, problem)
            raise runbook.source.error(("vars", *name.split("."), "default"), problem, RunbookError)
        raise runbook.source.error(
            (*loc, field_name.split("[")[0].split(".")[0]),
            f"step {step.id!r} has credentials in {field_name}{on} once rendered; pass them through secret_env",
            RunbookError,
        )


def _fields(step: Step, rendering: dict) -> list[tuple[str, str, str]]:
    """``(field, template, rendered text)`` of everything a step renders."""
    found = [("cwd", step.cwd, cwd_text(rendering["cwd"]))]
    found += [
        (f"commands[{i}]", t, r) for i, (t, r) in enumerate(zip(step.commands, rendering["commands"], strict=True))
    ]
    for key, template in step.params.items():
        if isinstance(template, str):
            found.append((f"params.{key}", template, _text(rendering["params"].get(key, ""))))
    return found


def _text(value: Any) -> str:
    return " ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
