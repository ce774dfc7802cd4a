"""Starting the status page beside an incident host, and what ``serve``/``drill`` say about it."""

from __future__ import annotations

import contextlib

from console.engine import Engine
from console.host.web.server import WebServer, tls_context
from console.model.config import LoadedConfig
from console.model.errors import InputError
from console.model.secrets import resolve_ref
from console.model.webconfig import parse_listen
from console.report.secretvalues import config_secrets


def http_listen(option: str | None, config: LoadedConfig) -> str | None:
    """Where to serve the page: ``--http`` over the config's ``web.listen``; None: not served.
    A malformed ``--http`` is one line naming the option."""
    if option is None:
        return config.model.web.listen or None
    try:
        parse_listen(option)
    except ValueError as exc:
        raise InputError(f"--http: {exc}") from None
    return option


def check_web(config: LoadedConfig) -> None:
    """What would stop the page from starting, found before an incident is opened: each viewer's
    password resolves and the certificate loads (one line naming the key, as any config error)."""
    web = config.model.web
    for number, viewer in enumerate(web.viewers):
        resolve_ref(viewer.password, where=f"{config.source.name}: web.viewers[{number}].password ({viewer.name})")
    if web.certificate:
        tls_context(web)


async def start_web(parts: contextlib.AsyncExitStack, engine: Engine, config: LoadedConfig, listen: str) -> WebServer:
    """Start the page's server on ``listen`` ([ADDR:]PORT); ``parts`` closes it before the engine."""
    address, port = parse_listen(listen, default_address="127.0.0.1")
    server = WebServer(engine, config.model.web, address, port, secrets=config_secrets(config))
    try:
        await server.start()
    except BaseException:
        await server.close()
        raise
    parts.push_async_callback(server.close)
    return server


def web_line(server: WebServer) -> str:
    """What ``serve`` prints under its SSH line: the link to hand stakeholders (it holds the token)."""
    who = "token link" if server.access and server.access.token else "viewers log in"
    if server.access and server.access.token and server.access.asks_password:
        who = "token link, or viewers log in at /"
    return f"web     {server.url}  (read-only status page; {who})\n"
