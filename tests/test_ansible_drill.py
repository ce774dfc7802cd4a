"""The drill's ansible rehearsal: ``warroom drill --ansible`` runs the drill's own playbook through
ansible-runner against the embedded app host; without ansible it says how to install it, and a
plain drill says whether the rehearsal is available."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WITHOUT_ANSIBLE = (
    "import sys; sys.modules['ansible_runner'] = None; "  # as if the extra were not installed
    "from console.cli import main; sys.exit(main(sys.argv[1:]))"
)


def drill(*args: str, without_ansible: bool = False) -> subprocess.CompletedProcess[str]:
    entry = ["-c", WITHOUT_ANSIBLE] if without_ansible else ["-m", "console.cli"]
    return subprocess.run(
        [sys.executable, *entry, "drill", "--headless", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        timeout=180,
        check=False,
    )


def test_drill_rehearses_an_ansible_step_against_its_embedded_host(tmp_path):
    result = drill("--ansible", "--dir", str(tmp_path / "box"), "--keep", "-v")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "ansible for step ansible-rehearsal" in out
    assert "app1: ok (ansible changed, ok=4 changed=1" in out
    assert '"msg": "app1 runs v1.0.0"' in out
    assert "closed: resolved" in out
    mark = tmp_path / "box" / "srv" / "salonmanager" / "storage" / "ansible-rehearsal.log"
    assert mark.read_text() == "rehearsed by warroom drill\n"


def test_drill_without_ansible_says_how_to_install_it():
    result = drill("--ansible", without_ansible=True)
    assert result.returncode != 0
    assert "--ansible: the drill cannot rehearse an ansible step: ansible-runner is not installed" in result.stderr
    assert "pip install 'warroom[ansible]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_plain_drill_says_whether_the_rehearsal_is_available():
    result = drill(without_ansible=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ansible rehearsal: not available (ansible-runner is not installed" in result.stdout
    result = drill()
    assert "ansible rehearsal: available — warroom drill --ansible rehearses an ansible step" in result.stdout
