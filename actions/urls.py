"""URL facts the http and notify step kinds share, without importing httpx at start-up.

User-info (``user:password@``) never leaves this module: every URL shown to a person, written to
output, a journal or an error goes through :func:`display`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


@dataclass(frozen=True)
class Origin:
    """Where a URL points: the part a tunnel forwards to and a redirect must keep."""

    scheme: str
    host: str
    port: int

    @property
    def netloc(self) -> str:
        """``host[:port]`` as a Host header carries it (port left out when it is the default)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if DEFAULT_PORTS.get(self.scheme) == self.port else f"{host}:{self.port}"


def origin(url: str) -> Origin:
    """The scheme, host and port of ``url``; ValueError for a URL no request can be made to."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"{display(url)!r} is not an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError(f"{display(url)!r} has no host")
    port = parts.port  # raises ValueError for a bad port
    return Origin(scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme])


def display(url: str) -> str:
    """``url`` without its user-info, fit to print anywhere."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def host_of(url: str) -> str:
    """Only the host of ``url``: what may be shown of a secret webhook URL."""
    try:
        return urlsplit(url).hostname or "<no host>"
    except ValueError:
        return "<unparsable URL>"


def is_loopback(host: str) -> bool:
    """True for names and addresses that mean "this machine" (so, on a target: the host itself)."""
    host = host.strip("[]").lower()
    if host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def with_origin(url: str, scheme: str, host: str, port: int) -> str:
    """``url`` re-addressed to ``scheme://host:port`` with the same path and query, no user-info."""
    parts = urlsplit(url)
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
