"""What an ansible step shows before it runs: ``plan`` lists the playbook's plays and tasks per
host (touching nothing), ``plan --check`` runs it in check mode with diff on the real hosts and
shows each host's changes, and the preflight gate reports ansible missing with how to install it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_support import PY, ansible_step, write_playbook
from conftest import write_config, write_runbook

from actions.ansible import install
from actions.registry import KINDS
from console.engine.preflight import run_gate
from console.model.config import load_config
from console.model.plan import build_plan
from console.model.plan_text import render_plan
from console.model.runbook import load_runbook

pytestmark = pytest.mark.sshd
HOSTS = ["h1", "h2", "h3"]
REPO = Path(__file__).resolve().parents[1]
PLAYBOOK = """
- name: Stop the app
  hosts: app
  gather_facts: false
  serial: 1
  pre_tasks:
    - name: Drain
      ansible.builtin.command: echo drain
  tasks:
    - block:
        - name: Stop units
          ansible.builtin.command: echo stop
      rescue:
        - ansible.builtin.debug: msg=rescued
- name: Configure
  hosts: app
  gather_facts: false
  tasks:
    - name: Set the release line
      ansible.builtin.lineinfile:
        path: "{{ target_dir }}/{{ inventory_hostname }}.conf"
        line: "release={{ release }}"
        create: true
"""


def files(tmp_path: Path, lab, **params) -> tuple[Path, Path]:
    books = tmp_path / "books"
    books.mkdir(exist_ok=True)
    write_playbook(books / "site.yml", PLAYBOOK)
    config = write_config(tmp_path / "config.toml", lab, HOSTS)
    runbook = write_runbook(books / "runbook.toml", ansible_step("roll", playbook="site.yml", **params))
    return config, runbook


def test_plan_lists_plays_and_tasks_per_host_with_the_playbook_beside_the_runbook(tmp_path, lab):
    config, runbook = files(tmp_path, lab, forks=10, vars={"release": "v2"}, secret_vars={})
    plan = build_plan(load_runbook(runbook, KINDS), load_config(config))
    text = render_plan(plan, KINDS)
    playbook = tmp_path / "books" / "site.yml"
    assert plan.steps["roll"].params["playbook"] == str(playbook)
    for host in HOSTS:
        assert f"{host}$ ansible-playbook {playbook} -i <generated from the config's hosts> --forks 10" in text
        assert f"{host}$ play 'Stop the app' (hosts: app, serial 1): Drain; Stop units; ansible.builtin.debug" in text
        assert f"{host}$ play 'Configure' (hosts: app): Set the release line" in text


def test_plan_check_shows_per_host_changes_and_touches_nothing(tmp_path, lab):
    target = tmp_path / "files"
    target.mkdir()
    (target / "h1.conf").write_text("release=v2\n")
    config, runbook = files(tmp_path, lab, vars={"release": "v2", "target_dir": str(target), **PY})
    result = subprocess.run(
        [sys.executable, "-m", "console.cli", "plan", "-c", str(config), "--runbook", str(runbook), "--check"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    out = result.stdout
    assert "Check mode of step roll (Step roll): ansible --check --diff, nothing is changed" in out
    assert "  h1: would change 0 task(s)" in out
    assert "  h2: would change 1 task(s)" in out
    assert "+release=v2" in out
    assert sorted(p.name for p in target.iterdir()) == ["h1.conf"]
    assert not (tmp_path / "state").exists()  # no incident was opened


def test_plan_check_without_ansible_says_how_to_install_it(tmp_path, lab):
    config, runbook = files(tmp_path, lab)
    env = {"PATH": "/nonexistent", "PYTHONPATH": str(REPO)}
    code = (
        "import sys; sys.modules['ansible_runner'] = None; "  # as if the extra were not installed
        "from console.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "plan", "-c", str(config), "--runbook", str(runbook), "--check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "pip install 'warroom[ansible]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_gate_reports_ansible_missing_with_how_to_install_it(tmp_path, lab, monkeypatch):
    config, runbook = files(tmp_path, lab)
    plan = build_plan(load_runbook(runbook, KINDS), load_config(config))
    result = asyncio.run(run_gate(plan, load_config(config)))
    line = next(x for x in result.lines if x.check == "ansible for step roll")
    assert line.status == "ok", line
    monkeypatch.setattr(install, "bin_dir", lambda: tmp_path / "no-bin")
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    result = asyncio.run(run_gate(plan, load_config(config)))
    line = next(x for x in result.lines if x.check == "ansible for step roll")
    assert line.status == "fail"
    assert "ansible-playbook (ansible-core) is not installed: install the extra: pip install 'warroom[ansible]'" in (
        line.detail
    )
    assert not result.passed
