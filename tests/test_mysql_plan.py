"""The mysql kind's plan text and its static checks: what a restore will do, before it runs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import write_config
from mysql_support import ALICE, PASSWORD_ENV, SOCKET, mysql_step, write_mysql_runbook

from actions import registry
from actions.registry import KINDS
from console.engine import Engine
from console.model.config import load_config
from console.model.errors import RunbookError
from console.model.plan import build_plan
from console.model.runbook import load_runbook

# db and big_dump: one of each for the whole session, shared by the mysql test modules.
pytest_plugins = ["mysql_fixtures"]
pytestmark = [
    pytest.mark.sshd,
    pytest.mark.skipif(not Path(SOCKET).exists(), reason="MariaDB not running: run ./scripts/setup-services"),
]


def planned(step_toml: str, tmp_path: Path, lab) -> list[str]:
    host = lab.start("h1")
    extra = '[vars.app]\nroot = "/srv/salon"\n\n[vars.database]\nname = "salon"\nuser = "app"\npassword = "env:X"\n'
    config = load_config(write_config(tmp_path / "config.toml", lab, ["h1"], extra=extra))
    plan = build_plan(load_runbook(write_mysql_runbook(tmp_path / "runbook.toml", step_toml), KINDS), config)
    step = next(iter(plan.steps.values()))
    assert host.name in step.hosts
    return [f"{c.host}$ {c.text}" for c in registry.create("mysql").plan(step)]


def test_plan_says_exactly_what_a_restore_does(tmp_path, lab):
    target = "{{ database.user }}@{{ database.host }}:{{ database.port }}/{{ database.name }}"
    lines = planned(mysql_step(database=target, rpo_minutes=60, on_old_backup="block"), tmp_path, lab)
    text = "\n".join(lines)
    assert "h1$ find the newest backup in /srv/salon/storage/app/backups on h1 over SSH exec (find, stat)" in text
    assert "RPO of 60 min; if older: stop (block)" in text
    assert "safety dump of the current database to h1:/srv/salon/storage/app/backups/warroom-safety/" in text
    assert "POINT OF NO RETURN: restore the dump into app@127.0.0.1:3306/salon through an SSH tunnel from h1" in text
    assert "verify: every table of the dump present" in text
    assert lines.index(next(x for x in lines if "safety dump" in x)) < lines.index(
        next(x for x in lines if "POINT OF NO RETURN" in x)
    )


def test_plan_without_safety_dump_says_so(tmp_path, lab):
    step = mysql_step(safety_dump=False, via_ssh=False, backup="{{ database.dump_file }}")
    lines = planned(step, tmp_path, lab)
    assert any("NO safety dump" in x for x in lines)
    assert any("use backup /srv/salon/storage/app/backups/backup_file.sql on h1" in x for x in lines)
    assert any("directly from the warroom machine" in x for x in lines)


@pytest.mark.parametrize(
    ("params", "destructive", "problem"),
    [
        ({"operation": "restore", "speed": 3}, True, "unknown parameter"),
        ({"operation": "restore"}, False, "destructive = true"),
        ({"operation": "drop-everything"}, False, "give operation = one of"),
        ({"operation": "find-backup", "rpo_minutes": "60"}, False, "expected int"),
        ({"operation": "find-backup", "on_old_backup": "ignore"}, False, 'expected "warn" or "block"'),
        ({"operation": "verify", "database": "nonsense"}, False, "expected user@host:port/name"),
        ({"operation": "verify", "database": None}, False, "params.database: missing; give the database"),
        ({"operation": "verify", "password": "db.pw"}, False, "'db.pw' is not a declared variable"),
    ],
)
def test_bad_params_are_refused_when_the_runbook_loads(tmp_path, params, destructive, problem):
    params = {k: v for k, v in {"database": "app@127.0.0.1:3306/salon", **params}.items() if v is not None}
    body = ", ".join(f"{k} = {json.dumps(v)}" for k, v in params.items())
    step = f"""
        [[phases.steps]]
        id = "db"
        title = "Database"
        kind = "mysql"
        targets = "app"
        destructive = {str(destructive).lower()}
        confirm = "restore"
        params = {{ {body} }}
        """
    with pytest.raises(RunbookError) as info:
        load_runbook(write_mysql_runbook(tmp_path / "runbook.toml", step), KINDS)
    assert problem in str(info.value)
    assert "params" in str(info.value) or "destructive" in str(info.value)


async def test_a_restore_refuses_more_than_one_host(tmp_path, lab, db, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, db.password)
    all_hosts = mysql_step().replace('run_on = "one"', 'run_on = "all"')
    with pytest.raises(RunbookError, match=r'a mysql restore runs on one host .*: set run_on = "one"'):
        load_runbook(write_mysql_runbook(tmp_path / "all.toml", all_hosts), KINDS)
    extra = (
        f'[vars.app]\nroot = "/srv"\n[vars.database]\nname = "{db.name}"\nuser = "u"\npassword = "env:{PASSWORD_ENV}"\n'
    )
    config = load_config(write_config(tmp_path / "config.toml", lab, ["h1", "h2"], extra=extra))
    plan = build_plan(load_runbook(write_mysql_runbook(tmp_path / "runbook.toml", mysql_step()), KINDS), config)
    # a plan journaled before the rule: the kind still refuses a restore on two hosts
    plan.steps["restore"] = replace(plan.steps["restore"], hosts=("h1", "h2"))
    plan.targets["h2"] = replace(plan.targets["h1"], name="h2", port=lab.hosts["h2"].port)
    lines = registry.create("mysql").plan(plan.steps["restore"])
    assert [c.host for c in lines] == ["h1", "h2"]
    assert all("refused: a restore runs on one host" in c.text for c in lines)
    engine = Engine.open(tmp_path / "state", plan, ALICE, severity="P0", trigger="test", config=config)
    engine.take_seat(ALICE)
    try:
        assert await engine.run_step(ALICE, "restore", confirm="restore") == "failed"
        assert 'runs on exactly one host (the database is shared), not 2 (h1, h2); set run_on = "one"' in (
            engine.state.steps["restore"].attempt.error
        )
    finally:
        await engine.aclose()
