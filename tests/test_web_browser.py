"""The status page in Debian's headless chromium: a running drill's page changes within a second of
the journal record of a step the driver starts, and the page at phone and desktop widths matches
its snapshots (tests/web_snapshots/; WARROOM_UPDATE_WEB_SNAPSHOTS=1 rewrites them).

The snapshots come from an incident served in-process on a frozen clock, so only fonts and
anti-aliasing vary between machines; the comparison tolerates that (:data:`MAX_CHANGED`)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from builtin_runbook_support import load_example
from cdp_support import CHROMIUM, Browser
from conftest import ALICE
from PIL import Image, ImageChops
from serve_support import free_port
from test_drill_tmux import WARROOM
from web_support import wait_for

from actions.registry import KINDS
from console.engine import Actor, Engine
from console.host.web.server import WebServer
from console.model.clock import FrozenClock
from console.model.plan import build_plan
from console.model.runbook import load_runbook
from console.model.webconfig import Web

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium needed: run ./scripts/setup-services")
SNAPSHOTS = Path(__file__).parent / "web_snapshots"
SIZES = {"phone": (390, 844, True), "desktop": (1280, 800, False)}
PIXEL_THRESHOLD = 48
"""A pixel counts as changed when a channel differs by more than this (anti-aliasing does less)."""
MAX_CHANGED = 0.03
"""Share of changed pixels a snapshot tolerates (fonts differ a little between machines)."""
HOSTILE_NOTE = "<script>document.title='owned'</script> \"><img src=x onerror=\"document.title='owned'\"> \x1b[2J"


# ----- a running drill in a browser ----------------------------------------------------------------
def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux needed: run ./scripts/setup-services")
async def test_the_page_of_a_running_drill_changes_within_a_second_of_the_journal(tmp_path: Path):
    port, box, name = free_port(), tmp_path / "box", f"warroom-web-drill-{os.getpid()}"
    drill = f"env -u COLUMNS -u LINES {WARROOM} drill --dir {box} --http {port}"
    subprocess.run(["tmux", "new-session", "-d", "-x", "150", "-y", "44", "-s", name, drill], check=True)
    try:
        await _wait_screen(name, "Open incident", timeout=60)
        _tmux("send-keys", "-t", name, "C-o")
        await wait_for(lambda: any(box.rglob("web.token")), timeout=30)
        token_file = next(box.rglob("web.token"))
        journal = token_file.with_name("journal.jsonl")
        await _wait_screen(name, "stakeholders:", timeout=10)
        url = f"http://127.0.0.1:{port}/i/{token_file.read_text().strip()}/"
        async with Browser() as browser:
            await browser.size(1280, 800)
            await browser.goto(url)
            first = await browser.text("#live")
            assert "Put Application in Maintenance Mode" in first or "Maintenance" in first
            await wait_for_js(browser, "document.getElementById('conn').textContent === 'live'")
            await _wait_screen(name, "1 watching", timeout=10)  # the browser is a watcher on the driver's header
            _tmux("send-keys", "-t", name, "n")  # the driver runs the first step
            started = await _record(journal, "step.started")
            seen = await _until_text(browser, "Running now", started, also="running")
            assert seen - _epoch(started["ts"]) <= 1.0, f"the page changed {seen - _epoch(started['ts']):.2f} s late"
            finished = await _record(journal, "step.finished")
            seen = await _until_text(browser, "1/2 ·", finished)
            assert seen - _epoch(finished["ts"]) <= 1.0
            assert browser.console == [], browser.console  # no CSP violation, no script error
    finally:
        _tmux("kill-session", "-t", name)


async def _wait_screen(name: str, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in (shown := _tmux("capture-pane", "-p", "-t", name)):
        assert time.monotonic() < deadline, f"{text!r} never appeared on the drill's screen:\n{shown}"
        await asyncio.sleep(0.1)


async def _record(journal: Path, kind: str, timeout: float = 20) -> dict:
    import json

    deadline = time.monotonic() + timeout
    while True:
        lines = journal.read_text().splitlines() if journal.exists() else []
        found = [json.loads(line) for line in lines if f'"type":"{kind}"' in line]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no {kind} record"
        await asyncio.sleep(0.02)


async def _until_text(browser: Browser, text: str, record: dict, *, also: str = "", timeout: float = 5) -> float:
    """When (epoch seconds) the page's live part first showed ``text``."""
    deadline = time.monotonic() + timeout
    while True:
        shown = await browser.text("#live")
        if text in shown and also in shown.lower():
            return time.time()
        assert time.monotonic() < deadline, f"{text!r} never appeared after {record['type']}:\n{shown}"
        await asyncio.sleep(0.02)


