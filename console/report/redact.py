"""The last line of defence before text reaches a report: secrets masked, control codes shown.

The engine masks the secret values it knows before anything is journaled or spooled, but the
report only has the journal, and remote output can carry credentials warroom never knew (a URL
with user-info, ``token=...`` printed by a script). Every string of the report passes through
:meth:`Cleaner.text`: known values and URL user-info (:class:`console.model.secrets.Redactor`), then
a pattern pass for assignments and headers that carry credentials, then control sequences
neutralised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from console.model.sanitize import neutralise
from console.model.secrets import REDACTED, Redactor

# A word that names a credential, alone or inside a longer key: MYSQL_PWD, db_password, X-Auth-Token.
_SECRET_WORD = r"(?:passw(?:or)?d|pwd|token|secret|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)"
SECRET_KEY = re.compile(rf"(?i)^[\w.-]*{_SECRET_WORD}[\w.-]*$")

_PATTERNS = (
    # Authorization: Bearer abc / Proxy-Authorization: Basic xyz / authorization=abc
    re.compile(
        r"(?i)(\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token|digest)\s+)?)([^\s\"',;]+)"
    ),
    # a bare "Bearer <token>" anywhere (curl -H, logs)
    re.compile(r"(?i)(\bbearer\s+)([A-Za-z0-9\-._~+/]{6,}=*)"),
    # password=..., MYSQL_PWD=..., --db-password ..., "api_key": "...", X-Auth-Token: ...
    re.compile(rf"(?i)(\b[\w.-]*{_SECRET_WORD}[\w.-]*[\"']?(?:\s*[=:]\s*|\s+(?=[\"']))[\"']?)([^\s\"'&;,]+)"),
)


class Cleaner:
    """Masks secrets and neutralises control sequences in every string of a report."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._redactor = Redactor()
        for value in secrets:
            self._redactor.add(value)

    def text(self, text: str) -> str:
        text = self._redactor.text(text)
        for pattern in _PATTERNS:
            text = pattern.sub(_mask, text)
        return neutralise(text)

    def tree(self, node: Any, key: str = "") -> Any:
        """Clean every string of a JSON-like value; a value under a secret-named key is masked whole."""
        if isinstance(node, dict):
            return {self.text(str(k)): self.tree(v, str(k)) for k, v in node.items()}
        if isinstance(node, list | tuple):
            return [self.tree(v, key) for v in node]
        if isinstance(node, str):
            if key and SECRET_KEY.match(key) and node:
                return REDACTED
            return self.text(node)
        return node


def _mask(match: re.Match[str]) -> str:
    value = match.group(2)
    return match.group(1) + (value if value == REDACTED else REDACTED)
