"""The built-in runbook must say what the SalonManager rollback plan says.

The seed document is the source of truth: every command line of its bash blocks must be kept,
verbatim and in order, in some step's ``seed``; its matrix, windows, checks, comms, contacts and
backups must be carried over unchanged. A literal copy of the seed's command lines lives here
too, so the check runs even where the seed file (``../shared`` beside the clone) is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from builtin_runbook_support import ARTISAN_STEPS, DOCKER_STEPS, MYSQL_STEPS, PHASES, RUN_ON_ONE, SYSTEMD_STEPS

from console.model.runbook import PLACEHOLDER, LoadedRunbook, Step

# runbook (the built-in one, loaded once per module) and steps (its steps by id).
pytest_plugins = ["builtin_runbook_fixtures"]

SEED_FILE = Path(__file__).resolve().parents[2] / "shared/seed/000_543fe9bc2d0a6e44.txt"

# Every non-comment, non-blank line of the seed's ```bash blocks, in the seed's order.
SEED_COMMAND_LINES = [
    'php artisan down --message="Emergency maintenance in progress"',
    "docker-compose -f docker-compose.prod.yml down",
    "sudo systemctl stop salonmanager-backend",
    "sudo systemctl stop salonmanager-frontend",
    "ls -la storage/app/backups/",
    "php artisan backup:restore --disk=local --backup=latest",
    "mysql -u username -p database_name < backup_file.sql",
    "tar -xzf storage/app/backups/storage_backup.tar.gz -C storage/app/",
    "git checkout v0.9.0",
    "git checkout <previous-commit-hash>",
    "cd salonmanager/backend",
    "composer install --no-dev --optimize-autoloader",
    "cd salonmanager/frontend",
    "flutter pub get",
    "flutter build web --release",
    "php artisan migrate --force",
    "docker-compose -f docker-compose.prod.yml up -d",
    "sudo systemctl start salonmanager-backend",
    "sudo systemctl start salonmanager-frontend",
    "curl -f http://localhost:8000/api/v1/health",
    "docker-compose -f docker-compose.prod.yml logs -f",
    "php artisan up",
]


DESTRUCTIVE = {
    "stop-services-docker": "stop",
    "stop-services-systemd": "stop",
    "restore-database-artisan": "restore",
    "restore-database-mysql": "restore",
    "restore-file-storage": "restore",
    "revert-git-tag": "checkout",
    "run-migrations": "migrate",
}


def seed_file_command_lines(text: str) -> list[str]:
    """The non-comment, non-blank lines inside the document's ```bash fences."""
    lines: list[str] = []
    in_bash = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("```"):
            in_bash = not in_bash and line == "```bash"
            continue
        if in_bash and line and not line.startswith("#"):
            lines.append(line)
    return lines


# --- the runbook against the seed ------------------------------------------------------------


def test_builtin_runbook_loads(runbook: LoadedRunbook) -> None:
    meta = runbook.model.runbook
    assert runbook.origin == "built-in:salonmanager"
    assert (meta.id, meta.version, meta.source) == ("salonmanager", "1.0.0", "Rollback Plan v1.0.0")
    assert (meta.last_updated, meta.next_review) == ("2025-01-10", "2025-02-10")
    assert meta.description == (
        "This document outlines the rollback procedures for SalonManager v1.0.0 in case of "
        "critical issues during or after deployment."
    )


def test_literal_seed_copy_matches_the_seed_file() -> None:
    if not SEED_FILE.is_file():
        pytest.skip(f"seed document not found at {SEED_FILE} (CI has ../shared beside the clone)")
    assert seed_file_command_lines(SEED_FILE.read_text(encoding="utf-8")) == SEED_COMMAND_LINES


def test_seed_file_command_lines_all_appear_in_step_seeds(runbook: LoadedRunbook) -> None:
    if not SEED_FILE.is_file():
        pytest.skip(f"seed document not found at {SEED_FILE} (CI has ../shared beside the clone)")
    seeds = {line for _, _, step in runbook.model.steps() for line in step.seed}
    missing = [line for line in seed_file_command_lines(SEED_FILE.read_text(encoding="utf-8")) if line not in seeds]
    assert missing == []


def test_every_seed_line_is_kept_verbatim_once_and_in_seed_order(runbook: LoadedRunbook) -> None:
    seeds = {line for _, _, step in runbook.model.steps() for line in step.seed}
    assert [line for line in SEED_COMMAND_LINES if line not in seeds] == []
    in_runbook_order = [line for _, _, step in runbook.model.steps() for line in step.seed]
    assert in_runbook_order == SEED_COMMAND_LINES


def test_five_phases_with_the_seed_windows(runbook: LoadedRunbook) -> None:
    phases = [(p.id, p.title, p.start_minute, p.end_minute) for p in runbook.model.phases]
    assert phases == PHASES


