"""Strategies that damage a real config and runbook (examples/orders-api) the ways a person or a
bad merge does: a value of the wrong type or shape, a key removed or added, text cut or spliced."""

from __future__ import annotations

import contextlib
import io
import tomllib
from pathlib import Path
from typing import Any

import tomli_w
from hypothesis import strategies as st

from console import cli

REPO = Path(__file__).resolve().parents[2]
SEED_CONFIG = REPO / "examples" / "orders-api" / "config.toml"
SEED_RUNBOOK = REPO / "examples" / "orders-api" / "runbook.toml"

# Strings that tend to break parsers and templates: placeholders, escapes, control characters,
# line breaks, paths, huge and empty text.
NASTY = st.sampled_from(
    [
        "",
        " ",
        "{",
        "}",
        "{{",
        "{vars.nope}",
        "{host.address}",
        "{secret:env:NOPE}",
        "env:",
        "file:/nonexistent",
        "\x00",
        "\x1b]0;title\x07",
        "line\nbreak",
        "\r\n",
        "\u202e",
        "../../etc/passwd",
        "~",
        "P0",
        "-1",
        "1e999",
        "x" * 5000,
    ]
)
KEYS = st.text(min_size=1, max_size=12) | NASTY
SCALARS = st.one_of(
    NASTY,
    st.text(max_size=40),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=8,
)


def paths(tree: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path in a TOML document (list items by index)."""
    found = [prefix] if prefix else []
    if isinstance(tree, dict):
        for key, value in tree.items():
            found += paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            found += paths(value, (*prefix, index))
    return found


def _parent(tree: Any, path: tuple) -> Any:
    for part in path[:-1]:
        tree = tree[part]
    return tree


@st.composite
def mutated(draw, seed: Path) -> str:
    """The seed document with 1-3 edits: a value replaced, a key removed, or a key added."""
    tree = tomllib.loads(seed.read_text())
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(tree)))
        parent, last = _parent(tree, where), where[-1]
        edit = draw(st.sampled_from(["replace", "remove", "add"]))
        if edit == "remove":
            del parent[last]
        elif edit == "add" and isinstance(parent, dict):
            parent[draw(KEYS)] = draw(VALUES)
        else:
            parent[last] = draw(VALUES)
        if not paths(tree):
            break
    return tomli_w.dumps(tree)


@st.composite
def spliced(draw, seed: Path) -> bytes:
    """The seed's bytes cut, with a random or TOML-ish fragment spliced in at a random place."""
    text = seed.read_bytes()
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, min(len(text), start + 64)))
    fragment = draw(
        st.binary(max_size=24)
        | st.sampled_from([b"[", b"]]", b"=", b'"', b"'''", b"\n[hosts.x]\n", b"\xff\xfe", b"\\u00", b"{ a = "])
        | NASTY.map(lambda s: s.encode("utf-8", "surrogatepass"))
    )
    return text[:start] + fragment + text[end:]


def plan_once(config: Path, runbook: Path) -> tuple[int, str]:
    """``warroom plan`` in-process: its exit code and stderr. Anything but a WarroomError raises."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["plan", "-c", str(config), "--runbook", str(runbook), "--severity", "P1"])
    return code, err.getvalue()
