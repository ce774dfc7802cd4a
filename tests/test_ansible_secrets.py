"""Extra vars of an ansible step: a secret passed as an extra var reaches the playbook and never
the journal, the output spool or the report; check mode touches nothing and shows the changes."""

from __future__ import annotations

import json
import stat

import pytest
from ansible_support import ALICE, PY, ansible_step, open_engine, write_playbook
from conftest import declare

from actions.ansible.workspace import Workspace
from console.report import build_report, render

pytestmark = pytest.mark.sshd
HOSTS = ["h1", "h2", "h3"]
SECRET = "s3cr3t-Ansible-Pa55-9f2c"
SECRET_PLAYBOOK = """
- name: Use the password
  hosts: app
  gather_facts: false
  tasks:
    - name: Store it on the host
      ansible.builtin.shell: 'printf %s "{{ db_password }}" > "$HOSTDIR/pw"'
    - name: Show it (as a careless playbook would)
      ansible.builtin.debug:
        msg: "password is {{ db_password }} for {{ app_name }}"
"""


async def test_a_secret_extra_var_reaches_the_playbook_and_never_journal_spool_or_report(tmp_path, lab, monkeypatch):
    monkeypatch.setenv("WARROOM_TEST_DB_PW", SECRET)
    write_playbook(tmp_path / "site.yml", SECRET_PLAYBOOK)
    steps = ansible_step(
        "use",
        playbook="site.yml",
        vars={"app_name": "{{ app.name }}", **PY},
        secret_vars={"db_password": "db.password"},
    )
    variables = declare(db__password="secret", app__name="string")
    extra = '\n[vars]\ndb.password = "env:WARROOM_TEST_DB_PW"\napp.name = "salon"\n'
    engine = open_engine(tmp_path, lab, HOSTS, steps, variables=variables, extra=extra)
    try:
        assert await engine.run_step(ALICE, "use") == "succeeded"
        for name in HOSTS:
            assert (lab.hosts[name].root / "pw").read_text() == SECRET
            out = engine.output_path("use", 1, name).read_text()
            assert "password is ******** for salon" in out
        incident = engine.journal.path.parent
        for path in incident.rglob("*"):
            if path.is_file():
                assert SECRET not in path.read_text(errors="replace"), path
        report = build_report(engine.journal.path.parent)  # from the journal alone: no secret to mask given
        for fmt in ("md", "json", "html"):
            assert SECRET not in render(report, fmt)
        assert "Facts from h1: ansible = changed, changed = 1, ok = 2" in render(report, "md")
    finally:
        await engine.aclose()


def test_the_extra_vars_file_is_owner_only_in_an_owner_only_directory():
    workspace = Workspace()
    try:
        path = workspace.write_extravars({"a": "b"})
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(workspace.root.stat().st_mode) == 0o700
        assert json.loads(path.read_text()) == {"a": "b"}
    finally:
        workspace.close()
    assert not workspace.root.exists()


CHECK_PLAYBOOK = """
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


async def test_check_mode_touches_nothing_and_shows_the_diff_per_host(tmp_path, lab):
    write_playbook(tmp_path / "site.yml", CHECK_PLAYBOOK)
    target = tmp_path / "files"
    target.mkdir()
    (target / "h2.conf").write_text("release=v1\n")
    steps = ansible_step(
        "conf", playbook="site.yml", check=True, vars={"target_dir": str(target), "release": "v2", **PY}
    )
    engine = open_engine(tmp_path, lab, HOSTS, steps)
    try:
        assert await engine.run_step(ALICE, "conf") == "succeeded"
        assert sorted(p.name for p in target.iterdir()) == ["h2.conf"]
        assert (target / "h2.conf").read_text() == "release=v1\n"
        results = engine.state.steps["conf"].attempt.results
        for name in HOSTS:
            assert results[name]["facts"]["check_mode"] is True
            assert results[name]["facts"]["ansible"] == "changed"
        out = engine.output_path("conf", 1, "h2").read_text()
        assert "+release=v2" in out
        assert "--check --diff" in out
    finally:
        await engine.aclose()
