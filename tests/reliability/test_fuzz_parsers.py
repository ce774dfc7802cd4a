"""The config and runbook parsers fuzzed (hypothesis) through ``warroom plan``: whatever the files
say, the answer is a plan or one line naming the file and key, never a traceback.

Bounded: WARROOM_RELY_FUZZ_EXAMPLES examples per test (default 150), no deadline (2 shared cores).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from fuzz_support import SEED_CONFIG, SEED_RUNBOOK, mutated, plan_once, spliced
from hypothesis import HealthCheck, given, settings

EXAMPLES = int(os.environ.get("WARROOM_RELY_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module")
def workdir():
    path = Path(tempfile.mkdtemp(prefix="warroom-fuzz-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def check(config_text: bytes | str, runbook_text: bytes | str, workdir: Path, tally: Counter) -> None:
    config, runbook = workdir / "config.toml", workdir / "runbook.toml"
    for path, text in ((config, config_text), (runbook, runbook_text)):
        path.write_bytes(text.encode() if isinstance(text, str) else text)
    code, err = plan_once(config, runbook)
    if code == 0:
        tally["accepted"] += 1
        return
    tally["refused"] += 1
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, f"not one line: {err!r}"
    assert err.startswith("warroom: ") and len(err.strip()) > len("warroom: "), err
    assert ("config.toml" in err) or ("runbook.toml" in err) or ("runbook" in err), f"names no file: {err!r}"


def report(name: str, tally: Counter) -> None:
    total = tally["accepted"] + tally["refused"]
    refused, accepted = tally["refused"], tally["accepted"]
    print(f"FIGURE {name}: {total} inputs, {refused} refused in one line, {accepted} accepted, 0 tracebacks")


def test_a_damaged_config_is_refused_in_one_line(workdir):
    tally: Counter = Counter()

    @FUZZ
    @given(mutated(SEED_CONFIG))
    def run(config_text):
        check(config_text, SEED_RUNBOOK.read_bytes(), workdir, tally)

    run()
    report("fuzz_config_values", tally)
    assert tally["refused"] > 0


def test_a_damaged_runbook_is_refused_in_one_line(workdir):
    tally: Counter = Counter()

    @FUZZ
    @given(mutated(SEED_RUNBOOK))
    def run(runbook_text):
        check(SEED_CONFIG.read_bytes(), runbook_text, workdir, tally)

    run()
    report("fuzz_runbook_values", tally)
    assert tally["refused"] > 0


def test_cut_and_spliced_text_is_refused_in_one_line(workdir):
    tally: Counter = Counter()

    @FUZZ
    @given(spliced(SEED_CONFIG), spliced(SEED_RUNBOOK))
    def run(config_bytes, runbook_bytes):
        check(config_bytes, runbook_bytes, workdir, tally)

    run()
    report("fuzz_text_splices", tally)
    assert tally["refused"] > 0


@pytest.mark.parametrize("key", ["[", "a[b]", "function-after"])
def test_an_unknown_key_that_looks_like_a_pydantic_marker_is_named(workdir, key):
    """Found by the fuzzer: a top-level key "[" crashed the message builder (IndexError)."""
    config = workdir / "marker.toml"
    config.write_text(f'"{key}" = ""\n' + SEED_CONFIG.read_text())
    code, err = plan_once(config, SEED_RUNBOOK)
    assert code == 2
    assert err.count("\n") == 1 and "unknown key" in err and key in err, err


def test_a_url_variable_with_an_unclosed_ipv6_bracket_is_refused_in_one_line(workdir):
    """Found by the fuzzer: urlsplit's ValueError ("Invalid IPv6 URL") escaped as a traceback."""
    config = workdir / "ipv6.toml"
    config.write_text(
        SEED_CONFIG.read_text().replace("http://127.0.0.1:8000/healthz", "http://[127.0.0.1:8000/healthz")
    )
    code, err = plan_once(config, SEED_RUNBOOK)
    assert code == 2
    assert err.count("\n") == 1 and "health.url" in err and "URL" in err.upper(), err


def test_an_unknown_step_parameter_with_a_line_break_in_its_name_is_one_line(workdir):
    """Found by the fuzzer: the unknown parameter's name was printed raw, its newline splitting
    the message in two."""
    runbook = workdir / "newline.toml"
    runbook.write_text(SEED_RUNBOOK.read_text().replace("expect_status = 200,", 'expect_status = 200, "\\n" = "",'))
    code, err = plan_once(SEED_CONFIG, runbook)
    assert code == 2
    assert err.count("\n") == 1 and "unknown http parameter(s) '\\n'" in err, err
