"""storage and git step kinds against real sshd hosts, each with its own tree."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

import pytest
from conftest import write_config, write_runbook

from actions.registry import KINDS
from console.engine import Actor, Engine
from console.model.config import load_config
from console.model.plan import build_plan
from console.model.runbook import load_runbook

pytestmark = pytest.mark.sshd
ALICE = Actor("alice", "driver")


def step(step_id: str, kind: str, cwd: str = "$HOSTDIR", **params: str) -> str:
    body = "".join(f'{k} = "{v}"\n' for k, v in params.items())
    table = f"[phases.steps.params]\n{body}" if params else ""
    return (
        f'\n[[phases.steps]]\nid = "{step_id}"\ntitle = "{step_id}"\nkind = "{kind}"\ntargets = "app"\n'
        f'cwd = "{cwd}"\ntimeout = 30\n{table}'
    )


def open_engine(tmp_path: Path, lab, hosts: list[str], steps: str) -> Engine:
    config = load_config(write_config(tmp_path / "config.toml", lab, hosts))
    runbook = load_runbook(write_runbook(tmp_path / "runbook.toml", steps), KINDS)
    engine = Engine.open(
        tmp_path / "state", build_plan(runbook, config), ALICE, severity="P0", trigger="t", config=config
    )
    engine.take_seat(ALICE)
    return engine


def git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x",
        "PATH": "/usr/bin:/bin",
        "HOME": str(repo),
    }
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout


def make_repo(root: Path) -> dict[str, str]:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    git(root, "config", "--local", "safe.directory", "*")
    commits = {}
    for tag in ("v0.8.0", "v0.9.0", "v1.0.0-rc1", "v1.0.0"):
        (root / "VERSION").write_text(tag)
        git(root, "add", "VERSION")
        git(root, "commit", "-qm", tag)
        git(root, "tag", tag)
        commits[tag] = git(root, "rev-parse", "HEAD").strip()
    return commits


def make_tarball(root: Path, files: int) -> Path:
    src = root / "src"
    for i in range(files):
        path = src / ("public/avatars" if i % 2 else "invoices") / f"f{i}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes([i % 256]) * 100)
    archive = root / "storage/app/backups/storage_backup.tar.gz"
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(src.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(src)), recursive=False)
    return archive


async def test_git_checks_out_the_previous_stable_tag_and_verifies_head(tmp_path, lab):
    engine = open_engine(tmp_path, lab, ["h1", "h2"], step("checkout", "git", cwd="$HOSTDIR/repo"))
    commits = {name: make_repo(lab.hosts[name].root / "repo") for name in ("h1", "h2")}
    try:
        preview = await engine.preview_step(ALICE, "checkout")
        assert preview["h1"].startswith("HEAD v1.0.0 (") and "-> v0.9.0 (" in preview["h1"]
        assert await engine.run_step(ALICE, "checkout") == "succeeded"
        for name in ("h1", "h2"):
            facts = engine.state.steps["checkout"].attempt.results[name]["facts"]
            assert facts["from_ref"] == "v1.0.0" and facts["to_ref"] == "v0.9.0"
            assert facts["to_commit"] == commits[name]["v0.9.0"]
            assert git(lab.hosts[name].root / "repo", "rev-parse", "HEAD").strip() == commits[name]["v0.9.0"]
    finally:
        await engine.aclose()


async def test_git_with_a_missing_ref_fails_clearly_and_changes_nothing(tmp_path, lab):
    engine = open_engine(tmp_path, lab, ["h1"], step("checkout", "git", cwd="$HOSTDIR/repo", ref="v0.7.7"))
    commits = make_repo(lab.hosts["h1"].root / "repo")
    try:
        assert await engine.run_step(ALICE, "checkout") == "failed"
        result = engine.state.steps["checkout"].attempt.results["h1"]
        assert "cannot resolve v0.7.7 on h1" in result["error"]
        assert "ref v0.7.7 does not exist" in engine.output_path("checkout", 1, "h1").read_text()
        assert git(lab.hosts["h1"].root / "repo", "rev-parse", "HEAD").strip() == commits["v1.0.0"]
    finally:
        await engine.aclose()


async def test_storage_restore_extracts_and_counts_every_file(tmp_path, lab):
    engine = open_engine(tmp_path, lab, ["h1"], step("storage", "storage"))
    root = lab.start("h1").root if "h1" not in lab.hosts else lab.hosts["h1"].root
    make_tarball(root, 25)
    (root / "storage/app").mkdir(parents=True, exist_ok=True)
    try:
        assert await engine.run_step(ALICE, "storage") == "succeeded"
        facts = engine.state.steps["storage"].attempt.results["h1"]["facts"]
        assert facts["archive_files"] == 25 and facts["restored_files"] == 25
        assert (root / "storage/app/invoices/f0.bin").read_bytes() == b"\x00" * 100
    finally:
        await engine.aclose()


async def test_storage_restore_of_a_corrupt_archive_fails(tmp_path, lab):
    engine = open_engine(tmp_path, lab, ["h1"], step("storage", "storage"))
    root = lab.hosts["h1"].root
    archive = make_tarball(root, 10)
    archive.write_bytes(archive.read_bytes()[:200])
    (root / "storage/app").mkdir(parents=True, exist_ok=True)
    try:
        assert await engine.run_step(ALICE, "storage") == "failed"
        assert engine.state.steps["storage"].attempt.results["h1"]["status"] == "failed"
        error = engine.state.steps["storage"].attempt.results["h1"]["error"]
        assert (
            error
            == "archive storage/app/backups/storage_backup.tar.gz on h1 could not be extracted (corrupt or truncated?)"
        )
        assert "restored_files" not in engine.state.steps["storage"].attempt.results["h1"].get("facts", {})
    finally:
        await engine.aclose()


async def test_storage_without_the_archive_names_it(tmp_path, lab):
    engine = open_engine(tmp_path, lab, ["h1"], step("storage", "storage"))
    try:
        assert await engine.run_step(ALICE, "storage") == "failed"
        assert (
            "archive storage/app/backups/storage_backup.tar.gz not found on h1"
            in (engine.state.steps["storage"].attempt.results["h1"]["error"])
        )
    finally:
        await engine.aclose()
