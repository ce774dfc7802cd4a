"""What a terminal would show of an app under Pilot: the frames it composites, painted on a grid.

Pilot's own views (``export_screenshot``, a widget's ``lines``) render the app afresh, so they show
what *should* be on screen. A frame that never marked a widget's rows dirty leaves them stale on a
real terminal; only the frames themselves tell, so every ``CompositorUpdate`` the app hands its
driver (``app._display``, which the headless driver then skips) is applied here, cell by cell.
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.segment import ControlType
from textual._compositor import CompositorUpdate
from textual.app import App
from textual.geometry import Region


class PaintedScreen:
    """A grid of the screen's cells, changed only by the frames the app composites."""

    def __init__(self, app: App, size: tuple[int, int]) -> None:
        self._app = app
        self._width, height = size
        self._rows = [[" "] * self._width for _ in range(height)]
        self._x = self._y = 0
        self.frames = 0
        self._original = app._display
        app._display = self._display  # type: ignore[method-assign]

    def _display(self, screen: Any, renderable: Any) -> None:
        self._original(screen, renderable)
        if isinstance(renderable, CompositorUpdate):
            self.frames += 1
            for segment in self._app.console.render(renderable):
                self._paint(segment)

    def _paint(self, segment: Any) -> None:
        if segment.control:
            for control in segment.control:
                if control[0] == ControlType.CURSOR_MOVE_TO:
                    self._x, self._y = control[1], control[2]
            return
        row = self._rows[self._y] if 0 <= self._y < len(self._rows) else None
        for char in segment.text:
            if char == "\n":
                continue
            width = cell_len(char)
            if row is not None and 0 <= self._x < self._width:
                row[self._x] = char
                for pad in range(self._x + 1, min(self._x + width, self._width)):
                    row[pad] = ""
            self._x += width

    def text(self, region: Region | None = None) -> list[str]:
        """The painted rows (of ``region`` only, in screen cells), trailing blanks stripped."""
        if region is None:
            region = Region(0, 0, self._width, len(self._rows))
        return ["".join(row[region.x : region.right]).rstrip() for row in self._rows[region.y : region.bottom]]