def test_steps_are_in_seed_order_in_their_phases(runbook: LoadedRunbook) -> None:
    layout = {phase.id: [step.id for step in phase.steps] for phase in runbook.model.phases}
    assert layout == {
        "immediate-response": ["activate-maintenance-mode", "notify-stakeholders"],
        "database-rollback": [
            "stop-services-docker",
            "stop-services-systemd",
            "find-latest-backup",
            "restore-database-artisan",
            "restore-database-mysql",
            "restore-file-storage",
        ],
        "application-rollback": [
            "revert-git-tag",
            "update-backend-dependencies",
            "update-frontend-dependencies",
            "run-migrations",
        ],
        "service-restoration": [
            "restart-services-docker",
            "verify-compose-status",
            "restart-services-systemd",
            "verify-health-check",
            "verify-logs-docker",
            "verify-logs-systemd",
            "disable-maintenance-mode",
        ],
        "post-rollback-verification": ["functional-testing", "security-verification", "monitoring"],
    }


def test_severity_matrix_and_rto(runbook: LoadedRunbook) -> None:
    matrix = {
        key: (s.label, s.response_minutes, s.rollback, s.rto_minutes) for key, s in runbook.model.severity.items()
    }
    assert matrix == {
        "P0": ("Critical", 5, "yes", 15),
        "P1": ("High", 15, "maybe", 30),
        "P2": ("Medium", 60, "no", 120),
        "P3": ("Low", 240, "no", 240),
    }


def test_rpo_targets(runbook: LoadedRunbook) -> None:
    assert [(r.scope, r.target_minutes, r.basis) for r in runbook.model.rpo] == [
        ("Data Loss", 60, "backup frequency"),
        ("Configuration", 5, "Git-based"),
        ("File Storage", 60, "backup frequency"),
    ]


def test_triggers_verbatim(runbook: LoadedRunbook) -> None:
    assert runbook.model.triggers == [
        "Critical security vulnerabilities discovered",
        "Data corruption or loss",
        "Performance degradation > 50%",
        "Service unavailability > 5 minutes",
        "Customer data breach",
    ]


def test_communication_plan(runbook: LoadedRunbook) -> None:
    comms = runbook.model.comms
    timed = [(c.audience, c.at_minutes, c.channel, c.to, c.summary) for c in comms if not c.condition]
    assert timed == [
        ("internal", 0, "slack", "#ops", "Slack alert to #ops channel"),
        ("internal", 5, "email", "admin team", "Email to admin team"),
        ("internal", 15, "email", "stakeholders", "Status update to stakeholders"),
    ]
    conditional = [(c.audience, c.condition, c.channel, c.summary) for c in comms if c.condition]
    assert conditional == [
        ("external", "customer impact", "statuspage", "Status page update"),
        ("external", "data breach", "manual", "Follow GDPR notification procedures"),
        ("external", "extended downtime", "manual", "Customer communication"),
    ]
    fields = {"incident_id": "INC-1", "severity": "P0", "phase": "x", "eta": "y", "runbook": "z"}
    for comm in comms:
        message = comm.template.format(**fields)
        assert "INC-1" in message, comm.id
        assert "{" not in message and "}" not in message, comm.id


def test_followups_and_prevention_verbatim(runbook: LoadedRunbook) -> None:
    assert [(f.title, f.items) for f in runbook.model.followups] == [
        ("Root Cause Analysis", ["Identify failure point", "Document lessons learned", "Update procedures"]),
        ("Fix and Retest", ["Address root cause", "Comprehensive testing", "Staging validation"]),
        (
            "Re-deployment Plan",
            ["Updated deployment strategy", "Additional safeguards", "Monitoring improvements"],
        ),
    ]
    assert [(p.title, p.items) for p in runbook.model.prevention] == [
        ("Staging Environment", ["Full production replica", "Automated testing", "Load testing"]),
        (
            "Blue-Green Deployment",
            ["Zero-downtime deployment", "Instant rollback capability", "Traffic switching"],
        ),
        (
            "Feature Flags",
            ["Gradual feature rollout", "Instant feature disable", "A/B testing capability"],
        ),
    ]


def test_manual_checks_verbatim(steps: dict[str, Step]) -> None:
    texts = {
        sid: [c.text for c in steps[sid].checks]
        for sid in ("notify-stakeholders", "functional-testing", "security-verification", "monitoring")
    }
    assert texts == {
        "notify-stakeholders": [
            "Send alert to admin team",
            "Update status page",
            "Notify customers if necessary",
        ],
        "functional-testing": [
            "User authentication works",
            "Core features functional",
            "Data integrity verified",
            "Performance acceptable",
        ],
        "security-verification": [
            "No security vulnerabilities",
            "Access controls working",
            "Data protection active",
        ],
        "monitoring": ["Error rates normal", "Response times acceptable", "No critical alerts"],
    }
    for sid in texts:
        assert steps[sid].kind == "manual"
        assert steps[sid].commands == [] and steps[sid].targets is None


