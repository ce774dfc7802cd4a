"""The built-in runbook tests' fixtures: the runbook, loaded once per module, and its steps by id.

A plugin, not a module to import: the test modules load it with
``pytest_plugins = ["builtin_runbook_fixtures"]``.
"""

from __future__ import annotations

import pytest

from actions.registry import KINDS
from console.model.runbook import LoadedRunbook, Step, load_runbook


@pytest.fixture(scope="module")
def runbook() -> LoadedRunbook:
    return load_runbook("salonmanager", KINDS)


@pytest.fixture
def steps(runbook: LoadedRunbook) -> dict[str, Step]:
    return {step.id: step for _, _, step in runbook.model.steps()}
