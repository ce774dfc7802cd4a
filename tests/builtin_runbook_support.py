"""What the built-in runbook tests share: its phases and step groups, and the example config
written out with real key files and chosen variants.
"""

from __future__ import annotations

import re
from pathlib import Path

from console.model.config import LoadedConfig, load_config
from console.model.plan import Plan

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = ROOT / "config.toml.example"

PHASES = [
    ("immediate-response", "Immediate Response", 0, 5),
    ("database-rollback", "Database Rollback", 5, 15),
    ("application-rollback", "Application Rollback", 15, 30),
    ("service-restoration", "Service Restoration", 30, 45),
    ("post-rollback-verification", "Post-Rollback Verification", 45, 60),
]

DOCKER_STEPS = {"stop-services-docker", "restart-services-docker", "verify-compose-status", "verify-logs-docker"}
SYSTEMD_STEPS = {"stop-services-systemd", "restart-services-systemd", "verify-logs-systemd"}
ARTISAN_STEPS = {"restore-database-artisan"}
MYSQL_STEPS = {"restore-database-mysql"}
RUN_ON_ONE = {"restore-database-artisan", "restore-database-mysql", "run-migrations"}


def write_config(tmp_path: Path, **variants: str) -> Path:
    """The example config, with its key paths pointed at real files and variants chosen."""
    identity = tmp_path / "id_ed25519"
    known_hosts = tmp_path / "known_hosts"
    identity.write_text("not a real key; load_config only checks the file exists\n")
    known_hosts.write_text("")
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    text = text.replace('"~/.ssh/id_ed25519"', f'"{identity}"')
    text = text.replace('"~/.ssh/known_hosts"', f'"{known_hosts}"')
    for name, value in variants.items():
        text, count = re.subn(rf'(?m)^{name} = ".*"$', f'{name} = "{value}"', text)
        assert count == 1, name
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_example(tmp_path: Path, **variants: str) -> LoadedConfig:
    return load_config(write_config(tmp_path, **variants))


def rendered_texts(plan: Plan) -> list[str]:
    texts: list[str] = []
    for step in plan.ordered_steps():
        texts += [step.cwd, *step.commands]
        texts += [v for v in step.params.values() if isinstance(v, str)]
    return texts
