"""``warroom plan --check``: after the plan, its ansible steps in check mode with diff (opt-in: it
logs in to the hosts, which plain ``plan`` never does)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from console.model.config import LoadedConfig
    from console.model.plan import Plan


def plan_check(plan: Plan, config: LoadedConfig) -> int:
    """Print what each host would change; exit 1 when a host could not be checked or would fail."""
    from actions.ansible import install
    from actions.ansible.check import check_plan
    from console.model.errors import InputError

    if any(s.kind == "ansible" for s in plan.ordered_steps()) and install.missing():
        raise InputError(f"plan --check: {install.missing()}")
    text, passed = check_plan(plan, config.model)
    sys.stdout.write(text)
    if not passed:
        print("plan --check: some hosts could not be checked or would fail (see above)")
    return 0 if passed else 1
