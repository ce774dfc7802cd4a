"""The console's action ids, shared by the UI (as Textual binding ids) and config validation.

Keeping the list here lets ``warroom run`` reject an unknown ``[keymap]`` entry, naming the key,
without the headless core importing the UI.
"""

from __future__ import annotations

from console.model import rules
from console.model.config import LoadedConfig

# id -> (default key, description)
ACTIONS: dict[str, tuple[str, str]] = {
    "run-selected": ("r", "Run step"),
    "run-next": ("n", "Run next"),
    "cancel": ("x", "Cancel"),
    "skip": ("s", "Skip"),
    "retry": ("t", "Retry"),
    "tick-pass": ("p", "Pass"),
    "tick-fail": ("f", "Fail"),
    "tick-na": ("a", "N/A"),
    "note": ("m", "Note"),
    "comms-sent": ("c", "Comms sent"),
    "open-output": ("o", "Full output"),
    "export-report": ("e", "Export report"),
    "next-host": ("h", "Next host"),
    "close-incident": ("ctrl+e", "Close incident"),
    "activity": ("v", "Activity"),
    "activity-filter": ("slash", "Filter activity"),
    "contacts-up": ("left_square_bracket", "Contacts up"),
    "contacts-down": ("right_square_bracket", "Contacts down"),
    "request-seat": ("d", "Drive"),
    "hand-over": ("H", "Hand over"),
    "help": ("question_mark", "Help"),
    "quit": ("q", "Quit"),
}

# The actions that send an incident command, and which command. The seat actions (request-seat,
# hand-over) are gated by their own seat rules and are not listed.
COMMAND_OF: dict[str, str] = {
    "run-selected": "start",
    "run-next": "start",
    "cancel": "cancel",
    "skip": "skip",
    "retry": "retry",
    "tick-pass": "tick",
    "tick-fail": "tick",
    "tick-na": "tick",
    "note": "note",
    "comms-sent": "comms",
    "close-incident": "close",
}

# Actions that change the incident: their command needs the driver seat (console.model.rules), so
# the engine refuses them for anyone not driving and their UI shows them disabled.
ACTING = frozenset(action for action, command in COMMAND_OF.items() if rules.needs_seat(command))


def keymap_from(config: LoadedConfig | None) -> dict[str, str]:
    """The config's ``[keymap]`` checked against the known ids; an unknown id is a config error."""
    if config is None:
        return {}
    for key in config.model.keymap:
        if key not in ACTIONS:
            known = ", ".join(sorted(ACTIONS))
            raise config.error(("keymap", key), f"unknown action id {key!r}; known ids: {known}")
    return dict(config.model.keymap)
