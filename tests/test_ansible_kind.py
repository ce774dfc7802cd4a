"""The ansible step kind against the lab's real sshd hosts: per-host results, a failing host,
an unreachable one, a changed host key refused."""

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


async def test_playbook_runs_on_three_hosts_and_one_fails(tmp_path, lab):
    write_playbook(tmp_path / "site.yml", PLAYBOOK)
    steps = ansible_step("roll", playbook="site.yml", vars={"release": "v0.9.0", **PY})
    engine = open_engine(tmp_path, lab, ["h1", "h2", "h3"], steps)
    (lab.hosts["h2"].root / "broken").touch()
    try:
        assert await engine.run_step(ALICE, "roll") == "failed"
        results = engine.state.steps["roll"].attempt.results
        print(results)
        assert results["h1"]["status"] == "ok"
        assert results["h1"]["facts"]["ansible"] == "changed"
        assert results["h2"]["status"] == "failed"
        assert "Break where told" in results["h2"]["error"]
        assert "boom" in results["h2"]["error"]
        out = engine.output_path("roll", 1, "h2").read_text()
        assert "TASK [Break where told]" in out
        print(out)
    finally:
        await engine.aclose()
