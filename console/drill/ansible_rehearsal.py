"""``warroom drill --ansible``: rehearse an ansible step — the drill's own playbook, through
ansible-runner, against the drill's embedded app host — when ansible-core is installed.

The rehearsal is an ordinary runbook shipped beside its playbook (``playbooks/``), bound to the
sandbox's config like the built-in one; without ansible the option is refused in one line saying
how to install it, and a plain drill says whether the rehearsal is available."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from actions.ansible import install
from console.model.errors import InputError

RUNBOOK = "ansible-rehearsal.toml"


def rehearsal_runbook() -> str:
    """The rehearsal runbook's path; refused (one line, how to install) without ansible."""
    problem = install.missing()
    if problem:
        raise InputError(f"--ansible: the drill cannot rehearse an ansible step: {problem}")
    return str(Path(str(resources.files("console.drill") / "playbooks" / RUNBOOK)))


def ansible_note() -> str:
    """What a plain drill says of the ansible rehearsal."""
    problem = install.missing()
    if problem:
        return f"ansible rehearsal: not available ({problem})"
    return "ansible rehearsal: available — warroom drill --ansible rehearses an ansible step"
