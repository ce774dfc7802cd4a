"""A journal damaged at every byte offset of its last three records and at every bit: 100% detected,
and only a torn tail is ever set aside (as ``journal.jsonl.torn-N``), never a sealed record.

Two seals for each cut: the one a crash mid-write leaves (the last complete record: the torn bytes
were never sealed), where resume sets the torn bytes aside and goes on; and the final one (the
journal was complete, then cut), where verify and resume both refuse and touch nothing.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from journal_damage_support import build_journal, record_starts

from console.model.errors import JournalCorrupt
from console.model.journal import Journal, verify
from console.model.secrets import Redactor


@pytest.fixture
def scratch(tmp_path):
    """A directory in memory when the machine has one: thousands of writes and fsyncs, none of
    them what is measured."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(dir=shm, prefix="warroom-torn-") as directory:
        yield Path(directory)


LAST = int(os.environ.get("WARROOM_RELY_TORN_RECORDS", "3"))
"""How many records from the end are cut at every byte offset."""


def write_seal(path, records: list[dict]) -> None:
    last = records[-1] if records else None
    seal = {"seq": last["seq"], "hash": last["hash"]} if last else {"seq": 0, "hash": "0" * 64}
    path.with_name("journal.seal").write_text(json.dumps(seal))


def refused_untouched(path, data: bytes) -> bool:
    """Resume refuses the damaged journal and leaves it exactly as it was, nothing set aside."""
    try:
        journal, _, _ = Journal.open(path, Redactor())
    except JournalCorrupt:
        return path.read_bytes() == data and sorted(p.name for p in path.parent.iterdir()) == [
            "journal.jsonl",
            "journal.seal",
        ]
    journal.close()
    return False


def test_a_tail_torn_at_every_offset_is_detected_and_only_the_tail_is_set_aside(scratch):
    path = scratch / "journal.jsonl"
    raw = build_journal(path)
    records = [json.loads(line) for line in raw.splitlines()]
    starts = record_starts(raw)
    ends = [*starts[1:], len(raw)]
    final_seal = path.with_name("journal.seal").read_bytes()
    cuts = range(starts[-LAST], len(raw))
    detected = set_aside = refused = 0
    for offset in cuts:
        data = raw[:offset]
        complete = sum(1 for end in ends if end <= offset)
        boundary = starts[complete]
        tail = data[boundary:]
        # 1. cut after it was sealed: named, and resume refuses without touching anything
        path.write_bytes(data)
        path.with_name("journal.seal").write_bytes(final_seal)
        with pytest.raises(JournalCorrupt):
            verify(path)
        detected += 1
        refused += refused_untouched(path, data)
        # 2. as a crash mid-write leaves it: the seal on the last complete record
        write_seal(path, records[:complete])
        if tail:
            with pytest.raises(JournalCorrupt, match="torn record"):
                verify(path)
        journal, kept, torn = Journal.open(path, Redactor())
        journal.append("note.added", {"text": "after"}, actor="alice", role="driver", ts="2026-11-29T04:00:00.000Z")
        journal.close()
        assert kept == records[:complete]
        assert path.read_bytes().startswith(raw[:boundary]) and len(verify(path)) == complete + 1
        if tail:
            assert torn is not None and (scratch / torn.saved_as).read_bytes() == tail
            assert torn.saved_as == f"journal.jsonl.torn-{complete + 1}"
            set_aside += 1
            (scratch / torn.saved_as).unlink()
        else:
            assert torn is None
    torn_cuts = sum(1 for offset in cuts if offset not in starts)
    print(
        f"FIGURE torn_tail: {len(cuts)} cuts in the last {LAST} records: {detected}/{len(cuts)} detected "
        f"against the final seal ({refused} refused untouched by resume); {set_aside}/{torn_cuts} torn tails "
        "set aside after a crash, every complete record kept"
    )
    assert detected == refused == len(cuts) and set_aside == torn_cuts


def test_every_bit_flipped_in_a_4k_journal_is_detected(scratch):
    """verify catches every flip. Resume reads the same way but keeps a torn tail aside, which a
    flip makes only in the last record (its newline): every bit of that record goes through resume
    too, and every 16th bit before it."""
    path = scratch / "journal.jsonl"
    raw = build_journal(path)
    last_record = record_starts(raw)[-1] * 8
    bits = len(raw) * 8
    detected = resumed = refused = 0
    missed: list[int] = []
    for bit in range(bits):
        data = bytearray(raw)
        data[bit // 8] ^= 1 << (bit % 8)
        path.write_bytes(data)
        try:
            verify(path)
        except JournalCorrupt:
            detected += 1
        else:
            missed.append(bit)
        if bit >= last_record or bit % 16 == 0:
            resumed += 1
            refused += refused_untouched(path, bytes(data))
    print(
        f"FIGURE bit_flips: {detected}/{bits} single-bit flips of a {len(raw)}-byte journal detected by verify; "
        f"{refused}/{resumed} of them tried by resume refused, nothing set aside"
    )
    assert not missed, f"undetected flips at bytes {sorted({b // 8 for b in missed})[:10]}"
    assert refused == resumed
