"""The ansible step kind against the lab's real sshd hosts: per-host results with a failing host,
the failure policy and the hosts it left unattempted, an unreachable host, a changed host key
refused, one module ad hoc, an inventory of one's own with limit."""

from __future__ import annotations

import pytest
from ansible_support import ALICE, PY, ansible_step, journal, open_engine, write_playbook

pytestmark = pytest.mark.sshd

PLAYBOOK = """
- name: Roll back the release
  hosts: app
  gather_facts: false
  tasks:
    - name: Write the release marker
      ansible.builtin.shell: 'echo "{{ release }}" > "$HOSTDIR/marker"'
    - name: Break where told
      ansible.builtin.shell: 'if [ -e "$HOSTDIR/broken" ]; then echo boom >&2; exit 3; fi'
      changed_when: false
    - name: Say done
      ansible.builtin.command: echo done
      changed_when: false
"""
HOSTS = ["h1", "h2", "h3"]


async def test_a_task_failing_on_one_host_fails_it_alone_with_per_host_counts(tmp_path, lab):
    write_playbook(tmp_path / "site.yml", PLAYBOOK)
    steps = ansible_step("roll", playbook="site.yml", vars={"release": "v0.9.0", **PY})
    engine = open_engine(tmp_path, lab, HOSTS, steps)
    (lab.hosts["h2"].root / "broken").touch()
    try:
        assert await engine.run_step(ALICE, "roll") == "failed"
        results = engine.state.steps["roll"].attempt.results
        for name in ("h1", "h3"):
            assert results[name]["status"] == "ok"
            assert results[name]["facts"] == {"ansible": "changed", "ok": 3, "changed": 1}
            assert (lab.hosts[name].root / "marker").read_text() == "v0.9.0\n"
        assert results["h2"]["status"] == "failed"
        assert results["h2"]["facts"] == {"ansible": "failed", "ok": 1, "changed": 1, "failed": 1}
        assert results["h2"]["error"] == "task 'Break where told' failed: non-zero return code; rc=3; stderr: boom"
        out = engine.output_path("roll", 1, "h2").read_text()
        assert "TASK [Break where told]" in out
        assert "fatal: [h2]: FAILED!" in out
        assert "RECAP h2: failed" in out
        assert "\r" not in out
        assert "TASK [Say done]" not in out
        assert "ok: [h1]" in engine.output_path("roll", 1, "h1").read_text()
        assert "h2: task 'Break where told' failed" in engine.state.steps["roll"].attempt.error
        finished = [r["data"]["host"] for r in journal(engine) if r["type"] == "step.host_finished"]
        assert sorted(finished) == HOSTS
    finally:
        await engine.aclose()


async def test_serial_and_max_fail_percentage_stop_the_play_and_name_the_hosts_not_attempted(tmp_path, lab):
    write_playbook(tmp_path / "site.yml", PLAYBOOK)
    steps = ansible_step("roll", playbook="site.yml", serial=1, max_fail_percentage=0, vars={"release": "v0.9.0", **PY})
    engine = open_engine(tmp_path, lab, HOSTS, steps)
    (lab.hosts["h1"].root / "broken").touch()
    try:
        assert await engine.run_step(ALICE, "roll") == "failed"
        results = engine.state.steps["roll"].attempt.results
        assert results["h1"]["status"] == "failed"
        for name in ("h2", "h3"):
            assert results[name]["status"] == "error"
            assert results[name]["facts"]["ansible"] == "not attempted"
            assert results[name]["error"].startswith("not attempted: ansible stopped before this host's turn")
            assert not (lab.hosts[name].root / "marker").exists()
        assert (tmp_path / "site.yml").read_text() == PLAYBOOK  # the policy went into a copy
    finally:
        await engine.aclose()


async def test_an_unreachable_host_is_unreachable_and_the_others_carry_on(tmp_path, lab):
    write_playbook(tmp_path / "site.yml", PLAYBOOK)
    steps = ansible_step("roll", playbook="site.yml", vars={"release": "v1", **PY})
    engine = open_engine(tmp_path, lab, HOSTS, steps)
    lab.hosts["h3"].stop()
    try:
        assert await engine.run_step(ALICE, "roll") == "failed"
        results = engine.state.steps["roll"].attempt.results
        assert results["h3"]["status"] == "error"
        assert results["h3"]["facts"]["ansible"] == "unreachable"
        assert results["h3"]["error"].startswith("unreachable at task 'Write the release marker'")
        assert "Connection refused" in results["h3"]["error"]
        assert [results[h]["status"] for h in ("h1", "h2")] == ["ok", "ok"]
    finally:
        await engine.aclose()


