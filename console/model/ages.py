"""How old a backup is, said once for the step kinds, their facts and the report.

The seconds a step journals and the words shown beside them come from the same whole number, so
``age_seconds = 60`` is shown as ``1 min``, never ``0 min`` (the words used to be cut from the
unrounded age: 59.6 s became 60 s and 0 min).
"""

from __future__ import annotations


def age_seconds(seconds: float) -> int:
    """An age in whole seconds, half up; a file dated in the future (clock skew) is 0 s old."""
    return int(max(0.0, seconds) + 0.5)


def age_text(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3 h 05 min``, ``4 d 2 h``: whole minutes of :func:`age_seconds`
    (60 to 119 s is ``1 min``), so the words never disagree with the journaled seconds."""
    whole = age_seconds(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} d {hours % 24} h"
