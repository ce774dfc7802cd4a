"""Starting the status page beside an incident host, and what ``serve``/``drill`` say about it."""

from __future__ import annotations

import contextlib

from console.engine import Engine
from console.host.web.server import WebServer
from console.model.config import LoadedConfig
from console.model.errors import InputError
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
