"""Hostile values in the parameters a step kind writes into a remote shell line (finding 5): on
a real sshd host, no command substitution in an archive, dest, cwd or compose-file value runs."""

from __future__ import annotations

import asyncssh
import pytest
from test_storage_git import ALICE, open_engine, step

from actions.docker.compose import command_line
from actions.docker.params import DockerParams
from actions.transport import shell_path

pytestmark = pytest.mark.sshd

HOSTILE = [
    "x$(touch {mark}.dollar)",
    "x`touch {mark}.tick`",
    'x"; touch {mark}.quote; echo "',
    "x'; touch {mark}.single; echo '",
    "x$((1+1))$(touch {mark}.arith)",
    "${{HOME:-$(touch {mark}.default)}}",
]


def marks(root) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith("PWNED"))


@pytest.mark.parametrize("hostile", HOSTILE)
async def test_a_hostile_archive_or_dest_runs_nothing(tmp_path, lab, hostile):
    root = lab.start("h1").root
    value = hostile.format(mark=root / "PWNED")
    for params in ({"archive": value}, {"dest": value, "archive": "a.tgz"}):
        (tmp_path / str(len(params))).mkdir()
        engine = open_engine(tmp_path / str(len(params)), lab, ["h1"], step("storage", "storage", **_toml(params)))
        try:
            assert await engine.run_step(ALICE, "storage") == "failed"
            result = engine.state.steps["storage"].attempt.results["h1"]
            assert "not found on h1" in result["error"]
        finally:
            await engine.aclose()
    assert marks(root) == []


@pytest.mark.parametrize("hostile", HOSTILE[:3])
async def test_a_substitution_written_in_a_cwd_runs_nothing(tmp_path, lab, hostile):
    """The runbook's cwd text keeps ``$VARS`` and ``~`` expanding, but not ``$(...)``."""
    root = lab.start("h1").root
    cwd = "$HOSTDIR/" + hostile.format(mark="$HOSTDIR/PWNED")
    engine = open_engine(tmp_path, lab, ["h1"], step("storage", "storage", cwd=_toml_str(cwd)))
    try:
        assert await engine.run_step(ALICE, "storage") == "failed"
    finally:
        await engine.aclose()
    assert marks(root) == []


async def test_a_compose_file_path_is_one_word_with_no_substitution(lab):
    """The compose kind's ``-f`` path keeps ``$VARS`` and ``~`` (a config value), nothing else."""
    host = lab.start("h1")
    async with asyncssh.connect(
        "127.0.0.1",
        port=host.port,
        username=lab.user,
        client_keys=[str(lab.client_key)],
        known_hosts=str(lab.known_hosts),
    ) as conn:
        for hostile in HOSTILE:
            value = hostile.format(mark="$HOSTDIR/PWNED")
            await conn.run(f"printf '%s' {shell_path(value)}", check=True)
            params = DockerParams.model_validate(
                {"operation": "compose", "compose": "up -d", "project": "p", "file": value, "compose_command": "true"}
            )
            await conn.run(command_line(params, "proj"), check=True)
        literal = await conn.run(f"printf '%s' {shell_path('$HOSTDIR/x$(id -u).yml')}", check=True)
        assert literal.stdout == f"{host.root}/x$(id -u).yml"
        home = await conn.run(f"printf '%s' {shell_path('~/app/$USER.yml')}", check=True)
        assert home.stdout == f"{(await conn.run('printf %s $HOME')).stdout}/app/{lab.user}.yml"
    assert marks(host.root) == []


def _toml_str(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _toml(params: dict[str, str]) -> dict[str, str]:
    return {k: _toml_str(v) for k, v in params.items()}
