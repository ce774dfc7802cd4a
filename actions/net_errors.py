"""httpx transport failures in words an operator acts on, shared by the http and notify kinds.

httpx wraps the socket error (refused, unresolvable, reset) a few causes deep; the innermost
one says what actually happened, so the chain is searched rather than the outer text shown.
"""

from __future__ import annotations

import socket


def cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first exception of ``kind`` in ``exc``'s cause/context chain."""
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        if isinstance(node, kind):
            return node
        seen.add(id(node))
        node = node.__cause__ or node.__context__
    return None


def transport_reason(exc: BaseException, netloc: str) -> str:
    """One phrase for a connection-level failure talking to ``netloc`` (``host:port``)."""
    if cause(exc, ConnectionRefusedError) is not None:
        return f"connection refused by {netloc}"
    if cause(exc, socket.gaierror) is not None:
        return f"cannot resolve {netloc.rpartition(':')[0] or netloc}"
    if cause(exc, ConnectionResetError) is not None:
        return f"connection reset by {netloc}"
    text = str(exc) or type(exc).__name__
    if "without sending" in text or "disconnected" in text.lower():
        return "connection closed without an answer"
    return f"{type(exc).__name__}: {text}"