async def test_a_changed_host_key_is_refused_never_trusted(tmp_path, lab):
    write_playbook(tmp_path / "site.yml", PLAYBOOK)
    for name in HOSTS:
        lab.start(name)
    impostor = lab.write_unknown_key_known_hosts(lab.hosts["h1"], tmp_path / "impostor")
    known = tmp_path / "known_hosts"
    lines = [line for line in lab.known_hosts.read_text().splitlines() if f":{lab.hosts['h1'].port} " not in line]
    known.write_text("\n".join([*lines, impostor.read_text().strip()]) + "\n")
    steps = ansible_step("roll", playbook="site.yml", vars={"release": "v1", **PY})
    engine = open_engine(tmp_path, lab, HOSTS, steps, known_hosts=known)
    try:
        assert await engine.run_step(ALICE, "roll") == "failed"
        results = engine.state.steps["roll"].attempt.results
        assert results["h1"]["facts"]["ansible"] == "unreachable"
        assert "host key CHANGED" in results["h1"]["error"]
        assert not (lab.hosts["h1"].root / "marker").exists()
        assert [results[h]["status"] for h in ("h2", "h3")] == ["ok", "ok"]
        assert known.read_text().count(f":{lab.hosts['h1'].port} ") == 1  # nothing learnt on the way
    finally:
        await engine.aclose()


async def test_one_module_ad_hoc_on_every_host(tmp_path, lab):
    steps = ansible_step(
        "probe", module="ansible.builtin.shell", args='echo "on $HOSTDIR"; touch "$HOSTDIR/probed"', vars=PY
    )
    engine = open_engine(tmp_path, lab, HOSTS, steps)
    try:
        assert await engine.run_step(ALICE, "probe") == "succeeded"
        for name in HOSTS:
            assert (lab.hosts[name].root / "probed").exists()
            out = engine.output_path("probe", 1, name).read_text()
            assert f"on {lab.hosts[name].root}" in out
            assert engine.state.steps["probe"].attempt.results[name]["facts"]["ansible"] == "changed"
    finally:
        await engine.aclose()


async def test_an_inventory_of_ones_own_with_limit(tmp_path, lab):
    write_playbook(tmp_path / "site.yml", PLAYBOOK.replace("hosts: app", "hosts: web"))
    for name in HOSTS:
        lab.start(name)
    lines = ["[web]"]
    for name in HOSTS:
        host = lab.hosts[name]
        lines.append(
            f"{name} ansible_host=127.0.0.1 ansible_port={host.port} ansible_user={lab.user} "
            f"ansible_ssh_private_key_file={lab.client_key} ansible_python_interpreter=/usr/bin/python3"
        )
    (tmp_path / "fleet.ini").write_text("\n".join(lines) + "\n")
    steps = ansible_step("roll", playbook="site.yml", inventory="fleet.ini", limit="h1:h2", vars={"release": "v2"})
    engine = open_engine(tmp_path, lab, HOSTS, steps, groups={"app": ["h1", "h2"], "all3": HOSTS})
    try:
        assert await engine.run_step(ALICE, "roll") == "succeeded"
        for name in ("h1", "h2"):
            assert (lab.hosts[name].root / "marker").read_text() == "v2\n"
        assert not (lab.hosts["h3"].root / "marker").exists()
    finally:
        await engine.aclose()


async def test_a_broken_playbook_fails_every_host_with_ansibles_error(tmp_path, lab):
    write_playbook(tmp_path / "site.yml", "- hosts: app\n  tasks:\n    - name: x\n      no.such.module: {}\n")
    engine = open_engine(tmp_path, lab, ["h1", "h2"], ansible_step("roll", playbook="site.yml", vars=PY))
    try:
        assert await engine.run_step(ALICE, "roll") == "failed"
        for name in ("h1", "h2"):
            result = engine.state.steps["roll"].attempt.results[name]
            assert result["facts"]["ansible"] == "not attempted"
            print(result["error"])
            assert "no.such.module" in result["error"]
            assert "\n" not in result["error"]
    finally:
        await engine.aclose()
