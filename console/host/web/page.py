"""The status page as HTML: Jinja2 templates with autoescaping on for every template.

Every piece of text reaches the page through the template engine's escaping (a note reading
``<script>`` shows as text); a per-response nonce lets only the page's own inline style and script
run under the Content-Security-Policy (:data:`CSP`). The page is one self-contained document:
no external file, font or image.
"""

from __future__ import annotations

import json
import secrets
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

CSP = (
    "default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""Only the page's own nonce'd style and script, and its own event stream; no forms, no frames."""


def _hms(iso_ts: str) -> str:
    """``2026-11-29T03:10:00.000Z`` as ``03:10:00`` (every time on the page is UTC, said so)."""
    return iso_ts[11:19] if iso_ts else ""


def _text(name: str) -> str:
    return resources.files("console.host.web").joinpath("templates", name).read_text(encoding="utf-8")


class PageRenderer:
    """Renders the live part (shared by every viewer, once per change) and the whole page."""

    def __init__(self, refresh: int) -> None:
        self.refresh = refresh
        self._env = Environment(
            loader=PackageLoader("console.host.web", "templates"),
            autoescape=True,  # every template, whatever its name: nothing is ever inserted raw
            undefined=StrictUndefined,
            trim_blocks=False,
        )
        self._env.filters["hms"] = _hms
        self._live = self._env.get_template("live.html.j2")
        self._page = self._env.get_template("page.html.j2")
        self._css = Markup(_text("page.css"))  # our own files, not data: inserted as they are
        self._js = Markup(_text("page.js"))

    def live(self, view: dict[str, Any], report: dict[str, Any] | None) -> str:
        return self._live.render(v=view, report=report)

    def title(self, view: dict[str, Any]) -> str:
        """The document's title (set as text by the page's script, so never parsed as HTML)."""
        return f"{view['severity']} · {view['title']} · incident {view['id']}"

    def event(self, view: dict[str, Any], live: str) -> bytes:
        """One server-sent event carrying the new live part (JSON keeps it on one ``data:`` line)."""
        data = json.dumps({"html": live, "title": self.title(view), "seq": view["seq"]}, separators=(",", ":"))
        return f"event: state\nid: {view['seq']}\ndata: {data}\n\n".encode()

    def page(self, view: dict[str, Any], live: str) -> tuple[str, str]:
        """The whole document and the Content-Security-Policy that goes with it."""
        nonce = secrets.token_urlsafe(18)
        html = self._page.render(
            v=view, live=Markup(live), nonce=nonce, refresh=self.refresh, css=self._css, js=self._js
        )
        return html, CSP.format(nonce=nonce)
