"""A backup's age is said from the whole seconds that are journaled: ``age_seconds = 60`` is
``1 min`` wherever it is shown (the mysql kind's facts and messages, the report's facts and RPO)."""

from __future__ import annotations

import time

import pytest

from actions.mysql.backup import Backup
from console.model.ages import age_seconds, age_text
from console.report import fmt
from console.report.backups import _judge


@pytest.mark.parametrize(
    ("seconds", "whole", "words"),
    [
        (0.2, 0, "0 s"),
        (-3.0, 0, "0 s"),
        (45.4, 45, "45 s"),
        (59.4, 59, "59 s"),
        (59.6, 60, "1 min"),
        (60.0, 60, "1 min"),
        (119.4, 119, "1 min"),
        (119.6, 120, "2 min"),
        (3599.7, 3600, "1 h 00 min"),
        (3 * 3600 + 5 * 60, 11100, "3 h 05 min"),
        (50 * 3600, 180000, "2 d 2 h"),
    ],
)
def test_the_words_come_from_the_journaled_whole_seconds(seconds: float, whole: int, words: str) -> None:
    assert (age_seconds(seconds), age_text(seconds)) == (whole, words)


def test_a_backup_just_under_a_minute_old_is_one_minute_beside_sixty_seconds() -> None:
    backup = Backup("/backups/salon.sql.gz", 1024, time.time() - 59.7, "sql.gz")
    facts = backup.facts()
    assert (facts["age_seconds"], facts["age"]) == (60, "1 min")


def test_the_report_says_an_old_journals_age_again_from_its_seconds() -> None:
    """A journal written before the fix holds ``age = 0 min`` beside ``age_seconds = 60``."""
    line = fmt.facts({"backup": {"name": "salon.sql.gz", "age_seconds": 60, "age": "0 min"}, "restored": True})
    assert line == "backup = {name = salon.sql.gz, age_seconds = 60, age = 1 min}, restored = True"


def test_the_rpo_verdict_and_its_words_use_the_same_seconds() -> None:
    target = {"scope": "Data Loss", "target_minutes": 1}
    met = _judge({"name": "a.sql", "age_seconds": 60.3, "created_at": ""}, target)
    assert (met["verdict"], met["text"]) == ("met", "1 min old, within the Data Loss RPO of 1 min")
    missed = _judge({"name": "a.sql", "age_seconds": 75 * 60, "created_at": ""}, {**target, "target_minutes": 60})
    assert missed["text"] == "1 h 15 min old: over the Data Loss RPO of 60 min by 15 min"
