"""A report is built from an incident directory that may come from elsewhere (finding 13): it
never follows a symbolic link under ``outputs/`` nor a path out of it, so it cannot be made to
read, and print, a local file."""

from __future__ import annotations

import pytest
from report_support import copy_fixture, reports, validate

from console.model.errors import IncidentError
from console.report.outputs import excerpt

LOCAL = "LOCAL-FILE-NOT-FOR-THE-REPORT"


def plant(tmp_path):
    local = tmp_path / "home" / "private.txt"
    local.parent.mkdir(parents=True)
    local.write_text(f"{LOCAL} line 1\n{LOCAL} line 2\n")
    return local


def test_a_spool_that_is_a_symlink_to_a_local_file_is_not_read(tmp_path):
    local = plant(tmp_path)
    incident = copy_fixture(tmp_path / "foreign" / "incident")
    spool = incident / "outputs/checkout/1/h1.log"
    spool.unlink()
    spool.symlink_to(local)
    found = reports(incident)
    for fmt, text in found.items():
        assert LOCAL not in text, fmt
    assert "outputs/checkout/1/h1.log is a symbolic link: not followed" in found["md"]


def test_a_symlinked_outputs_directory_is_not_followed(tmp_path):
    local = plant(tmp_path)
    incident = copy_fixture(tmp_path / "foreign" / "incident")
    step_dir = incident / "outputs/checkout/1"
    for log in step_dir.iterdir():
        log.rename(local.parent / log.name)
    step_dir.rmdir()
    (local.parent / "h1.log").write_text(f"{LOCAL}\n")
    step_dir.symlink_to(local.parent)
    found = reports(incident)
    assert all(LOCAL not in text for text in found.values())
    assert "outputs/checkout/1/h1.log is a symbolic link: not followed" in found["md"]


def test_a_journaled_host_name_cannot_lead_out_of_the_incident_directory(tmp_path):
    local = plant(tmp_path)
    incident = tmp_path / "foreign" / "incident"
    (incident / "outputs/s/1").mkdir(parents=True)
    relative = "outputs/s/1/../../../../../home/private.txt"
    found = excerpt(incident, relative, {"bytes": 10, "sha256": "0" * 64})
    assert found["head"] == [] and found["tail"] == [] and found["size"] is None
    assert found["problem"] == f"{relative} is not a plain path inside the incident directory: not read"
    assert local.read_text().startswith(LOCAL)


def test_the_refused_output_is_named_in_every_format(tmp_path):
    local = plant(tmp_path)
    incident = copy_fixture(tmp_path / "foreign" / "incident")
    spool = incident / "outputs/restart/1/h2.log"
    spool.unlink()
    spool.symlink_to(local)
    found = reports(incident)
    assert "NOT READ (unsafe path)" in found["md"] and "NOT READ (unsafe path)" in found["html"]
    assert '"check": "refused"' in found["json"]
    validate(found["json"])


def test_a_journal_that_is_a_symlink_is_refused_in_one_line(tmp_path):
    incident = copy_fixture(tmp_path / "foreign" / "incident")
    elsewhere = copy_fixture(tmp_path / "local" / "other")
    (incident / "journal.jsonl").unlink()
    (incident / "journal.jsonl").symlink_to(elsewhere / "journal.jsonl")
    with pytest.raises(IncidentError, match=r"journal\.jsonl: is a symbolic link: not followed$"):
        reports(incident)
