"""The SalonManager defaults are said once, in console.model.defaults; the few copies that cannot
import it (the sandbox's stdlib-only tools) must agree with it."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from console.drill import dockerapi, httpserver
from console.drill.sandbox import build_sandbox
from console.drill.tools import state as sandbox_state
from console.model import defaults
from console.model.incident_dir import state_root
from console.model.runbook import BUILTIN, RUNBOOKS


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


def test_the_sandbox_lays_out_the_app_where_the_defaults_say(tmp_path):
    box = build_sandbox(tmp_path / "box", db_password="drill")
    assert box.backend == box.app / defaults.BACKEND_DIR and (box.backend / "artisan").is_file()
    assert box.frontend == box.app / defaults.FRONTEND_DIR and (box.frontend / "pubspec.yaml").is_file()
    assert box.backups == box.backend / defaults.BACKUP_DIR
    assert (box.backend / defaults.DUMP_FILE).is_file()
    assert (box.backend / defaults.STORAGE_ARCHIVE).is_file()
    compose = (box.app / defaults.COMPOSE_FILE).read_text(encoding="utf-8")
    assert all(f"\n  {service}:\n" in compose for service in defaults.SERVICES)
    assert set(box.services()) == set(defaults.SERVICES)
    assert box.head_tag() == "v1.0.0" and defaults.ROLLBACK_REF in box.git("tag").split()


def test_the_built_in_runbook_restores_the_storage_archive_the_defaults_name():
    runbook = resources.files(RUNBOOKS).joinpath(f"{defaults.RUNBOOK}.toml").read_text(encoding="utf-8")
    assert f'archive = "{defaults.STORAGE_ARCHIVE}"' in runbook


def test_the_built_in_runbook_declares_its_variables_with_the_defaults():
    """Its [vars] defaults and the drill's values (defaults.vars_table) are the same numbers and
    names; the values only a deployment knows have no default."""
    from actions.registry import KINDS
    from console.model.runbook import load_runbook
    from console.model.variables import flatten

    declared = load_runbook(defaults.RUNBOOK, KINDS).variables
    table = dict(flatten(defaults.vars_table("/root", "env:X", "http://h/")))
    assert {".".join(path) for path in table} == set(declared)
    required = {name for name, var in declared.items() if not var.has_default}
    assert required == {"app.root", "database.name", "database.user"}
    assert declared["health.url"].default == defaults.HEALTH_URL  # the seed's own curl target
    for path, value in table.items():
        name = ".".join(path)
        if name not in required and name not in ("database.password", "health.url"):
            assert declared[name].default == value, name
    assert declared["database.password"].default == defaults.DB_PASSWORD
    assert declared["database.password"].type == "secret" and declared["database.port"].type == "integer"
