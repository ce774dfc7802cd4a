"""The shipped Orders API example (examples/orders-api) runs headless, end to end, against real hosts.

Two real sshd hosts (web1, web2) hold the app's releases; a real MariaDB is restored from a dump on
web1; the load balancer admin API and each host's health endpoint are real HTTP servers on
127.0.0.1 (the health endpoints reached through each host's SSH tunnel, as the http kind does for
loopback URLs). systemd cannot run in this container, so ``<root>/bin/systemctl`` stands in for it
(``service.ctl`` is a per-host value, as it would be for a host without sudo). The config is the
shipped one with its hosts and values replaced by the lab's.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import jsonschema
import pytest
import tomli_w
from example_orders_support import (
    CONFIG,
    PREVIOUS,
    RUNBOOK,
    UNITS,
    orders_lab,
    systemctl_calls,
    units_active,
    warroom,
)
from mysql_support import assert_restored

pytestmark = pytest.mark.sshd
pytest_plugins = ["mysql_fixtures"]

CHECKS = ("test-order", "payment-webhook", "error-rate")
AUTOMATED = (
    "record-current-release",
    "check-previous-release",
    "database-preflight",
    "drain",
    "stop-units",
    "restore-database",
    "switch-release",
    "start-units",
    "health-check",
    "undrain",
)
SCHEMA = Path(__file__).resolve().parents[1] / "console" / "report" / "report.schema.json"
CONFIRM = ("--confirm", "stop,restore,switch")
DRAINS = {"POST /api/servers/web1/drain", "POST /api/servers/web2-rack-b/drain"}
READIES = {"POST /api/servers/web1/ready", "POST /api/servers/web2-rack-b/ready"}
SUMMARY = "Rolled back to 2.2.4 and restored the orders database; checkout verified"


def journal(state: Path, incident: str) -> list[dict]:
    path = state / "incidents" / incident / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def host_results(records: list[dict], step: str) -> dict[str, dict]:
    return {
        r["data"]["host"]: r["data"]["result"]
        for r in records
        if r["type"] == "step.host_finished" and r["data"]["step"] == step
    }


def test_orders_example_runs_headless_against_real_hosts(tmp_path, lab, db):
    with orders_lab(tmp_path, lab, db) as orders:
        web, balancer, health_servers = orders.web, orders.balancer, orders.health
        assert "10.20." not in orders.config.read_text()  # every production value was replaced by the lab's

        check = orders.warroom("check")
        assert check.returncode == 0, check.stdout + check.stderr
        assert "FAIL" not in check.stdout
        assert "web1" in check.stdout and "web2" in check.stdout
        assert not (orders.state / "incidents").exists()  # check opens nothing

        run = orders.warroom("run", "--headless", "--severity", "P1", "--trigger", "Error rate above 5%", *CONFIRM)
        output = run.stdout + run.stderr
        assert run.returncode == 0, output
        for step in AUTOMATED:
            assert f"✓ {step} succeeded" in run.stdout, output
        assert "3 manual checks still open" in run.stdout, output
        assert "Verify orders end to end: A test order goes through checkout" in run.stdout
        incident = orders.incident()

    # The balancer: both hosts drained before anything stopped, put back only at the end.
    assert len(balancer.seen) == 4 and set(balancer.seen[:2]) == DRAINS and set(balancer.seen[2:]) == READIES
    # Each host: both units stopped then started, the release switched back, the app healthy again.
    for name, host in web.items():
        assert systemctl_calls(host.root) == [f"stop {' '.join(UNITS)}", f"start {' '.join(UNITS)}"], name
        assert units_active(host.root), name
        assert (host.root / "current").resolve() == (host.root / "releases" / PREVIOUS).resolve(), name
        assert "GET /healthz" in health_servers[name].seen, name
    assert_restored(db, orders.dump)
    assert list((orders.backups / "warroom-safety").iterdir()), "a safety dump of the damaged database comes first"

    records = journal(orders.state, incident)
    finished = {r["data"]["step"]: r["data"]["outcome"] for r in records if r["type"] == "step.finished"}
    assert finished == dict.fromkeys(AUTOMATED, "succeeded")
    health = host_results(records, "health-check")
    for name, endpoint in health_servers.items():  # each host its own URL, through its own tunnel
        assert health[name]["status"] == "ok", health
        facts = health[name]["facts"]
        assert (facts["status"], facts["url"], facts["via"]) == (200, endpoint.url("/healthz"), f"ssh {name}")
    assert list(host_results(records, "restore-database")) == ["web1"]  # run_on = "one": the shared database once

    for check_id in CHECKS:
        tick = orders.warroom("tick", incident, "verify-orders", check_id, "pass", "--as", "alice")
        assert tick.returncode == 0, tick.stdout + tick.stderr
    close = orders.warroom("close", incident, "resolved", "--summary", SUMMARY, "--as", "alice")
    assert close.returncode == 0, close.stdout + close.stderr

    verify = orders.warroom("journal", "verify", incident)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    report = orders.warroom("report", incident, "--format", "md")
    assert report.returncode == 0, report.stderr
    for step in (*AUTOMATED, "verify-orders"):
        assert f"`{step}`" in report.stdout, step
    assert SUMMARY in report.stdout
    assert "resolved" in report.stdout.lower()
    for name, host in web.items():  # per-host values: each host's own commands, not the first host's for all
        assert f"On {name}:\n\n```sh\n{host.root / 'bin' / 'systemctl'} stop orders-api orders-worker" in report.stdout
    assert (
        "On web2:\n\n```sh\ncurl -fsS --max-time 10 -X POST " + balancer.url("/api/servers/web2-rack-b/ready")
        in report.stdout
    )
    as_json = orders.warroom("report", incident, "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    jsonschema.validate(data, json.loads(SCHEMA.read_text()))
    steps = {step["id"]: step for step in data["steps"]}
    assert [group["hosts"] for group in steps["switch-release"]["per_host"]] == [["web1"], ["web2"]]
    assert steps["health-check"]["per_host"] == []  # no commands; its per-host URLs are in the facts

    journal_text = (orders.state / "incidents" / incident / "journal.jsonl").read_text()
    for text in (journal_text, report.stdout, as_json.stdout, run.stdout, check.stdout):
        assert db.password not in text  # the secret is a reference everywhere


def test_a_host_without_the_previous_release_stops_the_run_before_anything_changes(tmp_path, lab, db):
    """web2 lacks releases/2.2.4: the Prepare phase finds it, so no host is drained or stopped and the
    database is not restored; once the release is in place, a retry of that step finishes the rollback."""
    with orders_lab(tmp_path, lab, db) as orders:
        web2 = orders.web["web2"].root
        (web2 / "releases" / PREVIOUS).rmdir()
        run = orders.warroom("run", "--headless", *CONFIRM)
        assert run.returncode == 1, run.stdout + run.stderr
        assert "web2: failed (exit" in run.stdout and "✗ check-previous-release failed" in run.stdout
        assert f"{web2}/releases/{PREVIOUS}" in run.stdout  # the failing host's output tail names what is missing
        incident = orders.incident()
        assert f"--incident {incident} (--retry check-previous-release or --skip" in run.stdout
        assert orders.balancer.seen == []  # nothing drained
        assert all(systemctl_calls(host.root) == [] for host in orders.web.values())
        assert all(units_active(host.root) for host in orders.web.values())
        assert db.query("SELECT name FROM customers WHERE id = 1") == [("damaged by v1.0.0",)]  # not restored
        assert not (orders.backups / "warroom-safety").exists()

        (web2 / "releases" / PREVIOUS).mkdir()
        resumed = orders.warroom(
            "run", "--headless", "--incident", incident, "--retry", "check-previous-release", *CONFIRM
        )
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert "✓ undrain succeeded" in resumed.stdout
        assert "record-current-release" not in resumed.stdout  # a settled step is not run again
    assert len(orders.balancer.seen) == 4 and set(orders.balancer.seen[2:]) == READIES
    for host in orders.web.values():
        assert (host.root / "current").resolve() == (host.root / "releases" / PREVIOUS).resolve()
        assert units_active(host.root)
    assert_restored(db, orders.dump)


def test_shipped_config_plans_without_ssh_files(tmp_path):
    home = tmp_path / "home"  # no ~/.ssh: plan reads no known_hosts or identity file
    home.mkdir()
    result = warroom("plan", "-c", str(CONFIG), "--severity", "P1", env={"HOME": str(home)})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "web2$ test -d /srv/orders/releases/2.2.4 && ln -sfn /srv/orders/releases/2.2.4 /srv/orders/current" in out
    assert "web1$ test -d /opt/orders/releases/2.2.4 && ln -sfn /opt/orders/releases/2.2.4 /opt/orders/current" in out
    assert "web2$ curl -fsS --max-time 10 -X POST http://10.20.0.5:8404/api/servers/web2-rack-b/drain" in out
    assert "web1$ curl -fsS --max-time 10 -X POST http://10.20.0.5:8404/api/servers/web1/drain" in out
    assert "orders_admin@10.20.0.30:3306/orders through an SSH tunnel from web1" in out
    assert not (home / ".local").exists()  # planning touches nothing, not even the state dir


def _declared(table: dict, prefix: str = "") -> dict[str, dict]:
    """The runbook's ``[vars]`` as dotted names -> declaration."""
    found: dict[str, dict] = {}
    for key, value in table.items():
        if "type" in value and not isinstance(value["type"], dict):
            found[prefix + key] = value
        else:
            found |= _declared(value, f"{prefix}{key}.")
    return found


