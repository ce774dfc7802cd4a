"""Ansible's events folded into what warroom shows and journals per host: the task in flight,
task counts, the final ok / changed / failed / unreachable, and the output lines of each host."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from console.model.sanitize import neutralise

COUNTS = ("ok", "changed", "failed", "skipped", "unreachable", "rescued", "ignored")
ERROR_CAP = 300
RESULT_EVENTS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}


@dataclass
class HostTally:
    host: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    in_flight: str = ""
    """The task this host is running now ('' between tasks)."""
    started: bool = False
    failure: str = ""
    unreachable: bool = False

    @property
    def outcome(self) -> str:
        if self.unreachable:
            return "unreachable"
        if self.counts["failed"]:
            return "failed"
        if not self.started:
            return "not attempted"
        return "changed" if self.counts["changed"] else "ok"

    def facts(self) -> dict[str, Any]:
        return {"ansible": self.outcome, **{k: v for k, v in self.counts.items() if v or k in ("ok", "changed")}}

    def summary(self) -> str:
        counts = " ".join(f"{k}={v}" for k, v in self.counts.items())
        return f"{self.host}: {self.outcome} ({counts})"


class Tally:
    """Every host of the step; ``fold`` takes one runner event and returns ``(host, text)`` lines
    to write to that host's output ('' host: a line for every host, e.g. a play starting)."""

    def __init__(self, hosts: list[str]) -> None:
        self.hosts = {h: HostTally(h) for h in hosts}
        self.strangers: set[str] = set()
        """Hosts ansible reported that are not the step's (an inventory of one's own)."""
        self.stats: dict[str, dict[str, int]] | None = None
        self.general: list[str] = []
        """Output not about one host (errors before any host ran, warnings)."""

    def _host(self, name: Any) -> HostTally | None:
        if not isinstance(name, str):
            return None
        tally = self.hosts.get(name)
        if tally is None:
            self.strangers.add(name)
        return tally

    def in_flight(self) -> dict[str, str]:
        return {h: t.in_flight for h, t in self.hosts.items() if t.in_flight}

    def fold(self, event: dict[str, Any]) -> list[tuple[str, str]]:
        kind = str(event.get("event", ""))
        data = event.get("event_data") if isinstance(event.get("event_data"), dict) else {}
        stdout = neutralise(str(event.get("stdout") or "").replace("\r\n", "\n")).strip("\n")
        task = str(data.get("task") or data.get("task_action") or "")
        name = data.get("host")
        if kind == "runner_on_start":
            tally = self._host(name)
            if tally is not None:
                tally.started = True
                tally.in_flight = task or "?"
                return [(tally.host, f"TASK [{task}]")]
            return []
        result = RESULT_EVENTS.get(kind)
        if result is not None:
            return self._result(name, result, data, stdout, task)
        if kind.startswith("runner_item_on_") or kind in ("runner_retry", "runner_on_async_failed"):
            tally = self._host(name)
            return [(tally.host, stdout)] if tally is not None and stdout else []
        if kind == "playbook_on_play_start":
            return [("", stdout.strip())] if stdout.strip() else []
        if kind == "playbook_on_stats":
            self.stats = {k: _counts(data.get(k)) for k in COUNTS_IN_STATS}
            return []
        if kind in ("playbook_on_task_start", "playbook_on_handler_task_start", "playbook_on_include"):
            return []  # each host says TASK when it starts it (runner_on_start)
        if stdout.strip() and kind not in ("playbook_on_start", "playbook_on_notify"):
            self.general.append(stdout.strip())
            return [("", stdout.strip())]
        return []

    def _result(self, name: Any, result: str, data: dict[str, Any], stdout: str, task: str) -> list[tuple[str, str]]:
        tally = self._host(name)
        if tally is None:
            return []
        tally.started = True
        tally.in_flight = ""
        res = data.get("res") if isinstance(data.get("res"), dict) else {}
        if result == "failed" and data.get("ignore_errors"):
            result = "ignored"
        tally.counts[result] += 1
        if result == "ok" and res.get("changed"):
            tally.counts["changed"] += 1
        if result == "unreachable":
            tally.unreachable = True
            tally.failure = _one_line(f"unreachable at task {task!r}: {unreachable_why(str(res.get('msg', '')))}")
        elif result == "failed":
            tally.failure = _one_line(f"task {task!r} failed: {_why(res)}")
        lines = [(tally.host, stdout)] if stdout else []
        return lines + [(tally.host, line) for line in _streams(res, stdout)]

    def settle(self) -> None:
        """Take ansible's own recap where it gave one (rescued tasks, a retried host)."""
        if not self.stats:
            return
        for host, tally in self.hosts.items():
            if host in self.stats["processed"]:
                tally.started = True
            if self.stats["dark"].get(host):
                tally.unreachable = True
            if self.stats["failures"].get(host) and not tally.counts["failed"]:
                tally.counts["failed"] = self.stats["failures"][host]
            if self.stats["rescued"].get(host):
                tally.counts["rescued"] = self.stats["rescued"][host]
                if tally.counts["failed"] and not self.stats["failures"].get(host):
                    tally.counts["failed"] = 0  # rescued: ansible counts the host as not failed


COUNTS_IN_STATS = ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored", "processed")


def unreachable_why(msg: str) -> str:
    """Why ssh could not reach a host, in one line: a host-key refusal said as warroom's own
    transport says it, else what ssh said without Ansible's framing and OpenSSH's banner of @s."""
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in msg:
        return (
            "host key CHANGED — it does not match the configured known_hosts; refusing to connect "
            "(possible man-in-the-middle); verify the new key out of band"
        )
    if "Host key verification failed" in msg or "No ED25519 host key is known" in msg:
        return (
            "host key unknown — no entry in the configured known_hosts; verify its fingerprint out of band and add it"
        )
    said = msg.split("Make sure this host can be reached over ssh:", 1)[-1]
    lines = [line.strip() for line in said.replace("\r", "\n").split("\n")]
    return " ".join(line for line in lines if line and not line.startswith("@")) or "unreachable"


def _streams(res: dict[str, Any], shown: str) -> list[str]:
    """A command's stdout and stderr, which Ansible's display leaves out of a result that did not
    fail (without -v): the operator sees what the command said, as with an ssh step."""
    found = []
    for key in ("stdout", "stderr"):
        text = res.get(key)
        if isinstance(text, str) and text.strip() and text not in shown:
            body = neutralise(text.replace("\r\n", "\n")).rstrip("\n")
            found += [f"  {key}| {line}" for line in body.split("\n")]
    return found


def _counts(value: Any) -> dict[str, int]:
    """A per-host count table of ansible's recap, whatever the runner sent."""
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, int) and not isinstance(v, bool)}


def _why(res: dict[str, Any]) -> str:
    parts = [str(res.get("msg") or "").strip()]
    if res.get("rc") not in (None, 0):
        parts.append(f"rc={res['rc']}")
    stderr = str(res.get("stderr") or "").strip()
    if stderr:
        parts.append(f"stderr: {stderr}")
    return "; ".join(p for p in parts if p) or "failed"


def _one_line(text: str) -> str:
    line = " ".join(neutralise(text.replace("\r", " ")).split())
    return line if len(line) <= ERROR_CAP else line[: ERROR_CAP - 1] + "…"
