"""``warroom check``: every host reachable, host key known, authentication working."""

from __future__ import annotations

import asyncio

from actions.base import Target
from actions.transport import preflight


async def check_hosts(targets: list[Target]) -> list[tuple[Target, str, str]]:
    results = await asyncio.gather(*(preflight(t) for t in targets))
    return [(t, stage, detail) for t, (stage, detail) in zip(targets, results, strict=True)]


def render_checks(rows: list[tuple[Target, str, str]]) -> str:
    stages = ("unreachable", "host key", "auth", "exec")
    lines = [f"{'HOST':<14} {'ADDRESS':<26} {'REACHABLE':<10} {'HOST KEY':<9} {'AUTH':<5} RESULT"]
    for target, stage, detail in rows:
        failed_at = stages.index(stage) if stage in stages else len(stages)
        marks = ["ok" if failed_at > i else ("FAIL" if failed_at == i else "-") for i in range(3)]
        result = "ok" if stage == "ok" else detail
        address = f"{target.user}@{target.address}:{target.port}"
        lines.append(f"{target.name:<14} {address:<26} {marks[0]:<10} {marks[1]:<9} {marks[2]:<5} {result}")
    return "\n".join(lines) + "\n"
