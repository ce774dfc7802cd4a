"""A runbook named by the config's ``environment.runbook`` (no ``--runbook``): each of its errors
names the runbook file, its key and line, never the config key that named it; only a reference
that names no runbook at all is the config key's fault.

Every runbook case of ``test_bad_input`` is replayed this way, through ``console.cli.main`` in the
test process (the bad-input tests already run the CLI as a subprocess).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bad_input_support import CONFIG, MARK, MISSING, RUNBOOK, Case, _prepare, _write, sub
from test_bad_input import CASES

from console.cli import main

RUNBOOK_CASES = [c for c in CASES if c.blame == "runbook" and c.runbook not in (None, MISSING) and not c.runbook_arg]
NAMED = "books/runbook.toml"
"""The runbook as the config names it: relative, as a team would write it."""


def _config(tmp_path: Path, runbook: str) -> tuple[Path, int]:
    """The base config naming ``runbook``; returns its path and the line of ``runbook =``."""
    text = CONFIG.replace('name = "test"\n', f'name = "test"\nrunbook = "{runbook}"{MARK}\n')
    return tmp_path / "config.toml", _write(tmp_path / "config.toml", text, None, tmp_path) or 0


def _plan(tmp_path: Path, monkeypatch, capsys, config: Path) -> str:
    monkeypatch.chdir(tmp_path)
    code = main(["plan", "-c", str(config)])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and "Traceback" not in err, (code, out, err)
    assert err.endswith("\n") and len(err.splitlines()) == 1, f"not one line: {err!r}"
    return err


@pytest.mark.parametrize("case", RUNBOOK_CASES, ids=[c.id for c in RUNBOOK_CASES])
def test_an_error_in_a_config_named_runbook_names_the_runbook_file_and_key(
    case: Case, tmp_path: Path, monkeypatch, capsys
) -> None:
    _prepare(tmp_path)
    (tmp_path / "books").mkdir()
    config, _ = _config(tmp_path, NAMED)
    line = _write(tmp_path / NAMED, RUNBOOK, case.runbook, tmp_path)
    err = _plan(tmp_path, monkeypatch, capsys, config)
    where = f"{tmp_path / NAMED}:{line}" if line else str(tmp_path / NAMED)  # read beside the config
    head = f"warroom: Invalid runbook: {where}: {case.key}: " if case.key else f"warroom: Invalid runbook: {where}: "
    assert err.startswith(head), f"\nexpected head: {head}\ngot:           {err}"
    assert case.phrase in err and "environment.runbook" not in err and str(config) not in err


def test_a_runbook_without_triggers_is_blamed_on_its_triggers_key(tmp_path: Path, monkeypatch, capsys) -> None:
    """The case the issue reported: it said ``config.toml:4: environment.runbook: missing required key``."""
    _prepare(tmp_path)
    (tmp_path / "books").mkdir()
    config, _ = _config(tmp_path, NAMED)
    _write(tmp_path / NAMED, RUNBOOK, sub('triggers = ["Something broke"]\n', ""), tmp_path)
    err = _plan(tmp_path, monkeypatch, capsys, config)
    assert err == f"warroom: Invalid runbook: {tmp_path / NAMED}: triggers: missing required key\n"


def test_a_missing_table_key_points_at_its_table(tmp_path: Path, monkeypatch, capsys) -> None:
    _prepare(tmp_path)
    (tmp_path / "books").mkdir()
    config, _ = _config(tmp_path, NAMED)
    _write(tmp_path / NAMED, RUNBOOK, sub('title = "Test rollback"\n', ""), tmp_path)
    err = _plan(tmp_path, monkeypatch, capsys, config)
    assert err == f"warroom: Invalid runbook: {tmp_path / NAMED}:3: runbook.title: missing required key\n"


@pytest.mark.parametrize(
    ("runbook", "problem"),
    [
        ("books/nowhere.toml", "books/nowhere.toml: file not found"),
        ("books", "books: is a directory, not a file"),
        ("salonmanagr", "salonmanagr: no such file, and not a built-in runbook (built-in: salonmanager); did you mean"),
    ],
    ids=["missing", "directory", "name-typo"],
)
def test_a_runbook_reference_naming_no_file_is_the_config_keys_fault(
    runbook: str, problem: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    _prepare(tmp_path)
    (tmp_path / "books").mkdir()
    config, line = _config(tmp_path, runbook)
    err = _plan(tmp_path, monkeypatch, capsys, config)
    assert err.startswith(f"warroom: Invalid config: {config}:{line}: environment.runbook: {problem}"), err


def test_a_relative_runbook_path_is_read_beside_the_config(tmp_path: Path, monkeypatch, capsys) -> None:
    """``runbook = "runbook.toml"`` in /etc/x/config.toml is /etc/x/runbook.toml, wherever warroom
    is started; its errors then name it by that path."""
    _prepare(tmp_path)
    etc = tmp_path / "etc"
    etc.mkdir()
    _write(etc / "runbook.toml", RUNBOOK, sub('title = "Test rollback"\n', ""), tmp_path)
    text = CONFIG.replace('name = "test"\n', f'name = "test"\nrunbook = "runbook.toml"{MARK}\n')
    _write(etc / "config.toml", text, None, tmp_path)
    err = _plan(tmp_path, monkeypatch, capsys, etc / "config.toml")
    assert err == f"warroom: Invalid runbook: {etc / 'runbook.toml'}:3: runbook.title: missing required key\n"
