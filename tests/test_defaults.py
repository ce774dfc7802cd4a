"""The SalonManager defaults are said once, in console.model.defaults; the few copies that cannot
import it (the sandbox's stdlib-only tools) must agree with it."""

from __future__ import annotations

from pathlib import Path

from console.drill import dockerapi, httpserver
from console.drill.tools import state as sandbox_state
from console.model import defaults
from console.model.incident_dir import state_root
from console.model.runbook import BUILTIN


def test_the_sandbox_tools_know_the_same_services():
    assert sandbox_state.SERVICES == defaults.SERVICES


def test_the_default_runbook_is_built_in():
    assert defaults.RUNBOOK in BUILTIN


def test_services_belong_to_the_compose_project():
    # the drill's Docker API names containers by stripping the project prefix off a service
    assert dockerapi.PROJECT == defaults.COMPOSE_PROJECT
    assert all(s.startswith(f"{defaults.COMPOSE_PROJECT}-") for s in defaults.SERVICES)


def test_the_drill_serves_health_where_the_config_probes():
    assert defaults.HEALTH_URL.endswith(httpserver.HEALTH_PATH)


def test_the_state_dir_defaults_to_the_one_in_defaults(monkeypatch):
    monkeypatch.delenv("WARROOM_STATE_DIR", raising=False)
    assert state_root(None) == Path(defaults.STATE_DIR).expanduser()
