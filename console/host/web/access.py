"""Who may open the status page: the incident's random token in the URL, or a viewer from the
config with a password (HTTP basic auth, accepted over HTTPS only).

The token is made once per incident and kept in the incident directory (``web.token``, mode 0600,
like the SSH host key: whoever can read the directory can read the journal anyway), so a link
handed to stakeholders survives a restart of ``warroom serve``. It is never journaled; the
journal only ever learns that a web viewer came and went (presence).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from console.model.errors import IncidentError
from console.model.secrets import Redactor, resolve_ref
from console.model.webconfig import Web

TOKEN_FILE = "web.token"
TOKEN_BYTES = 24


def incident_token(directory: Path) -> str:
    """The incident's token: read from its directory, or made there now (owner-only, never replaced)."""
    path = directory / TOKEN_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return _read_token(path)
    except OSError as exc:
        raise IncidentError(f"{path}: cannot create the status page's token: {exc.strerror}") from None
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token


def _read_token(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd) as handle:
            info = os.fstat(handle.fileno())
            token = handle.read().strip()
    except OSError as exc:
        raise IncidentError(f"{path}: cannot read the status page's token: {exc.strerror}") from None
    if info.st_mode & 0o077 or info.st_uid != os.getuid():
        raise IncidentError(f"{path}: readable by others or not ours; remove it and a new token is made")
    if len(token) < 32 or not token.replace("-", "a").replace("_", "a").isalnum():
        raise IncidentError(f"{path}: not a status page token; remove it and a new one is made")
    return token


@dataclass(frozen=True)
class Viewer:
    """Who a request is: a configured viewer's name, or ``None`` for a holder of the token link."""

    name: str | None


class Access:
    """Checks a request's token or basic-auth credentials, in constant time."""

    def __init__(self, web: Web, token: str | None, *, https: bool, redactor: Redactor) -> None:
        self.token = token if web.token else None
        self.https = https
        self._passwords: dict[str, bytes] = {}
        for number, viewer in enumerate(web.viewers):
            where = f"web.viewers[{number}].password ({viewer.name})"
            self._passwords[viewer.name] = resolve_ref(viewer.password, where=where, redactor=redactor).encode()

    @property
    def asks_password(self) -> bool:
        """Basic auth is offered (viewers are configured, and the page is served over HTTPS)."""
        return bool(self._passwords) and self.https

    def by_token(self, candidate: str) -> Viewer | None:
        if self.token is None or not hmac.compare_digest(candidate.encode(), self.token.encode()):
            return None
        return Viewer(None)

    def by_password(self, authorization: str | None) -> Viewer | None:
        if not self.asks_password or not authorization or not authorization.startswith("Basic "):
            return None
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        name, sep, password = decoded.partition(":")
        expected = self._passwords.get(name)
        # compared even for an unknown name, so a wrong name takes as long as a wrong password
        matched = hmac.compare_digest(password.encode(), expected or b"\0" * 32)
        return Viewer(name) if sep and expected is not None and matched else None
