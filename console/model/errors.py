"""The one exception hierarchy of warroom.

Every error a user can cause or meet derives from :class:`WarroomError` and carries a one-line
message that names the file and key, or the host and step, so the CLI and the UI can show it as a
titled message instead of a traceback::

    WarroomError
    ├── InputError              bad input the user can fix
    │   ├── ConfigError         config.toml: unknown key, wrong type, dangling reference, ...
    │   ├── RunbookError        runbook TOML or a placeholder in a step
    │   │   └── RunbookMissing  the runbook named (by the config or --runbook) is no file
    │   └── SecretError         a secret reference that does not resolve
    ├── JournalError            the journal cannot be read or appended
    │   └── JournalCorrupt      a record was edited, deleted, reordered or torn
    │       └── SealMismatch    the journal is shorter than its seal (records cut from the end)
    ├── IncidentError           an incident cannot be found, opened or locked
    │   └── NotServed           no engine answers on the incident's attach socket
    ├── CommandRefused          the engine refused a command (role, state)
    ├── PreflightFailed         the preflight gate found a line that fails; nothing was opened
    └── ActionError             a step could not be carried out on a host
        ├── HostUnreachable     TCP/SSH connection failed
        ├── HostKeyError        unknown or changed host key
        ├── AuthError           authentication refused
        └── CheckWarning        a preflight check found something to say that does not stop a run
"""

from __future__ import annotations


class WarroomError(Exception):
    """Base of every error warroom reports to a user."""

    title = "warroom error"

    def __init__(self, message: str, *, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if title is not None:
            self.title = title

    def __str__(self) -> str:
        return self.message


class InputError(WarroomError):
    title = "Invalid input"


class ConfigError(InputError):
    """A config file problem; the message names file, key path and line."""

    title = "Invalid config"

    def __init__(self, file: str, key: str, problem: str, line: int | None = None) -> None:
        self.file, self.key, self.problem, self.line = file, key, problem, line
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")


class RunbookError(ConfigError):
    title = "Invalid runbook"


class RunbookMissing(RunbookError):
    """The reference names no runbook: the blame is on whoever named it (a config key, an option)."""


class SecretError(InputError):
    title = "Secret not available"


class JournalError(WarroomError):
    title = "Journal error"


class JournalCorrupt(JournalError):
    """Raised by verification: names the first bad record."""

    title = "Journal corrupt"

    def __init__(self, path: str, record: int, problem: str) -> None:
        self.path, self.record, self.problem = path, record, problem
        super().__init__(f"{path}: record {record}: {problem}")


class SealMismatch(JournalCorrupt):
    """The journal and its seal (``journal.seal``) disagree: records were cut from the end, or the
    seal itself is damaged. No single record is to blame, so the message names none."""

    def __init__(self, path: str, problem: str, record: int = 0) -> None:
        super().__init__(path, record, problem)
        self.message = f"{path}: {problem}"
        self.args = (self.message,)


class IncidentError(WarroomError):
    title = "Incident error"


class NotServed(IncidentError):
    """Nothing listens on the incident's attach socket: its engine is not running (or serves none)."""


class CommandRefused(WarroomError):
    title = "Refused"


class PreflightFailed(WarroomError):
    """The gate refused the run: the message is the whole table (every line, what to fix)."""

    title = "Preflight failed"


class ActionError(WarroomError):
    title = "Step failed"


class HostUnreachable(ActionError):
    title = "Host unreachable"


class HostKeyError(ActionError):
    title = "Host key not trusted"


class AuthError(ActionError):
    title = "Authentication failed"


class CheckWarning(ActionError):
    """A preflight check that found something worth saying but not worth stopping the run for
    (the health endpoint down before a rollback, a notification channel not configured)."""

    title = "Preflight warning"
