"""Textual's :class:`Log`, repainted whole whenever its line cap drops lines off the top.

Why (Textual 8.2, ``Log.write_lines`` and ``Log.write``): the rows marked for repaint are those of
the appended lines, numbered as they were *before* ``max_lines`` pruned the top. Once the log is
full, each write shifts every line up by as many as it drops, but nothing visible is marked dirty:
the virtual height stays at ``max_lines``, so ``scroll_end`` does not move and repaints nothing,
and the rows it does mark lie below the viewport after the shift. The terminal keeps the frame it
had until something else repaints the widget (a line wider than any before, a resize): after a
flood, the last lines of a finished step were never drawn, on the driver's screen and on every
watcher's. Every visible row has changed after a prune, so repainting the widget is exact, and no
dearer than the scroll it stands for (one ``render_line`` per visible row, at most once a frame).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Self

from textual.widgets import Log


class OutputLog(Log):
    """A bounded, auto-scrolling log whose view follows its content after the cap is reached."""

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None) -> Self:
        lines = list(lines)
        super().write_lines(lines, scroll_end)
        if lines:
            self._repaint_if_shifted()
        return self

    def write(self, data: str, scroll_end: bool | None = None) -> Self:
        super().write(data, scroll_end)
        if data:
            self._repaint_if_shifted()
        return self

    def _repaint_if_shifted(self) -> None:
        """At the cap, a write has dropped lines from the top (or will with the next one)."""
        if self.max_lines is not None and len(self.lines) >= self.max_lines:
            self.refresh()
