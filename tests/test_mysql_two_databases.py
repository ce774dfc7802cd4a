"""A runbook holding two databases: the mysql kind takes its database and password from params
rendered from variables, so two preflight steps reach two MariaDB databases with two logins."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from conftest import declare, write_config, write_runbook
from mysql_support import ALICE, SOCKET, Db, root

from actions.registry import KINDS
from console.engine import Engine
from console.model.config import load_config
from console.model.plan import build_plan, needed_secrets
from console.model.plan_text import planned_commands
from console.model.runbook import load_runbook

# db: the session's database and user (mysql_fixtures); the second one is made here.
pytest_plugins = ["mysql_fixtures"]
pytestmark = [
    pytest.mark.sshd,
    pytest.mark.skipif(not Path(SOCKET).exists(), reason="MariaDB not running: run ./scripts/setup-services"),
]

VARIABLES = "".join(
    declare(**{f"{d}__host": ("string", "127.0.0.1"), f"{d}__port": ("integer", 3306)})
    + declare(**{f"{d}__name": "string", f"{d}__user": "string", f"{d}__password": "secret"})
    for d in ("orders", "billing")
)


def preflight(step_id: str, db: str) -> str:
    target = "@".join(["{{ D.user }}", "{{ D.host }}:{{ D.port }}/{{ D.name }}"]).replace("D.", f"{db}.")
    return f"""
[[phases.steps]]
id = "{step_id}"
title = "Preflight {db}"
kind = "mysql"
targets = "app"
timeout = 60
params = {{ operation = "preflight", database = "{target}", password = "{db}.password" }}
"""


@pytest.fixture
def second_db():
    token = secrets.token_hex(4)
    found = Db(f"wr_billing_{token}", f"wr_billing_{token}", f"pw-{secrets.token_urlsafe(12)}")
    conn = root()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{found.name}`")
        cur.execute(f"CREATE TABLE `{found.name}`.invoices (id INT PRIMARY KEY)")
        cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (found.user, found.password))
        cur.execute(f"GRANT ALL ON `{found.name}`.* TO %s@'%%'", (found.user,))
    conn.close()
    yield found
    conn = root()
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{found.name}`")
        cur.execute("DROP USER IF EXISTS %s@'%%'", (found.user,))
    conn.close()


async def test_two_preflight_steps_reach_two_databases(tmp_path, lab, db, second_db, monkeypatch):
    db.reset()
    monkeypatch.setenv("ORDERS_PW", db.password)
    monkeypatch.setenv("BILLING_PW", second_db.password)
    extra = f"""
[vars.orders]
name = "{db.name}"
user = "{db.user}"
password = "env:ORDERS_PW"

[vars.billing]
name = "{second_db.name}"
user = "{second_db.user}"
password = "env:BILLING_PW"
"""
    config = load_config(write_config(tmp_path / "config.toml", lab, ["h1"], extra=extra))
    steps = preflight("orders-db", "orders") + preflight("billing-db", "billing")
    runbook = load_runbook(write_runbook(tmp_path / "runbook.toml", steps, variables=VARIABLES), KINDS)
    plan = build_plan(runbook, config)
    assert needed_secrets(plan) == [
        ("orders-db", "orders.password", "env:ORDERS_PW"),
        ("billing-db", "billing.password", "env:BILLING_PW"),
    ]
    shown = planned_commands(plan.steps["billing-db"], KINDS)[0].text
    assert f"connect to {second_db.user}@127.0.0.1:3306/{second_db.name} through an SSH tunnel from h1" in shown
    engine = Engine.open(tmp_path / "state", plan, ALICE, severity="P0", trigger="test", config=config)
    engine.take_seat(ALICE)
    try:
        for step_id in ("orders-db", "billing-db"):
            status = await engine.run_step(ALICE, step_id)
            assert status == "succeeded", engine.state.steps[step_id].attempt.results
        orders = engine.state.steps["orders-db"].attempt.results["h1"]["facts"]
        billing = engine.state.steps["billing-db"].attempt.results["h1"]["facts"]
    finally:
        await engine.aclose()
    assert orders["database"] == f"{db.user}@127.0.0.1:3306/{db.name}" and orders["tables"] == 2
    assert billing["database"] == f"{second_db.user}@127.0.0.1:3306/{second_db.name}" and billing["tables"] == 1
    assert billing["user"].startswith(second_db.user + "@")
    journal = engine.journal.path.read_text()
    assert db.password not in journal and second_db.password not in journal