async def wait_for_js(browser: Browser, expression: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not await browser.js(expression):
        assert time.monotonic() < deadline, expression
        await asyncio.sleep(0.05)


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


# ----- snapshots: the same incident at phone and desktop widths ---------------------------------------
async def _snapshot_incident(tmp_path: Path) -> Engine:
    """The built-in runbook on the example config, on a frozen clock, a few minutes in."""
    config = load_example(tmp_path)
    plan = build_plan(load_runbook("salonmanager", KINDS), config)
    clock = FrozenClock(datetime(2026, 11, 29, 3, 0, tzinfo=UTC))
    engine = Engine.open(
        tmp_path / "state",
        plan,
        ALICE,
        severity="P0",
        trigger="Data corruption or loss",
        detected_at="2026-11-29T02:55:00.000Z",
        clock=clock,
        config=config,
        incident_id="20261129-030000-demo",
    )
    engine.admit({"alice": "driver"}, ALICE)
    engine.take_seat(ALICE)
    clock.advance(seconds=40)
    engine.skip_step(ALICE, "activate-maintenance-mode", "already down behind the load balancer")
    clock.advance(seconds=50)
    for check in ("alert-admin-team", "update-status-page"):
        engine.tick(ALICE, "notify-stakeholders", check, "pass")
    await engine.send_comms(ALICE, "ops-slack-alert", "posted by hand", via="manual")
    engine.join(Actor("bob", "observer"), "ssh")
    clock.advance(seconds=30)
    engine.add_note(ALICE, HOSTILE_NOTE)
    clock.advance(seconds=20)
    return engine


def _changed_share(expected: Path, actual: Path) -> float:
    with Image.open(expected) as want, Image.open(actual) as got:
        want, got = want.convert("RGB"), got.convert("RGB")
        width, height = min(want.width, got.width), min(want.height, got.height)
        if abs(want.height - got.height) > 0.05 * want.height or want.width != got.width:
            return 1.0
        diff = ImageChops.difference(want.crop((0, 0, width, height)), got.crop((0, 0, width, height)))
        red, green, blue = diff.split()
        most = ImageChops.lighter(ImageChops.lighter(red, green), blue)  # each pixel's largest change
        changed = most.point(lambda value: 255 if value > PIXEL_THRESHOLD else 0).histogram()[255]
        return changed / (width * height)


async def test_the_page_at_phone_and_desktop_widths_matches_its_snapshots(tmp_path: Path):
    engine = await _snapshot_incident(tmp_path)
    server = WebServer(engine, Web(refresh=15), "127.0.0.1", 0, secrets=[])
    try:
        await server.start()
        async with Browser() as browser:
            for size, (width, height, mobile) in SIZES.items():
                await browser.size(width, height, mobile=mobile)
                await browser.goto(server.url)
                await wait_for_js(browser, "document.getElementById('conn').textContent === 'live'")
                assert await browser.js("document.title") != "owned"
                note = await browser.text(".notes")
                assert "<script>document.title='owned'</script>" in note and "^[[2J" in note
                assert await browser.js("document.querySelectorAll('#live script, #live img').length") == 0
                shot = await browser.screenshot(tmp_path / f"{size}.png")
                expected = SNAPSHOTS / f"{size}.png"
                if os.environ.get("WARROOM_UPDATE_WEB_SNAPSHOTS"):
                    expected.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(shot, expected)
                    continue
                assert expected.exists(), f"no snapshot {expected}: WARROOM_UPDATE_WEB_SNAPSHOTS=1 writes it"
                share = _changed_share(expected, shot)
                assert share <= MAX_CHANGED, (
                    f"{size}: {share:.1%} of the pixels differ from {expected} (see {shot}; "
                    "WARROOM_UPDATE_WEB_SNAPSHOTS=1 rewrites the snapshots when the change is intended)"
                )
            assert browser.console == [], browser.console
    finally:
        await server.close()
        await engine.aclose()


async def test_without_javascript_the_page_reloads_itself_and_it_prints_in_one_column(tmp_path: Path):
    engine = await _snapshot_incident(tmp_path)
    server = WebServer(engine, Web(refresh=2), "127.0.0.1", 0, secrets=[])
    try:
        await server.start()
        async with Browser() as browser:
            await browser.size(1280, 800)
            # with JavaScript on, the countdown ticks in the browser from the journaled deadline
            await browser.goto(server.url)
            first = await browser.text("#rto")
            await asyncio.sleep(1.5)
            assert await browser.text("#rto") != first
            # printed: one column, no live badge or footer
            await browser.page("Emulation.setEmulatedMedia", media="print")
            columns = await browser.js("getComputedStyle(document.querySelector('.cols')).gridTemplateColumns")
            assert len(columns.split()) == 1, columns
            assert await browser.js("getComputedStyle(document.querySelector('.page-foot')).display") == "none"
            await browser.page("Emulation.setEmulatedMedia", media="")
            # without it, the page reloads every `refresh` seconds and so still follows the journal
            await browser.page("Emulation.setScriptExecutionDisabled", value=True)
            await browser.goto(server.url)
            loads = server.pages_served
            engine.add_note(ALICE, "seen without javascript")
            deadline = time.monotonic() + 6
            while "seen without javascript" not in await _dom_text(browser):
                assert time.monotonic() < deadline, "the page without JavaScript never reloaded"
                await asyncio.sleep(0.2)
            assert server.pages_served > loads  # reloaded by its meta refresh, not pushed
            assert '<span id="conn" class="conn" hidden="">' in await _dom_text(browser)  # no script ran
    finally:
        await server.close()
        await engine.aclose()


async def _dom_text(browser: Browser) -> str:
    """The document's text through the DOM domain (works while the page's scripts are disabled)."""
    root = await browser.page("DOM.getDocument", depth=-1)
    html = await browser.page("DOM.getOuterHTML", nodeId=root["root"]["nodeId"])
    return html["outerHTML"]
