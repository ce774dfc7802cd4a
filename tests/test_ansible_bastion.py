"""The ansible kind reaches hosts behind a bastion as warroom's own steps do (tests/bastion_support.py:
the targets in their own network namespace, no direct route): through the bastion, each hop's host
key checked against its own known_hosts."""

from __future__ import annotations

import subprocess

import pytest
from ansible_support import ALICE, PY, ansible_step
from conftest import write_runbook
from test_bastion import TARGETS, bastion_config, net  # noqa: F401  (fixture)

from actions.registry import KINDS
from console.engine import Engine
from console.model.config import load_config
from console.model.plan import build_plan
from console.model.runbook import load_runbook

pytestmark = pytest.mark.sshd


def _engine(tmp_path, config_path) -> Engine:
    steps = ansible_step("probe", module="ansible.builtin.shell", args="hostname -I; echo done-$(id -un)", vars=PY)
    runbook = load_runbook(write_runbook(tmp_path / "rb.toml", steps), KINDS)
    config = load_config(config_path)
    engine = Engine.open(
        tmp_path / "state", build_plan(runbook, config), ALICE, severity="P0", trigger="t", config=config
    )
    engine.take_seat(ALICE)
    return engine


async def test_an_ansible_step_goes_through_the_bastion(tmp_path, lab, net):  # noqa: F811
    engine = _engine(tmp_path, bastion_config(tmp_path, lab, net))
    try:
        assert await engine.run_step(ALICE, "probe") == "succeeded"
        for name in TARGETS:
            out = engine.output_path("probe", 1, name).read_text()
            assert net.target_address in out and f"done-{lab.user}" in out
        for sshd in net.targets.values():  # the logins came from the bastion's side
            assert any(f"from {net.bastion_inner} " in line for line in sshd.logins()), sshd.logins()
    finally:
        await engine.aclose()


async def test_an_ansible_step_refuses_a_changed_bastion_key(tmp_path, lab, net):  # noqa: F811
    impostor = tmp_path / "impostor"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(impostor)], check=True)
    wrong = tmp_path / "known_hosts_wrong"
    wrong.write_text(
        f"[{net.bastion.address}]:{net.bastion.port} "
        + " ".join(impostor.with_suffix(".pub").read_text().split()[:2])
        + "\n"
    )
    engine = _engine(tmp_path, bastion_config(tmp_path, lab, net, bastion_known=wrong))
    try:
        assert await engine.run_step(ALICE, "probe") == "failed"
        results = engine.state.steps["probe"].attempt.results
        assert all(results[name]["facts"]["ansible"] == "unreachable" for name in TARGETS), results
        assert not any(f"from {net.bastion_inner} " in line for s in net.targets.values() for line in s.logins())
    finally:
        await engine.aclose()
