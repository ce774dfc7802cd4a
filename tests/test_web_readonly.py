"""The status page can only read: no module of console/host/web calls anything of the engine but
the few read-only things it needs (import-linter's ``web-read-only`` contract keeps the command
paths out of its imports; this keeps the engine's acting methods out of its code)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from console.engine import Engine

WEB = Path(__file__).resolve().parents[1] / "console" / "host" / "web"
READS = {"subscribe", "state", "clock", "redactor", "output_path", "directory", "records"}
PRESENCE = {"join", "leave"}
"""Presence is journaled (a browser joined or left), as for every other watcher; it acts on nothing."""


def _engine_attributes(path: Path) -> set[str]:
    """What is read off ``engine`` or ``self.engine`` (the only names the engine goes by here)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute):
            owner = node.value
            if (isinstance(owner, ast.Name) and owner.id == "engine") or (
                isinstance(owner, ast.Attribute) and owner.attr == "engine"
            ):
                found.add(node.attr)
    return found


def test_the_page_touches_only_what_reads_the_engine():
    acting = {
        name
        for name, member in inspect.getmembers(Engine)
        if not name.startswith("__") and callable(member) and name not in READS | PRESENCE
    }
    assert {"execute", "start_step", "tick", "add_note", "take_seat", "close"} & acting  # the list is real
    used = {path.name: _engine_attributes(path) for path in WEB.glob("*.py")}
    assert set().union(*used.values()) >= {"subscribe", "join", "state"}  # the scan sees the engine's uses
    assert {name: sorted(found & acting) for name, found in used.items() if found & acting} == {}


def test_every_route_is_a_get():
    source = (WEB / "server.py").read_text()
    adds = [line.strip() for line in source.splitlines() if "app.router.add_" in line]
    assert adds and all(line.startswith("app.router.add_get(") for line in adds)
