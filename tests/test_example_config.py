"""The example config documents every key, loads as written, and binds the built-in runbook into a
plan for each variant, with no secret in any rendered command.
"""

from __future__ import annotations

import re
import tomllib
from itertools import product
from pathlib import Path

import pytest
from builtin_runbook_support import (
    ARTISAN_STEPS,
    DOCKER_STEPS,
    EXAMPLE_CONFIG,
    MYSQL_STEPS,
    PHASES,
    RUN_ON_ONE,
    SYSTEMD_STEPS,
    load_example,
    rendered_texts,
)
from pydantic import BaseModel

from actions import registry, ssh
from console.model import config as config_models
from console.model.plan import build_plan
from console.model.runbook import LoadedRunbook
from console.model.secrets import resolve_ref
from console.model.webconfig import Web, WebViewer

# runbook (the built-in one, loaded once per module) and steps (its steps by id).
pytest_plugins = ["builtin_runbook_fixtures"]

SECRET_MARKER = "Xy7-secret-marker-Qz9"


# --- the example config and the plan it yields -----------------------------------------------


def _fields_of(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


def test_example_config_documents_every_key() -> None:
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    assert set(data) == _fields_of(config_models.Config)
    models = (
        config_models.Environment,
        config_models.Host,
        config_models.Slack,
        config_models.Email,
        config_models.Webhook,
        config_models.Contact,
        config_models.ServerUser,
        config_models.Server,
        Web,
        WebViewer,
    )
    undocumented = [
        f"{model.__name__}.{name}"
        for model in models
        for name in _fields_of(model)
        if not re.search(rf"(?m)^((# )?{name} = |\[\[?[a-z0-9.]*\b{name}\]\]?$)", text)
    ]
    assert undocumented == []
    # Secrets appear only as references.
    for ref in re.findall(r'(?m)^(?:password|webhook_url|url) = "([^"]*)"', text):
        if ref.startswith("http"):
            continue  # health.url is not a secret
        assert ref.startswith(("env:", "file:")), ref


def test_example_config_loads_as_written(tmp_path: Path) -> None:
    cfg = load_example(tmp_path).model
    assert cfg.environment.name == "production"
    assert cfg.groups == {"app": ["app1", "app2"]}
    assert cfg.vars["database"]["password"] == "env:SALONMANAGER_DB_PASSWORD"
    assert cfg.group_vars == {"app": {"database": {"host": "127.0.0.1"}}}
    assert cfg.hosts["app2"].vars == {"app": {"root": "/srv/salonmanager"}}
    assert cfg.variants == {"deploy_mode": "docker", "db_restore": "artisan"}


def test_default_example_renders_the_seed_command_lines(tmp_path: Path, runbook: LoadedRunbook) -> None:
    plan = build_plan(runbook, load_example(tmp_path))
    commands = {sid: list(step.commands) for sid, step in plan.steps.items()}
    assert commands["stop-services-docker"] == ["docker-compose -f docker-compose.prod.yml down"]
    assert commands["restart-services-docker"] == ["docker-compose -f docker-compose.prod.yml up -d"]
    shown = {sid: [c.text for c in registry.create(step.kind).plan(step)] for sid, step in plan.steps.items()}
    assert shown["revert-git-tag"][0].startswith("cd /srv/salonmanager && git checkout v0.9.0")
    assert "http://localhost:8000/api/v1/health" in shown["verify-health-check"][0]
    assert plan.steps["update-backend-dependencies"].cwd.endswith("/salonmanager/backend")
    assert plan.steps["update-frontend-dependencies"].cwd.endswith("/salonmanager/frontend")


@pytest.mark.parametrize(("deploy_mode", "db_restore"), list(product(["docker", "systemd"], ["artisan", "mysql"])))
def test_plan_for_each_variant_combination(
    tmp_path: Path, runbook: LoadedRunbook, deploy_mode: str, db_restore: str
) -> None:
    config = load_example(tmp_path, deploy_mode=deploy_mode, db_restore=db_restore)
    plan = build_plan(runbook, config)

    assert plan.variants == {"deploy_mode": deploy_mode, "db_restore": db_restore}
    other_deploy = SYSTEMD_STEPS if deploy_mode == "docker" else DOCKER_STEPS
    other_restore = MYSQL_STEPS if db_restore == "artisan" else ARTISAN_STEPS
    assert {sid for sid, _ in plan.excluded} == other_deploy | other_restore
    all_ids = {step.id for _, _, step in runbook.model.steps()}
    assert set(plan.steps) == all_ids - other_deploy - other_restore
    assert [p.id for p in plan.phases] == [p[0] for p in PHASES]
    assert all(p.steps for p in plan.phases)

    leftovers = [text for text in rendered_texts(plan) if "{{" in text or "}}" in text]
    assert leftovers == []
    for step in plan.ordered_steps():
        if step.kind == "manual":
            assert step.hosts == ()
        elif step.id in RUN_ON_ONE:
            assert step.hosts == ("app1",)
        else:
            assert step.hosts == ("app1", "app2")
    assert set(plan.targets) == {"app1", "app2"}
    if db_restore == "mysql":
        restore = plan.steps["restore-database-mysql"]
        assert restore.params["database"] == "salonmanager@127.0.0.1:3306/salonmanager"
        shown = registry.create("mysql").plan(restore)
        assert {c.host for c in shown} == {"app1"}
        assert any(
            "POINT OF NO RETURN" in c.text and "salonmanager@127.0.0.1:3306/salonmanager" in c.text for c in shown
        )


def test_no_rendered_command_contains_the_database_password(
    tmp_path: Path, runbook: LoadedRunbook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SALONMANAGER_DB_PASSWORD", SECRET_MARKER)
    config = load_example(tmp_path, db_restore="mysql")
    # The reference does resolve to the marker, so its absence below means something.
    assert resolve_ref(config.model.vars["database"]["password"], where="database.password") == SECRET_MARKER

    plan = build_plan(runbook, config)
    step = plan.steps["restore-database-mysql"]
    assert step.kind == "mysql" and step.secret_env == {}  # resolved by the kind at run time, never rendered
    assert step.secrets == {"database.password": "env:SALONMANAGER_DB_PASSWORD"}  # the reference only
    assert not any(SECRET_MARKER in text for text in rendered_texts(plan))
    assert SECRET_MARKER not in repr(plan.to_dict())
    for planned in plan.ordered_steps():
        if planned.kind == "ssh":
            assert SECRET_MARKER not in ssh.build_script(planned)
            assert SECRET_MARKER not in ssh.display_command(planned)
