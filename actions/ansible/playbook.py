"""A playbook read for the plan (its plays and task names, touching nothing) and, when the step
sets ``serial`` or ``max_fail_percentage``, a copy carrying them for the plays that set neither.

The copy sits in the run's private directory beside links to every entry of the playbook's own
directory (roles/, files/, group_vars/, ...), so its relative paths resolve as the original's do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from console.model.errors import ActionError
from console.model.sanitize import neutralise

TASK_LISTS = ("pre_tasks", "roles", "tasks", "post_tasks")
NOT_MODULES = {
    "name",
    "when",
    "tags",
    "register",
    "become",
    "vars",
    "notify",
    "loop",
    "with_items",
    "changed_when",
    "failed_when",
    "ignore_errors",
    "delegate_to",
    "run_once",
    "no_log",
    "environment",
    "args",
    "until",
    "retries",
    "delay",
    "block",
    "rescue",
    "always",
    "listen",
    "check_mode",
    "diff",
    "loop_control",
}


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:
        return None
    return yaml


class _Loader:
    """yaml's SafeLoader, taking Ansible's own tags (``!vault``, ``!unsafe``) as plain text."""

    @staticmethod
    def make(yaml: Any) -> Any:
        class Loader(yaml.SafeLoader):
            pass

        def tagged(loader: Any, node: Any) -> Any:
            return loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else None

        Loader.add_multi_constructor("!", lambda loader, _suffix, node: tagged(loader, node))
        return Loader


def read_plays(path: str) -> list[dict[str, Any]]:
    """The playbook's plays; an unreadable or malformed one is one line naming the file."""
    yaml = _yaml()
    if yaml is None:
        raise ActionError(f"playbook {path}: cannot read it without PyYAML (it comes with ansible-core)")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ActionError(f"playbook {path}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.load(text, Loader=_Loader.make(yaml))  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ActionError(f"playbook {path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, list) or not all(isinstance(p, dict) for p in data):
        raise ActionError(f"playbook {path}: expected a list of plays")
    return data


def task_names(tasks: Any) -> list[str]:
    """Names of a task list, blocks flattened, a nameless task shown by its module."""
    names: list[str] = []
    for task in tasks if isinstance(tasks, list) else []:
        if not isinstance(task, dict):
            names.append(str(task))  # a role given by name
            continue
        if any(k in task for k in ("block", "rescue", "always")):
            for key in ("block", "rescue", "always"):
                names.extend(task_names(task.get(key)))
            continue
        if "role" in task and "name" not in task:
            names.append(f"role {task['role']}")
            continue
        module = next((k for k in task if k not in NOT_MODULES), "")
        names.append(str(task.get("name") or module or "?"))
    return names


def _role(role: Any) -> str:
    return f"role {role.get('role', role.get('name')) if isinstance(role, dict) else role}"


def play_tasks(play: dict[str, Any]) -> list[str]:
    """The play's tasks in the order Ansible runs them: pre_tasks, roles, tasks, post_tasks."""
    found: list[str] = []
    for key in TASK_LISTS:
        if key == "roles":
            found += [_role(r) for r in play.get("roles") or []]
        else:
            found += task_names(play.get(key))
    return found


def describe(path: str) -> list[str]:
    """One line per play: its name, host pattern and tasks, in order."""
    lines = []
    for number, play in enumerate(read_plays(path), start=1):
        imported = play.get("import_playbook") or play.get("ansible.builtin.import_playbook")
        if imported:
            lines.append(neutralise(f"play {number}: import_playbook {imported}"))
            continue
        name = play.get("name") or f"play {number}"
        tasks = play_tasks(play)
        keywords = [f"{k} {play[k]}" for k in ("serial", "max_fail_percentage", "any_errors_fatal") if k in play]
        extra = f", {', '.join(keywords)}" if keywords else ""
        listed = "; ".join(tasks) if tasks else "no tasks"
        lines.append(neutralise(f"play {name!r} (hosts: {play.get('hosts', '?')}{extra}): {listed}"))
    return lines


def with_policy(path: str, into: Path, serial: int | str, max_fail_percentage: int | None) -> str:
    """A copy of the playbook whose plays without their own ``serial``/``max_fail_percentage`` get
    the step's, in ``into`` beside links to its directory's entries; returns its path."""
    yaml = _yaml()
    if any(tag in Path(path).read_text(encoding="utf-8") for tag in ("!vault", "!unsafe")):
        raise ActionError(
            f"playbook {path}: it uses !vault or !unsafe values, which a copy with the step's serial or "
            "max_fail_percentage cannot carry; set them in the playbook's plays instead"
        )
    plays = read_plays(path)
    for play in plays:
        if "hosts" not in play:
            continue
        if serial != "" and "serial" not in play:
            play["serial"] = serial
        if max_fail_percentage is not None and "max_fail_percentage" not in play:
            play["max_fail_percentage"] = max_fail_percentage
    source = Path(path)
    into.mkdir(mode=0o700)
    for entry in source.parent.iterdir():
        if entry.name != source.name:
            (into / entry.name).symlink_to(entry)
    copy = into / source.name
    copy.write_text(yaml.safe_dump(plays, sort_keys=False))
    return str(copy)
