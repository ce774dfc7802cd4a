"""console/ and actions/ are the headless core: importing all of them must not import Textual."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def modules(package: str) -> list[str]:
    """Every module of the package, subpackages included (a ``__main__`` runs a command when imported)."""
    found = pkgutil.walk_packages([str(REPO / package)], prefix=f"{package}.")
    return [m.name for m in found if not m.name.endswith(".__main__")]


def test_core_and_actions_never_import_textual():
    names = ["console", "actions", *modules("console"), *modules("actions")]
    assert "console.engine" in names and "actions.ssh" in names and "console.model.plan" in names
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"Textual imported by the core: {result.stdout}"


def test_no_source_file_in_the_core_mentions_textual_imports():
    for package in ("console", "actions"):
        for path in (REPO / package).rglob("*.py"):
            for line in path.read_text().splitlines():
                stripped = line.strip()
                assert not stripped.startswith(("import textual", "from textual")), f"{path}: {line}"
