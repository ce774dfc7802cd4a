"""The ``warroom`` command line's options: the commands and their arguments, nothing run here."""

from __future__ import annotations

import argparse

from console.model import defaults

SEVERITIES = ("P0", "P1", "P2", "P3")
INCIDENT_COMMANDS = ("tick", "note", "comms", "close")
"""``console.host.incident_command.NAMES``, spelt here so the table needs no import."""
SESSION_ENTRY = "console.cli"
"""This module: an SSH session's console runs its ``main`` (the host is handed the name, never imports it)."""
SESSION_PRELOAD = ("screens.launch", "screens.app", "screens.war_room", "console.host.incident_command")
"""What the SSH server's fork server imports once before forking session consoles."""


PAINT_FIRST = ("run", "drill")
"""Commands that may start the console: their parser is built without the incident commands'
(``console.host.incident_command`` imports the engine, which their first frame does not wait for)."""


def parser(incident_commands: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="warroom", description="Drive an incident rollback step by step, with a journal and a report."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(p: argparse.ArgumentParser, required: bool = True) -> None:
        p.add_argument("-c", "--config", required=required, help="config file (see config.toml.example)")
        p.add_argument("--runbook", help="runbook name or file (default: the config's environment.runbook)")

    p = sub.add_parser("init", help="write a commented starter config for a runbook, from its declared variables")
    p.add_argument("-o", "--output", default="config.toml", help="where to write it (default: config.toml)")
    p.add_argument("--runbook", default=defaults.RUNBOOK, help="runbook name or file (default: the built-in one)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")

    p = sub.add_parser("check", help="validate the config and preflight every host")
    with_config(p)

    p = sub.add_parser("plan", help="print the resolved runbook without touching anything")
    with_config(p)
    p.add_argument("--severity", choices=SEVERITIES, help="mark this severity's RTO and project the finish against it")
    p.add_argument("--state-dir", help="earlier incidents and drills, for the projection (default: from the config)")
    p.add_argument(
        "--check",
        action="store_true",
        help="also run the ansible steps in check mode with diff and show what each host would change",
    )

    p = sub.add_parser("run", help="open (or resume) an incident and run the rollback")
    with_config(p)
    p.add_argument("--headless", action="store_true", help="no screen: run every automated step in order")
    p.add_argument("--severity", help="incident severity (default P0; the console's dialog preselects it)")
    p.add_argument("--trigger", help="what triggered the rollback (the console's dialog preselects it)")
    p.add_argument(
        "--confirm",
        action="append",
        default=[],
        metavar="WORD[,WORD]",
        help="headless: run the destructive steps asking for these confirmation words",
    )
    p.add_argument("--yes", action="store_true", help="headless: run every destructive step without asking")
    p.add_argument(
        "--detected-at", help="when the problem was detected, ISO 8601 (default: now); the RTO counts from it"
    )
    p.add_argument("--incident", help="resume this incident (id or directory)")
    p.add_argument("--retry", action="append", default=[], metavar="STEP", help="retry this failed step")
    p.add_argument("--skip", action="append", default=[], metavar="STEP", help="skip this step (with --reason)")
    p.add_argument("--reason", default="", help="why the --skip steps are skipped")
    p.add_argument(
        "--force", action="store_true", help="start even if the preflight gate fails (the failed checks are journaled)"
    )
    p.add_argument("--as", dest="actor", default=None, help="who drives (default: the login name)")
    p.add_argument("--state-dir", help="where incidents are kept (default: from the config)")
    p.add_argument("-v", "--verbose", action="store_true", help="stream every output line")

    p = sub.add_parser("drill", help="rehearse the built-in rollback against a throw-away sandbox")
    p.add_argument("--headless", action="store_true", help="no screen: run the whole rollback and print the score")
    p.add_argument("--fail", metavar="STEP", help="rehearse a failure of this step")
    p.add_argument("--severity", default="P0", help="incident severity (default P0)")
    p.add_argument("--dir", help="build the sandbox here (default: a temporary directory)")
    p.add_argument("--keep", action="store_true", help="keep the sandbox afterwards")
    p.add_argument("--state-dir", help="keep the drill's incidents here (default: inside the sandbox)")
    p.add_argument("--as", dest="actor", default=None, help="who drives (default: the login name)")
    p.add_argument("-v", "--verbose", action="store_true", help="stream every output line")
    p.add_argument("--serve", type=int, metavar="PORT", help="let trainees join as observers over SSH on PORT")
    p.add_argument("--listen", default="127.0.0.1", help="address for --serve (default 127.0.0.1)")
    p.add_argument("--authorized-keys", help="trainees' public keys (default ~/.ssh/authorized_keys)")
    p.add_argument(
        "--ansible",
        action="store_true",
        help="rehearse an ansible step (needs ansible: pip install 'warroom[ansible]')",
    )
    p.add_argument("--http", metavar="[ADDR:]PORT", help="serve the read-only status page (default address: --listen)")

    p = sub.add_parser("serve", help="run the incident for the team: unix socket and built-in SSH server")
    with_config(p)
    p.add_argument("--incident", help="serve this existing incident (id or directory)")
    p.add_argument("--severity", default="P0", help="severity of a new incident (default P0)")
    p.add_argument("--trigger", default="unspecified", help="what triggered the rollback")
    p.add_argument("--detected-at", help="when the problem was detected, ISO 8601 (default: now)")
    p.add_argument("--listen", help="SSH listen address (default: server.listen)")
    p.add_argument("--port", type=int, help="SSH port (default: server.port)")
    p.add_argument(
        "--http", metavar="[ADDR:]PORT", help="serve the read-only status page here (default: the config's web.listen)"
    )
    p.add_argument("--as", dest="actor", default=None, help="who opens the incident (default: the login name)")
    p.add_argument(
        "--force", action="store_true", help="open even if the preflight gate fails (the failed checks are journaled)"
    )
    p.add_argument("--state-dir", help="where incidents are kept (default: from the config)")

    p = sub.add_parser("watch", help="follow a running incident read-only in the console")
    p.add_argument("incident", nargs="?", help="incident id or directory (default: the one running)")
    p.add_argument("-c", "--config", help="config file (for its state_dir)")
    p.add_argument("--state-dir", help="where incidents are kept")

    # Internal (an SSH session's console, started by warroom serve): a subparser given no help= is
    # left out of the command list, while help=SUPPRESS would list it as "==SUPPRESS==".
    p = sub.add_parser("attach")
    p.add_argument("--socket", required=True)
    p.add_argument("--via", default="ssh")

    p = sub.add_parser("incidents", help="list incidents and their status")
    p.add_argument("-c", "--config", help="config file (for its state_dir)")
    p.add_argument("--state-dir", help="where incidents are kept")

    p = sub.add_parser("journal", help="journal tools")
    jsub = p.add_subparsers(dest="journal_command", required=True, metavar="ACTION")
    v = jsub.add_parser("verify", help="check an incident journal's checksums, chain and seal")
    v.add_argument("incident", help="incident id, directory or journal file")
    v.add_argument(
        "--last-hash",
        metavar="HASH",
        help="a last hash kept elsewhere (the report's): the journal must still hold that record",
    )
    v.add_argument("-c", "--config", help="config file (for its state_dir)")
    v.add_argument("--state-dir", help="where incidents are kept")

    if incident_commands:
        from console.host import incident_command

        incident_command.add_parsers(sub)  # tick, note, comms, close

    p = sub.add_parser("report", help="write the incident report (Markdown, HTML or JSON) from the journal")
    p.add_argument("incident", help="incident id, directory or journal file")
    p.add_argument("--format", default="md", metavar="FORMAT", help="md (default), html or json")
    p.add_argument("-o", "--output", help="write to this file (default: standard output)")
    p.add_argument("-c", "--config", help="config file (for its state_dir; its secrets are masked too)")
    p.add_argument("--state-dir", help="where incidents are kept")
    return parser