def test_init_from_the_example_runbook_round_trips(tmp_path):
    out = tmp_path / "config.toml"
    result = warroom("init", "--runbook", str(RUNBOOK), "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    written = tomllib.loads(text)
    declared = _declared(tomllib.loads(RUNBOOK.read_text())["vars"])
    assert len(declared) == 14
    for name, declaration in declared.items():
        line = re.search(rf"^(# )?{re.escape(name)} = (.+)$", text, re.MULTILINE)
        assert line, f"{name} missing from the starter config"
        if "default" in declaration:
            assert line.group(1) == "# ", name  # a default is shown, commented out
        else:
            assert line.group(1) is None and ("CHANGE-ME" in line.group(2) or "env:" in line.group(2)), name

    written["hosts"] = {
        name: {"address": address, "user": "deploy", "known_hosts": str(tmp_path / "known_hosts")}
        for name, address in (("web1", "10.20.0.11"), ("web2", "10.20.0.12"))
    }
    written["groups"] = {"web": ["web1", "web2"], "db_via": ["web1"]}
    written["vars"]["app"]["previous_release"] = PREVIOUS
    written["vars"]["lb"]["admin_url"] = "http://10.20.0.5:8404/api"
    written["vars"]["lb"]["server"] = "pool"
    out.write_text(tomli_w.dumps(written))
    plan = warroom("plan", "-c", str(out))
    assert plan.returncode == 0, plan.stderr
    assert "web2$ test -d /opt/orders/releases/2.2.4" in plan.stdout
    assert "web1$ sudo systemctl stop orders-api orders-worker" in plan.stdout
    assert "CHANGE-ME" not in plan.stdout
