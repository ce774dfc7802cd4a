"""Cancel and timeout of an ansible step: ansible-playbook's whole process group and its ssh
children (and the ControlPersist masters that left the group) are gone, verified with ps, and
the hosts that had a task in flight are named, their outcome unknown."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from ansible_support import ALICE, PY, ansible_step, open_engine, processes_with, write_playbook

pytestmark = pytest.mark.sshd
HOSTS = ["h1", "h2", "h3"]


def long_playbook(marker: str) -> str:
    return f"""
- name: A long task
  hosts: app
  gather_facts: false
  tasks:
    - name: Quick first
      ansible.builtin.command: echo first
      changed_when: false
    - name: Sleep long
      ansible.builtin.shell: sleep 120; echo {marker}
"""


async def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


def ours(tmp_path, lab) -> list[str]:
    """ansible-playbook of this test (its playbook path) and ssh to the lab's hosts (their ports)."""
    found = processes_with(str(tmp_path / "site.yml"))
    for name in HOSTS:
        found += [p for p in processes_with(f"Port={lab.hosts[name].port}") if "ssh" in p]
    return found


async def test_cancel_kills_ansible_playbook_and_its_ssh_children_and_names_the_hosts_in_flight(tmp_path, lab):
    marker = f"warroom-ansible-{uuid.uuid4().hex[:8]}"
    write_playbook(tmp_path / "site.yml", long_playbook(marker))
    engine = open_engine(tmp_path, lab, HOSTS, ansible_step("long", playbook="site.yml", vars=PY))
    try:
        task = engine.start_step(ALICE, "long")
        await wait_for(lambda: len([p for p in processes_with(marker) if "sleep 120" in p and "sh -c" in p]) >= 3)
        assert any("ansible-playbook" in p for p in ours(tmp_path, lab))
        assert any("ssh" in p for p in ours(tmp_path, lab))
        engine.cancel_step(ALICE, "long")
        await asyncio.wait_for(task, 30)
        assert engine.state.steps["long"].status == "cancelled"
        assert ours(tmp_path, lab) == []
        for name in HOSTS:
            result = engine.state.steps["long"].attempt.results[name]
            assert result["status"] == "cancelled"
            assert result["facts"]["in_flight"] == "Sleep long"
            assert result["error"] == f"cancelled while task 'Sleep long' was in flight on {name}: outcome unknown"
            assert result["facts"]["ok"] == 1
    finally:
        await engine.aclose()


async def test_timeout_kills_the_run_and_says_timed_out(tmp_path, lab):
    marker = f"warroom-ansible-{uuid.uuid4().hex[:8]}"
    write_playbook(tmp_path / "site.yml", long_playbook(marker))
    engine = open_engine(tmp_path, lab, HOSTS, ansible_step("long", playbook="site.yml", vars=PY, timeout=8))
    try:
        started = time.monotonic()
        assert await engine.run_step(ALICE, "long") == "timed_out"
        assert time.monotonic() - started < 30
        assert ours(tmp_path, lab) == []
        for name in HOSTS:
            result = engine.state.steps["long"].attempt.results[name]
            assert result["status"] == "timed_out"
            assert result["error"].startswith("timed out after 8s while task 'Sleep long' was in flight")
    finally:
        await engine.aclose()
