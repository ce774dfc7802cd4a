"""``warroom serve --http``: the status page over real HTTP against a real serve (no browser here:
tests/test_web_browser.py loads it in chromium). Access, headers, escaping, live updates, presence,
output tails (off by default, redacted when on) and the closed incident's report."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import stat
import time

import aiohttp
import pytest
from conftest import ssh_step, write_config, write_runbook
from web_support import AttachClient, ServedPage, Swarm, get, sse_events, wait_for

from console.model.secrets import REDACTED

pytestmark = pytest.mark.sshd
SECRET = "hunter2-web-secret-value"
ENCODED = base64.b64encode(SECRET.encode()).decode()
HOSTILE_TITLE = 'Restore "><img src=x onerror=alert(1)> <script>alert(2)</script>'
HOSTILE_NOTE = "<script>alert('note')</script> \"><img src=x onerror=alert(3)> \x1b[31mred\x1b[0m"


def _served(tmp_path, lab, *, web: str = "", steps: str = "", env=None) -> ServedPage:
    extra = f'\n[notify.slack]\nwebhook_url = "env:WEB_TEST_HOOK"\n{web}'
    config = write_config(tmp_path / "config.toml", lab, ["app1"], extra=extra)
    # the host prints the secret without the plan holding it (the plan is journaled as it is)
    step = steps or ssh_step("hello", f"echo visible-line $(echo {ENCODED} | base64 -d)", "echo done")
    runbook = write_runbook(tmp_path / "rb.toml", step)
    return ServedPage(tmp_path, config, runbook, env={"WEB_TEST_HOOK": SECRET, **(env or {})})


@pytest.fixture
def page(tmp_path, lab):
    served = _served(tmp_path, lab)
    yield served
    served.stop()


def test_without_the_token_every_route_is_401_and_nothing_but_get_is_allowed(page):
    for url in (page.root, f"{page.root}events", f"{page.root}report.html", page.url.replace("/i/", "/i/x")):
        status, headers, _ = get(url)
        assert status == 401, url
        assert "WWW-Authenticate" not in headers  # no viewers configured: no password prompt either
    wrong = page.url.rstrip("/")[:-4] + "AAAA/"
    assert get(wrong)[0] == 401
    assert get(f"{wrong}events")[0] == 401
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert get(page.url, method=method)[0] == 405
        assert get(f"{page.url}events", method=method)[0] == 405
    assert get(page.url.rstrip("/"))[0] == 200  # redirected to the page


def test_the_page_is_self_contained_under_a_strict_policy(page):
    status, headers, body = get(page.url)
    assert status == 200
    csp = headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert headers["Referrer-Policy"] == "no-referrer" and headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    # one document: every script and style carries this response's nonce, nothing is loaded from elsewhere
    assert re.findall(r"<script[^>]*>", body) == [f'<script nonce="{nonce}">']
    assert re.findall(r"<style[^>]*>", body) == [f'<style nonce="{nonce}">']
    assert not re.search(r"""(src|href)=["'](https?:)?//""", body)
    assert '<noscript><meta http-equiv="refresh" content="15"></noscript>' in body
    assert get(page.url)[1]["Content-Security-Policy"] != csp  # a fresh nonce per response


def test_the_token_is_kept_private_and_never_journaled(page):
    token = page.url.split("/i/")[1].strip("/")
    token_file = page.journal.parent / "web.token"
    assert token_file.read_text().strip() == token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    get(page.url)
    assert token not in page.journal.read_text()
    assert token not in page.stderr.read_text()


async def test_a_journal_record_reaches_every_stream_within_a_second_and_each_browser_is_a_watcher(page):
    async with aiohttp.ClientSession() as session:
        seen: list[list[tuple[float, str]]] = [[], []]

        async def follow(index: int) -> None:
            async for event, data in sse_events(session, f"{page.url}events"):
                if event == "state":
                    seen[index].append((time.time(), json.loads(data)["html"]))

        followers = [asyncio.create_task(follow(i)) for i in range(2)]
        try:
            await wait_for(lambda: all(seen))
            await wait_for(lambda: _watching(seen) == 2)  # each stream is one more watcher on the page
            client = await AttachClient.connect(_socket(page))
            try:
                assert (await client.command("take-seat")).get("ok")
                reply = await client.command("note", text=HOSTILE_NOTE)
                assert reply.get("ok"), reply
            finally:
                await client.close()  # its seat is released: the CLI's close takes it over below
            record = next(r for r in page.records() if r["type"] == "note.added")
            written = _epoch(record["ts"])
            await wait_for(lambda: all(any("alert(&#39;note&#39;)" in html for _, html in s) for s in seen), timeout=5)
            for stream in seen:
                arrived = next(at for at, html in stream if "alert(&#39;note&#39;)" in html)
                assert arrived - written <= 1.0, f"the note reached a stream {arrived - written:.2f} s after its record"
        finally:
            for task in followers:
                task.cancel()
            await asyncio.gather(*followers, return_exceptions=True)
    joined = [r for r in page.records() if r["type"] == "presence.joined" and r["data"]["via"] == "web"]
    assert len(joined) == 2 and all(r["role"] == "observer" for r in joined)
    assert {r["actor"] for r in joined} == {"web-1", "web-2"}


def _watching(seen) -> int:
    found = re.search(r'id="watching">(\d+)', seen[0][-1][1]) if seen[0] else None
    return int(found.group(1)) if found else -1


