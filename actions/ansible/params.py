"""The ansible step's parameters: a playbook or one module, the inventory, vars and the failure policy."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from actions.params import ParamError, StepParams, later, templated

VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
Scalar = str | int | float | bool


class AnsibleParams(StepParams):
    playbook: str = ""
    """A playbook file, relative to the runbook file (the plan makes it absolute)."""
    module: str = ""
    """One module run ad hoc (``ansible.builtin.command``), instead of a playbook."""
    args: str = ""
    """The module's arguments (``-a``)."""
    inventory: str = ""
    """An existing inventory file (default: one generated from the config's hosts and groups)."""
    limit: str = ""
    """Ansible's ``--limit`` pattern (default: the step's target hosts)."""
    vars: dict[str, Scalar | list[Scalar]] = {}
    """Extra vars (``-e``), placeholders rendered per host by the plan."""
    secret_vars: dict[str, str] = {}
    """``{extra var: secret variable}``: resolved only when the step runs, written to the 0600 file."""
    forks: int = Field(50, ge=1, le=500)
    serial: int | str = ""
    """Hosts per batch (``3`` or ``"30%"``), for the plays that do not set their own."""
    max_fail_percentage: int | None = Field(None, ge=0, le=100)
    """Stop a batch once more than this share of its hosts failed (plays that do not set their own)."""
    check: bool = False
    """Run in ``--check --diff`` mode: report what would change, change nothing."""
    verbosity: int = Field(0, ge=0, le=4)

    @field_validator("vars", "secret_vars")
    @classmethod
    def _var_names(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        for name in value:
            if not VAR_NAME.match(name):
                raise ParamError(str(info.field_name), f"{name!r} is not a valid Ansible variable name")
        return value

    @field_validator("serial")
    @classmethod
    def _batch(cls, value: int | str) -> int | str:
        if isinstance(value, bool) or (isinstance(value, int) and value < 1):
            raise ParamError("serial", f'hosts per batch: a number >= 1 or a percentage like "30%" (got {value!r})')
        if isinstance(value, str) and value and not templated(value) and not re.fullmatch(r"\d{1,3}%|\d+", value):
            raise ParamError("serial", f'hosts per batch: a number >= 1 or a percentage like "30%" (got {value!r})')
        return value

    @model_validator(mode="after")
    def _one_thing_to_run(self, info: ValidationInfo) -> AnsibleParams:
        waiting = later(info)
        given = [k for k in ("playbook", "module") if getattr(self, k) or k in waiting]
        if len(given) != 1:
            raise ParamError("", "an ansible step runs params.playbook or params.module (exactly one)")
        if self.args and not (self.module or "module" in waiting):
            raise ParamError("args", "params.args are the arguments of params.module")
        overlap = set(self.vars) & set(self.secret_vars)
        if overlap:
            raise ParamError("secret_vars", f"{', '.join(sorted(overlap))} given in params.vars too")
        return self

    @property
    def ad_hoc(self) -> bool:
        return bool(self.module)
