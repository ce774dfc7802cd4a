"""Output that arrives in awkward pieces: a secret across the spool's 64 KiB cut (finding 9),
and a flood with no newline at all through the fact-reading sink (finding 12a)."""

from __future__ import annotations

import time
import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from actions.capture import FactSink
from console.model.secrets import REDACTED, Redactor
from console.model.spool import OutputSpool

SECRET = "hunter2-Sup3rS3cret"
PEM = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END KEY-----"
CUT = 65536


def spool_of(tmp_path, *secrets: str) -> tuple[OutputSpool, list[str]]:
    redactor = Redactor()
    for secret in secrets:
        redactor.add(secret)
    published: list[str] = []
    return OutputSpool(tmp_path / "out.log", "h1", redactor, lambda _h, lines: published.extend(lines)), published


def test_a_secret_exactly_across_the_64k_cut_is_masked(tmp_path):
    spool, published = spool_of(tmp_path, SECRET)
    half = len(SECRET) // 2
    spool.write(b"x" * (CUT - half) + SECRET[:half].encode())  # exactly 64 KiB, no newline: the forced cut
    spool.write(SECRET[half:].encode() + b" done\n")
    spool.close()
    text = (tmp_path / "out.log").read_text()
    assert SECRET[:half] not in text and SECRET[half:] not in text
    assert text == "x" * (CUT - half) + REDACTED + " done\n"
    assert SECRET[:half] not in "".join(published)


def test_a_url_credential_across_the_cut_is_masked(tmp_path):
    spool, _ = spool_of(tmp_path)
    url = b"https://deploy:pa55word@example.com/health\n"
    spool.write(b"y" * (CUT - 20) + url[:20])
    spool.write(url[20:])
    spool.close()
    text = (tmp_path / "out.log").read_text()
    assert "pa55word" not in text and "deploy" not in text
    assert text.endswith(f"https://{REDACTED}@example.com/health\n")


def test_a_multi_line_secret_split_at_a_newline_between_reads_is_masked(tmp_path):
    spool, published = spool_of(tmp_path, PEM)
    first, second = PEM.split("\n", 2)[:2], PEM.split("\n", 2)[2]
    spool.write(("key:\n" + "\n".join(first) + "\n").encode())
    spool.write((second + "\nafter\n").encode())
    spool.close()
    text = (tmp_path / "out.log").read_text()
    body = [line for line in PEM.splitlines() if not line.startswith("-----")]  # the key itself
    assert text.startswith("key:\n") and text.endswith("\nafter\n") and REDACTED in text
    assert not any(line in text for line in body)  # masked whole, or line by line: never readable
    assert not any(part in line for line in published for part in body)


@settings(max_examples=150, deadline=None)
@given(
    before=st.integers(min_value=0, max_value=CUT + 100),
    newline=st.booleans(),
    cuts=st.lists(st.integers(min_value=1, max_value=CUT + 200), min_size=1, max_size=6),
    secret=st.sampled_from([SECRET, PEM]),
)
def test_no_way_of_cutting_the_stream_lets_a_secret_through(tmp_path_factory, before, newline, cuts, secret):
    """Wherever the reads happen to fall, the spool file and the watchers' lines never hold it."""
    tmp_path = tmp_path_factory.mktemp("spool")
    spool, published = spool_of(tmp_path, secret)
    stream = (b"a" * before) + (b"\n" if newline else b"") + secret.encode() + b" tail\n" + b"b" * 70000
    offset = 0
    for size in cuts:
        spool.write(stream[offset : offset + size])
        offset += size
    spool.write(stream[offset:])
    spool.close()
    data = (tmp_path / "out.log").read_bytes()
    # masked whole or line by line (a multi-line secret's lines are secrets of their own): never readable,
    # and nothing around it lost
    body = [p.encode() for p in secret.split("\n") if len(p) > 8 and not p.startswith("-----")]
    assert not any(part in data for part in body) and REDACTED.encode() in data
    assert data.startswith(b"a" * before) and data.endswith(b" tail\n" + b"b" * 70000)
    assert all(part.decode() not in "\n".join(published) for part in body)


class _Counting:
    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: bytes) -> None:
        self.bytes += len(data)

    def close(self) -> tuple[int, str]:
        return self.bytes, ""


def test_50_mb_without_a_newline_goes_through_the_fact_sink_in_bounded_memory_and_time():
    inner = _Counting()
    sink = FactSink(inner)
    chunk = b"z" * 65536
    tracemalloc.start()
    started = time.monotonic()
    try:
        sink.write(b"warroom-fact before=1\n")
        for _ in range(50 * 1024 * 1024 // len(chunk)):
            sink.write(chunk)
        sink.write(b"\nwarroom-fact after=2\n")
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    inner_bytes, _ = sink.close()
    print(f"\nfact sink: 50 MB without a newline in {elapsed:.2f} s, peak {peak / 1024:.0f} KiB traced")
    assert inner_bytes == 50 * 1024 * 1024 + len("warroom-fact before=1\n\nwarroom-fact after=2\n")
    assert sink.facts == {"before": "1", "after": "2"}
    assert peak < 1024 * 1024, f"peak {peak} bytes: the partial line is not bounded"
    assert elapsed < 5, f"{elapsed:.1f} s: copying grows with the line"