def _socket(page: ServedPage) -> str:
    line = next(line for line in page.banner if line.startswith("socket"))
    return line.split()[1]


def _epoch(ts: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def test_hostile_step_titles_and_notes_are_text(tmp_path, lab):
    step = ssh_step("hostile", "true").replace('title = "Step hostile"', f"title = {json.dumps(HOSTILE_TITLE)}")
    served = _served(tmp_path, lab, steps=step)
    try:
        assert served.cli("note", served.incident, HOSTILE_NOTE).returncode == 0
        status, _, body = get(served.url)
        assert status == 200
        live = body.split('<div id="live"', 1)[1].split("</footer>", 1)[0]
        for raw in ("<script>alert", "<img src=x", "onerror=alert(1)>", "\x1b"):
            assert raw not in live
        assert "&lt;script&gt;alert(2)&lt;/script&gt;" in live
        assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in live
        assert "^[[31mred^[[0m" in live  # control characters made visible, as in the console
    finally:
        served.stop()


async def test_output_is_hidden_by_default_and_shown_redacted_when_switched_on(tmp_path, lab):
    (tmp_path / "a").mkdir()
    hidden = _served(tmp_path / "a", lab)
    try:
        await _run_hello(hidden)
        body = get(hidden.url)[2]
        assert "visible-line" not in body and "Output" not in body
    finally:
        hidden.stop()
    (tmp_path / "b").mkdir()
    shown = _served(tmp_path / "b", lab, web="\n[web]\nshow_output = true\noutput_lines = 5\n")
    try:
        await _run_hello(shown)
        body = get(shown.url)[2]
        assert f"visible-line {REDACTED}" in body and "<h2>Output</h2>" in body
        assert SECRET not in body
        assert SECRET not in shown.journal.read_text()
    finally:
        shown.stop()


async def _run_hello(page: ServedPage) -> None:
    client = await AttachClient.connect(_socket(page))
    try:
        assert (await client.command("take-seat")).get("ok")
        reply = await client.command("start", step="hello")
        assert reply.get("ok"), reply
    finally:
        await client.close()
    await wait_for(lambda: any(r["type"] == "step.finished" for r in page.records()), timeout=20)
    await asyncio.sleep(0.2)


async def test_the_closed_incident_shows_the_report_summary_and_links_the_report(page):
    await _run_hello(page)
    closed = page.cli("close", page.incident, "resolved", "--summary", "Rolled back <b>cleanly</b>")
    assert closed.returncode == 0, closed.stderr
    await wait_for(lambda: "The full incident report" in get(page.url)[2], timeout=10)
    body = get(page.url)[2]
    assert "Closed: resolved" in body
    assert "Rolled back &lt;b&gt;cleanly&lt;/b&gt;" in body
    assert "1 succeeded" in body and "last hash" in body
    assert 'href="report.html"' in body
    status, headers, report = get(f"{page.url}report.html")
    assert status == 200 and page.incident in report
    assert (
        "script-src" not in headers["Content-Security-Policy"]
        and "default-src 'none'" in headers["Content-Security-Policy"]
    )
    assert get(f"{page.root}report.html")[0] == 401


async def test_two_hundred_viewers_each_get_the_update(page):
    """The load part's correctness (bounded: 200 streams, 60 s): every viewer gets the note. Its
    latency figures are benchmarks/web_viewers.py's, side by side with no viewers."""
    async with Swarm(f"{page.url}events", 200, ["crowd-note"]) as swarm:
        await swarm.wait_ready(timeout=60)
        assert page.cli("note", page.incident, "crowd-note").returncode == 0
        await wait_for(lambda: swarm.got("crowd-note") == 200 or bool(swarm.failed()), timeout=60)
        assert not swarm.failed()
        assert swarm.got("crowd-note") == 200
    joined = [r for r in page.records() if r["type"] == "presence.joined" and r["data"]["via"] == "web"]
    assert len(joined) == 200  # each stream is a browser (no cookie): one presence record each


async def test_output_tails_follow_a_running_step_and_browsers_leave_when_serve_stops(tmp_path, lab):
    slow = ssh_step("hello", "for i in 1 2 3 4; do echo tick-$i; sleep 0.6; done")
    page = _served(tmp_path, lab, web="\n[web]\nshow_output = true\n", steps=slow)
    try:
        async with aiohttp.ClientSession() as session:
            shown: list[str] = []

            async def follow() -> None:
                async for event, data in sse_events(session, f"{page.url}events"):
                    if event == "state":
                        shown.append(json.loads(data)["html"])

            follower = asyncio.create_task(follow())
            try:
                await wait_for(lambda: bool(shown))
                client = await AttachClient.connect(_socket(page))
                try:
                    assert (await client.command("take-seat")).get("ok")
                    assert (await client.command("start", step="hello")).get("ok")
                finally:
                    await client.close()
                await wait_for(lambda: any("tick-2" in html for html in shown), timeout=10)
                finished = [r for r in page.records() if r["type"] == "step.finished"]
                assert finished == [], "the tail reached the page only once the step was over"
            finally:
                follower.cancel()
                await asyncio.gather(follower, return_exceptions=True)
    finally:
        page.stop()
    joined = {r["data"]["connection"] for r in page.records() if r["type"] == "presence.joined"}
    left = {r["data"]["connection"] for r in page.records() if r["type"] == "presence.left"}
    assert joined and joined <= left  # the server said goodbye for every browser before the engine stopped