def test_contacts_and_backups_verbatim(runbook: LoadedRunbook) -> None:
    assert [(c.role, c.phone, c.email) for c in runbook.model.contacts] == [
        ("On-Call Engineer", "+49-XXX-XXXXXXX", ""),
        ("DevOps Lead", "+49-XXX-XXXXXXX", ""),
        ("Security Team", "", "security@salonmanager.app"),
        ("Management", "", "management@salonmanager.app"),
    ]
    assert [(b.what, b.location) for b in runbook.model.backups] == [
        ("Database Backups", "storage/app/backups/"),
        ("File Storage", "storage/app/backups/storage_backup.tar.gz"),
        ("Configuration", "Git repository"),
        ("Code", "Git repository with tags"),
    ]


def test_variants_declared_and_both_alternatives_present(runbook: LoadedRunbook, steps: dict[str, Step]) -> None:
    variants = runbook.model.variants
    assert (variants["deploy_mode"].options, variants["deploy_mode"].default) == (
        ["docker", "systemd"],
        "docker",
    )
    assert (variants["db_restore"].options, variants["db_restore"].default) == (
        ["artisan", "mysql"],
        "artisan",
    )
    tagged = {sid: step.variant for sid, step in steps.items() if step.variant}
    assert tagged == {
        **{sid: {"deploy_mode": "docker"} for sid in DOCKER_STEPS},
        **{sid: {"deploy_mode": "systemd"} for sid in SYSTEMD_STEPS},
        **{sid: {"db_restore": "artisan"} for sid in ARTISAN_STEPS},
        **{sid: {"db_restore": "mysql"} for sid in MYSQL_STEPS},
    }


def test_placeholder_free_commands_are_the_seed_lines(steps: dict[str, Step]) -> None:
    checked = 0
    for step in steps.values():
        if step.kind != "ssh" or not step.seed or any(PLACEHOLDER.search(c) for c in step.commands):
            continue  # typed kinds (storage, git, http, ...) show their seed lines in the plan instead
        # A seed `cd` line is the step's cwd, not a command.
        assert step.commands == [line for line in step.seed if not line.startswith("cd ")], step.id
        checked += 1
    assert checked == 9


def test_host_steps_target_app_with_cwds_and_timeouts(steps: dict[str, Step]) -> None:
    backend = "{{ app.root }}/{{ app.backend_dir }}"
    for step in steps.values():
        if step.kind == "ssh":
            assert step.targets == "app", step.id
            assert step.commands, step.id
        assert step.timeout > 0
    assert steps["update-backend-dependencies"].timeout >= 900
    assert steps["update-frontend-dependencies"].timeout >= 900
    for sid in (
        "activate-maintenance-mode",
        "find-latest-backup",
        "restore-database-artisan",
        "restore-database-mysql",
        "restore-file-storage",
        "update-backend-dependencies",
        "run-migrations",
        "disable-maintenance-mode",
    ):
        assert steps[sid].cwd == backend, sid
    assert steps["update-frontend-dependencies"].cwd == "{{ app.root }}/{{ app.frontend_dir }}"
    for sid in ("revert-git-tag", *(DOCKER_STEPS - {"verify-compose-status"})):
        assert steps[sid].cwd == "{{ app.root }}", sid


def test_destructive_steps_confirm_and_single_host_steps(steps: dict[str, Step]) -> None:
    assert {sid: s.confirm for sid, s in steps.items() if s.destructive} == DESTRUCTIVE
    assert {sid for sid, s in steps.items() if s.run_on == "one"} == RUN_ON_ONE
    assert {sid for sid, s in steps.items() if s.optional} == {"run-migrations"}


def test_executable_forms_of_changed_commands(steps: dict[str, Step]) -> None:
    mysql = steps["restore-database-mysql"]
    assert (mysql.kind, mysql.params["operation"], mysql.params["rpo_minutes"]) == ("mysql", "restore", 60)
    assert mysql.commands == [] and mysql.secret_env == {}  # the password goes by pymysql, never a command line
    assert mysql.seed == ["mysql -u username -p database_name < backup_file.sql"]
    git = steps["revert-git-tag"]
    assert (git.kind, git.params) == ("git", {"ref": "{{ app.rollback_ref }}"})
    health = steps["verify-health-check"]
    assert (health.kind, health.params["url"]) == ("http", "{{ health.url }}")
    storage = steps["restore-file-storage"]
    assert storage.kind == "storage"
    assert storage.params == {"archive": "storage/app/backups/storage_backup.tar.gz", "dest": "storage/app/"}
    logs = steps["verify-logs-docker"]
    assert logs.commands == ["docker-compose -f {{ app.compose_file }} logs --tail=200 --no-color"]
    assert logs.seed == ["docker-compose -f docker-compose.prod.yml logs -f"]
    assert "-f" in logs.note
    journal = steps["verify-logs-systemd"]
    assert journal.commands == ["journalctl -u salonmanager-backend -u salonmanager-frontend -n 200 --no-pager"]
    assert journal.seed == [] and "not in the seed" in journal.note
