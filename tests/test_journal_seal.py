"""The journal's seal (finding 10): whole records cut from the end of a journal are named.

The chain inside the journal catches an edited, deleted or reordered record, but a journal cut
after record k is still a valid chain. ``journal.seal`` beside it keeps the last record's seq and
hash (updated after each append), the engine writes a closing record when it closes a closed
incident, and verify, resume, the incident list and the report all compare the journal with its
seal. Also here: a record whose bytes are not its canonical form (a bit flip that parses to the
same value, ``\\u001b`` -> ``\\u001B``) is caught, which the hash alone cannot do.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ALICE
from report_support import FIXTURE

from console.cli import main
from console.model.errors import JournalCorrupt
from console.model.journal import Journal, verify
from console.model.secrets import Redactor
from console.report import build_report


def make_journal(path: Path, count: int = 8) -> list[bytes]:
    journal = Journal.create(path, Redactor())
    for i in range(count):
        journal.append(
            "note.added", {"text": f"note {i}"}, actor="alice", role="driver", ts=f"2026-11-29T03:00:{i:02d}Z"
        )
    journal.close()
    return path.read_bytes().splitlines(keepends=True)


def seal_of(path: Path) -> dict:
    return json.loads(path.with_name("journal.seal").read_text())


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console.cli", *args], capture_output=True, text=True, timeout=60)


def test_records_cut_from_the_end_are_named_by_verify(tmp_path):
    path = tmp_path / "journal.jsonl"
    lines = make_journal(path)
    last = json.loads(lines[-1])
    path.write_bytes(b"".join(lines[:-2]))  # a clean cut: what is left is still a valid chain
    with pytest.raises(JournalCorrupt) as caught:
        verify(path)
    assert f"2 records cut from the end: last known hash {last['hash']} at seq 8" in str(caught.value)
    result = cli("journal", "verify", str(path))
    assert result.returncode == 1
    assert "2 records cut from the end" in result.stderr and "at seq 8" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_cut_journal_is_not_resumed_and_nothing_is_set_aside(tmp_path):
    path = tmp_path / "journal.jsonl"
    lines = make_journal(path)
    cut = b"".join(lines[:-3]) + lines[-3][:30]  # cut, and the remains of a record after it
    path.write_bytes(cut)
    with pytest.raises(JournalCorrupt, match=r"cut from the end|sealed"):
        Journal.open(path, Redactor())
    assert path.read_bytes() == cut
    assert not list(tmp_path.glob("journal.jsonl.torn-*"))


def test_a_crash_between_append_and_seal_leaves_one_record_ahead_and_resume_heals_it(tmp_path):
    path = tmp_path / "journal.jsonl"
    lines = make_journal(path)
    before = json.loads(lines[-2])
    path.with_name("journal.seal").write_text(json.dumps({"seq": 7, "hash": before["hash"]}))
    records = verify(path)
    assert len(records) == 8
    result = cli("journal", "verify", str(path))
    assert result.returncode == 0, result.stderr
    assert "ok, 8 records" in result.stdout and "one record past" in result.stdout
    journal, records, torn = Journal.open(path, Redactor())
    journal.close()
    assert len(records) == 8 and torn is None
    assert seal_of(path) == {"seq": 8, "hash": records[-1]["hash"]}


def test_the_seal_follows_every_append(tmp_path):
    path = tmp_path / "journal.jsonl"
    journal = Journal.create(path, Redactor())
    assert seal_of(path)["seq"] == 0
    record = journal.append("note.added", {"text": "x"}, actor="a", role="driver", ts="t")
    assert seal_of(path) == {"seq": 1, "hash": record["hash"]}
    journal.close()
    result = cli("journal", "verify", str(path))
    assert result.returncode == 0 and "sealed" in result.stdout


def test_a_seal_that_does_not_match_its_record_is_named(tmp_path):
    path = tmp_path / "journal.jsonl"
    make_journal(path)
    path.with_name("journal.seal").write_text(json.dumps({"seq": 8, "hash": "f" * 64}))
    with pytest.raises(JournalCorrupt, match=r"record 8: .*journal\.seal"):
        verify(path)


def test_a_bit_flip_that_parses_the_same_is_caught(tmp_path):
    """``\\u001b`` and ``\\u001B`` are the same string once parsed: only the bytes tell them apart."""
    path = tmp_path / "journal.jsonl"
    journal = Journal.create(path, Redactor())
    journal.append("note.added", {"text": "colour \x1b[31m"}, actor="a", role="driver", ts="t")
    journal.append("note.added", {"text": "second"}, actor="a", role="driver", ts="t")
    journal.close()
    raw = path.read_bytes()
    assert b"\\u001b" in raw
    path.write_bytes(raw.replace(b"\\u001b", b"\\u001B"))
    with pytest.raises(JournalCorrupt, match=r"record 1: .*canonical"):
        verify(path)


async def test_closing_a_closed_incident_writes_the_closing_record(engine):
    engine.take_seat(ALICE)
    engine.close(ALICE, "aborted", "nothing to roll back")
    await engine.aclose()
    path = engine.journal.path
    records = verify(path)
    assert records[-1]["type"] == "journal.closed" and records[-1]["data"] == {}
    assert seal_of(path) == {"seq": len(records), "hash": records[-1]["hash"]}
    result = cli("journal", "verify", str(path))
    assert result.returncode == 0 and "closed" in result.stdout


async def test_an_open_incident_gets_no_closing_record(engine):
    await engine.aclose()
    assert verify(engine.journal.path)[-1]["type"] != "journal.closed"


def test_the_report_names_the_seal_and_refuses_a_cut_journal(tmp_path, capsys):
    incident = tmp_path / "incident"
    shutil.copytree(FIXTURE, incident)
    data = build_report(incident)
    assert data["journal"]["seal"]["status"] == "sealed"
    lines = (incident / "journal.jsonl").read_bytes().splitlines(keepends=True)
    (incident / "journal.jsonl").write_bytes(b"".join(lines[:-1]))
    with pytest.raises(JournalCorrupt, match="1 record cut from the end"):
        build_report(incident)
    assert main(["report", str(incident)]) == 1
    assert "1 record cut from the end" in capsys.readouterr().err


def test_the_incident_list_names_a_cut_journal(tmp_path):
    from console.model.incidents import list_incidents

    incident = tmp_path / "state" / "incidents" / "20261129-030000-abcd"
    shutil.copytree(FIXTURE, incident)
    lines = (incident / "journal.jsonl").read_bytes().splitlines(keepends=True)
    (incident / "journal.jsonl").write_bytes(b"".join(lines[:-2]))
    [row] = list_incidents(tmp_path / "state")
    assert row.status.startswith("corrupt") and "2 records cut from the end" in row.status


def test_an_empty_seal_after_a_power_cut_is_named_and_rewritten_on_resume(tmp_path):
    path = tmp_path / "journal.jsonl"
    make_journal(path)
    path.with_name("journal.seal").write_bytes(b"")
    result = cli("journal", "verify", str(path))
    assert result.returncode == 0 and "journal.seal is damaged" in result.stdout
    journal, records, _ = Journal.open(path, Redactor())
    journal.close()
    assert seal_of(path) == {"seq": 8, "hash": records[-1]["hash"]}


def test_a_last_hash_kept_elsewhere_catches_a_cut_with_a_forged_seal(tmp_path):
    """Whoever can write the incident directory can rewrite the seal too; the report's last hash,
    kept elsewhere, still names the cut."""
    path = tmp_path / "journal.jsonl"
    lines = make_journal(path)
    reported = json.loads(lines[-1])["hash"]
    assert cli("journal", "verify", str(path), "--last-hash", reported).returncode == 0
    path.write_bytes(b"".join(lines[:-1]))
    left = json.loads(lines[-2])
    path.with_name("journal.seal").write_text(json.dumps({"seq": left["seq"], "hash": left["hash"]}))
    assert cli("journal", "verify", str(path)).returncode == 0  # the forged seal matches
    result = cli("journal", "verify", str(path), "--last-hash", reported)
    assert result.returncode == 1 and f"no record has the hash {reported}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
