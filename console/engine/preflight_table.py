"""The preflight gate's result: one table of lines (host, check, result), grouped by host, and what
of it the journal keeps.

A line's detail is what was found (a server version, "exists") or, when it fails, one line saying
what to fix. Secret values never reach a line: a secret is named by its config key and reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["ok", "fail", "warn", "skip"]
MARKS: dict[str, str] = {"ok": "ok", "fail": "FAIL", "warn": "warn", "skip": "skip"}


@dataclass(frozen=True)
class Line:
    host: str
    check: str
    status: Status
    detail: str = ""
    steps: tuple[str, ...] = ()
    """The steps that need this check (one check serves every step that asks for it on a host)."""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"host": self.host, "check": self.check, "status": self.status, "detail": self.detail}
        if self.steps:
            data["steps"] = list(self.steps)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Line:
        return cls(data["host"], data["check"], data["status"], data.get("detail", ""), tuple(data.get("steps", ())))

    def result(self) -> str:
        text = MARKS[self.status] + (f": {self.detail}" if self.detail else "")
        if self.status == "fail" and self.steps:
            text += f" (needed by step{'s' if len(self.steps) > 1 else ''} {', '.join(self.steps)})"
        return text


@dataclass(frozen=True)
class GateResult:
    lines: tuple[Line, ...]
    hosts: tuple[str, ...] = ()
    """The target hosts, in the plan's order."""
    seconds: float = 0.0

    @property
    def failed(self) -> list[Line]:
        return [line for line in self.lines if line.status == "fail"]

    @property
    def warnings(self) -> list[Line]:
        return [line for line in self.lines if line.status == "warn"]

    @property
    def passed(self) -> bool:
        return not self.failed

    def journal_data(self) -> dict[str, Any]:
        """Compact when it passed (counts, hosts, warnings); in full what failed when overridden."""
        data: dict[str, Any] = {
            "checks": len(self.lines),
            "hosts": list(self.hosts),
            "seconds": round(self.seconds, 3),
        }
        if self.warnings:
            data["warnings"] = [line.to_dict() for line in self.warnings]
        if self.failed:
            data["failed"] = [line.to_dict() for line in self.failed]
        return data

    def summary(self) -> str:
        hosts = f"{len(self.hosts)} host{'s' if len(self.hosts) != 1 else ''}"
        warned = f" ({len(self.warnings)} warning{'s' if len(self.warnings) != 1 else ''})" if self.warnings else ""
        if self.passed:
            return f"preflight: all {len(self.lines)} checks passed on {hosts}{warned}"
        return f"preflight: {len(self.failed)} of {len(self.lines)} checks failed on {hosts}{warned}"


def render(result: GateResult) -> str:
    """The table, then its summary line: what ``check`` prints and a refused run shows."""
    header = ("HOST", "CHECK", "RESULT")
    rows = [(line.host, line.check, line.result()) for line in result.lines]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(2)]
    out = [f"{header[0]:<{widths[0]}}  {header[1]:<{widths[1]}}  {header[2]}"]
    out += [f"{host:<{widths[0]}}  {check:<{widths[1]}}  {text}" for host, check, text in rows]
    return "\n".join(out) + "\n" + result.summary() + "\n"
