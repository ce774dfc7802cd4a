"""The journal: checksums and chain catch an edited, deleted, reordered or truncated record."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from console.model.errors import JournalCorrupt
from console.model.journal import Journal, read_records, verify
from console.model.secrets import Redactor


def make_journal(path: Path, count: int = 8) -> list[bytes]:
    journal = Journal.create(path, Redactor())
    for i in range(count):
        journal.append(
            "note.added", {"text": f"note {i}"}, actor="alice", role="driver", ts=f"2026-11-29T03:00:{i:02d}Z"
        )
    journal.close()
    return path.read_bytes().splitlines(keepends=True)


def cli_verify(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console.cli", "journal", "verify", str(path)], capture_output=True, text=True
    )


def test_intact_journal_verifies(tmp_path):
    path = tmp_path / "journal.jsonl"
    make_journal(path)
    result = cli_verify(path)
    assert result.returncode == 0, result.stderr
    assert "ok, 8 records, chain intact" in result.stdout


def tamper_edit(lines: list[bytes]) -> list[bytes]:
    record = json.loads(lines[3])
    record["data"]["text"] = "nothing happened here"
    lines[3] = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
    return lines


def tamper_edit_and_rehash(lines: list[bytes]) -> list[bytes]:
    """A careful forger recomputes the record's own hash: the chain still catches it."""
    from console.model.journal import canonical, record_hash

    record = json.loads(lines[3])
    record["data"]["text"] = "nothing happened here"
    record["hash"] = record_hash(record)
    lines[3] = (canonical(record) + "\n").encode()
    return lines


@pytest.mark.parametrize(
    ("tamper", "record", "phrase"),
    [
        (tamper_edit, 4, "checksum mismatch: the record was edited"),
        (tamper_edit_and_rehash, 5, "chain broken"),
        (lambda lines: lines[:3] + lines[4:], 4, "record 4 was deleted"),
        (lambda lines: [*lines[:3], lines[4], lines[3], *lines[5:]], 4, "reordered"),
        (lambda lines: [*lines[:-1], lines[-1][:25]], 8, "torn record"),
        (lambda lines: [*lines[:2], b"{not json\n", *lines[3:]], 3, "not a valid record"),
    ],
    ids=["edited", "edited-and-rehashed", "deleted", "reordered", "truncated", "garbled"],
)
def test_verify_names_the_first_bad_record(tmp_path, tamper, record, phrase):
    path = tmp_path / "journal.jsonl"
    path.write_bytes(b"".join(tamper(make_journal(path))))
    with pytest.raises(JournalCorrupt) as caught:
        verify(path)
    assert caught.value.record == record
    assert phrase in caught.value.problem
    result = cli_verify(path)
    assert result.returncode == 1
    assert f"record {record}: " in result.stderr and phrase in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_torn_tail_is_set_aside_and_appending_continues(tmp_path):
    path = tmp_path / "journal.jsonl"
    lines = make_journal(path, 5)
    torn = b'{"seq":6,"ts":"2026-11-29T03:01:00Z","type":"no'
    path.write_bytes(b"".join(lines) + torn)
    journal, records, tail = Journal.open(path, Redactor())
    assert len(records) == 5
    assert tail is not None and tail.size == len(torn)
    assert (tmp_path / tail.saved_as).read_bytes() == torn
    journal.append("note.added", {"text": "after the crash"}, actor="alice", role="driver", ts="2026-11-29T03:02:00Z")
    journal.close()
    good = verify(path)
    assert [r["seq"] for r in good] == [1, 2, 3, 4, 5, 6]
    assert path.read_bytes().startswith(b"".join(lines))


def test_append_is_durable_line_by_line(tmp_path):
    path = tmp_path / "journal.jsonl"
    journal = Journal.create(path, Redactor())
    record = journal.append("note.added", {"text": "x"}, actor="a", role="driver", ts="t")
    # visible to another reader immediately, before close
    records, tail = read_records(path)
    assert records == [record] and tail == b""
    journal.close()


def test_secrets_never_reach_the_journal(tmp_path):
    redactor = Redactor()
    redactor.add("hunter2-very-secret")
    path = tmp_path / "journal.jsonl"
    journal = Journal.create(path, redactor)
    journal.append(
        "note.added",
        {"text": "pw=hunter2-very-secret url=https://bob:pa55@example.com/x"},
        actor="a",
        role="driver",
        ts="t",
    )
    journal.close()
    text = path.read_text()
    assert "hunter2-very-secret" not in text and "pa55" not in text
    verify(path)


def test_masking_touches_values_only_never_keys_or_the_plan(tmp_path):
    redactor = Redactor()
    redactor.add("secret")
    path = tmp_path / "journal.jsonl"
    journal = Journal.create(path, redactor)
    plan = {"steps": {"s": {"secret_env": {"MYSQL_PWD": "database.password"}, "commands": ["echo secret-ish"]}}}
    record = journal.append(
        "incident.opened", {"plan": plan, "trigger": "secret leaked"}, actor="a", role="driver", ts="t"
    )
    journal.close()
    assert record["data"]["plan"] == plan  # what runs is what was planned
    assert record["data"]["trigger"] == "******** leaked"
    assert verify(path)[0]["data"]["plan"]["steps"]["s"]["secret_env"] == {"MYSQL_PWD": "database.password"}
