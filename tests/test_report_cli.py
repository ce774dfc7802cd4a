"""The report's JSON schema, the ``warroom report`` CLI and exporting all three formats."""

from __future__ import annotations

import jsonschema
import pytest
from report_support import INCIDENT_ID, copy_fixture, golden, validate

from console.cli import main
from console.report import export_all
from console.report.json_format import schema

# ----- schema, CLI, export ----------------------------------------------------------------------


def test_the_schema_is_valid_and_catches_a_wrong_report():
    jsonschema.Draft202012Validator.check_schema(schema())
    data = validate(golden("json"))
    data["incident"]["status"] = "fine"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema()).validate(data)


def test_cli_writes_files_and_resolves_ids_and_journal_paths(tmp_path, capsys):
    state = tmp_path / "state"
    copy_fixture(state / "incidents" / INCIDENT_ID)
    out = tmp_path / "report.html"
    journal = state / "incidents" / INCIDENT_ID / "journal.jsonl"
    assert main(["report", str(journal), "--format", "html", "-o", str(out)]) == 0
    assert out.read_text() == golden("html")
    assert main(["report", INCIDENT_ID[:15], "--state-dir", str(state), "--format", "json"]) == 0
    assert capsys.readouterr().out == golden("json")
    assert main(["report", INCIDENT_ID, "--state-dir", str(state), "--format", "pdf", "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err == "warroom: Invalid input: --format pdf: unknown report format (use md, html, json)\n"
    assert not (tmp_path / "x").exists()
    assert main(["report", str(journal), "-o", str(tmp_path / "missing" / "r.md")]) == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_export_all_writes_the_three_reports_into_the_incident_directory(tmp_path):
    incident = copy_fixture(tmp_path / "incident")
    paths = export_all(incident)
    assert [p.name for p in paths] == ["report.md", "report.html", "report.json"]
    assert all(p.parent == incident for p in paths)
    assert [p.read_text() for p in paths] == [golden("md"), golden("html"), golden("json")]
    assert sorted(p.name for p in incident.iterdir() if p.name.startswith(".")) == []
