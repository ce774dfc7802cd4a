"""Whatever text a journal holds, the page's live part has the same elements: every note, step
title, trigger, summary, comms line, output line and report row is text (hypothesis fuzzes them)."""

from __future__ import annotations

import asyncio
import copy
from html.parser import HTMLParser
from pathlib import Path

import pytest
from builtin_runbook_support import load_example
from conftest import ALICE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions.registry import KINDS
from console.engine import Engine
from console.host.web.page import PageRenderer
from console.host.web.view import incident_view
from console.model.clock import SystemClock
from console.model.plan import build_plan
from console.model.runbook import load_runbook

ALLOWED = {
    "header", "div", "span", "h1", "h2", "h3", "p", "code", "dl", "dt", "dd", "section", "table", "tr", "th",
    "td", "a", "article", "progress", "ol", "li", "aside", "pre", "ul", "br",
}  # fmt: skip


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.handlers: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_data(self, data):
        self.text.append(data)

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        self.links += [value or "" for name, value in attrs if name in ("href", "src")]


@pytest.fixture(scope="module")
def closed_view(tmp_path_factory) -> dict:
    """A real view of the built-in runbook, closed (so every section is there)."""
    tmp = Path(tmp_path_factory.mktemp("escaping"))
    config = load_example(tmp)

    async def make() -> dict:
        engine = Engine.open(
            tmp / "state", build_plan(load_runbook("salonmanager", KINDS), config), ALICE, severity="P0", trigger="t"
        )
        try:
            view = incident_view(engine.state, SystemClock().now(), web_viewers=1, output_tail=lambda *_: ["x"])
        finally:
            await engine.aclose()
        return view

    view = asyncio.run(make())
    view.update(status="closed", outcome="resolved", closed_at="2026-11-29T03:30:00.000Z", closed_by="alice")
    view["notes"] = [{"at": "2026-11-29T03:10:00.000Z", "by": "alice", "text": "n"}]
    view["current"] = {"id": "s", "title": "t", "status": "running", "running": True, "since": "", "hosts": "h"}
    return view


def _fill(view: dict, text: str) -> dict:
    """Every text the journal or the runbook can carry, set to ``text``."""
    filled = copy.deepcopy(view)
    for key in ("title", "trigger", "summary", "driver", "environment", "closed_by", "outcome", "phase"):
        filled[key] = text
    filled["notes"][0].update(text=text, by=text)
    filled["current"]["title"] = text
    for phase in filled["phases"]:
        phase["title"] = text
        for step in phase["steps"]:
            step["title"] = text
            step["status"] = text
            step["skipped"] = text
    for comm in filled["comms"]:
        comm.update(summary=text, to=text, channel=text, sent_by=text)
    filled["output"] = [{"step": text, "host": text, "lines": [text, text]}]
    return filled


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.one_of(
        st.text(),
        st.sampled_from(
            [
                "<script>alert(1)</script>",
                '"><img src=x onerror=alert(1)>',
                "</pre><iframe src=//evil>",
                "' onmouseover='alert(1)",
                "javascript:alert(1)",
                "<a href=javascript:alert(1)>x</a>",
                "]]><svg onload=alert(1)>",
            ]
        ),
    )
)
def test_any_text_is_shown_as_text(closed_view, text):
    renderer = PageRenderer(15)
    report = {"rows": [(text, text)]}
    parsed = _Elements()
    parsed.feed(renderer.live(_fill(closed_view, text), report))
    assert parsed.tags <= ALLOWED, parsed.tags - ALLOWED
    assert parsed.handlers == []
    assert parsed.links == ["report.html"]
    if text.strip() and text.isprintable():
        assert text in "".join(parsed.text)  # shown, as it was written
