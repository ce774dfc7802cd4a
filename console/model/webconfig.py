"""The ``[web]`` section: the read-only status page for stakeholders (``warroom serve --http``).

Kept apart from :mod:`console.model.config` so the page's keys are read in one place; the config
model only holds it. Passwords are secret references like every other secret of the config.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from console.model.runbook import Ident
from console.model.validation import FieldError, StrictModel
from console.model.variables import is_secret_ref

_LISTEN = re.compile(r"^(?:(?P<addr>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):)?(?P<port>[0-9]{1,5})$")


def parse_listen(text: str, *, default_address: str = "127.0.0.1") -> tuple[str, int]:
    """``[ADDR:]PORT`` (an IPv6 address in brackets) as ``(address, port)``; ValueError says why not."""
    match = _LISTEN.match(text.strip())
    port = int(match["port"]) if match else 0
    if match is None or not 0 <= port <= 65535:
        raise ValueError(f"expected [ADDR:]PORT (e.g. 8080 or 0.0.0.0:8080), got {text!r}")
    address = (match["addr"] or default_address).strip("[]")
    return address, port


def _listen(value: str) -> str:
    if value:
        parse_listen(value)
    return value


def _secret_ref(value: str) -> str:
    if is_secret_ref(value):
        return value
    raise ValueError("inline secrets are not allowed: write env:NAME or file:PATH")


class WebViewer(StrictModel):
    """A stakeholder who logs in with a password (basic auth, over HTTPS only)."""

    name: Ident
    password: Annotated[str, AfterValidator(_secret_ref)]


class Web(StrictModel):
    listen: Annotated[str, AfterValidator(_listen)] = ""
    """``[ADDR:]PORT`` to serve the page on without ``--http``; "" = only with ``--http``."""
    token: bool = True
    """The per-incident random token URL opens the page (false: only the viewers below)."""
    show_output: bool = False
    """Show each host's output tail of the current step (redacted); off: it may hold customer data."""
    output_lines: int = Field(default=12, ge=1, le=200)
    refresh: int = Field(default=15, ge=2, le=3600)
    """Seconds between reloads of a browser without JavaScript (with it, updates are pushed)."""
    certificate: str = ""
    """PEM certificate (chain) for HTTPS; with ``key``."""
    key: str = ""
    max_viewers: int = Field(default=500, ge=1)
    """Live update streams open at once; more are answered 503 (their page still reloads itself)."""
    viewers: list[WebViewer] = []

    @model_validator(mode="after")
    def _passwords_need_https(self) -> Web:
        if bool(self.certificate) != bool(self.key):
            raise FieldError("key" if self.certificate else "certificate", "HTTPS needs both certificate and key")
        if self.viewers and not self.certificate:
            raise FieldError("viewers", "viewers log in with a password: set certificate and key (HTTPS)")
        if not self.token and not self.viewers:
            raise FieldError("token", "with token = false, give [[web.viewers]] or nobody can open the page")
        names = [viewer.name for viewer in self.viewers]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate:
            raise FieldError("viewers", f"duplicate viewer {duplicate!r}")
        return self
