"""Checking out the previous release on each host, and proving HEAD is where it should be.

``ref`` is a tag or commit (the seed's ``git checkout v0.9.0`` / ``<previous-commit-hash>``), or
``previous-stable``: the highest release tag below the one checked out now, pre-releases skipped,
resolved on the host. Before a driver confirms, :meth:`GitAction.preview` shows each host's HEAD and
where the checkout would take it.
"""

from __future__ import annotations

import asyncio
import shlex
from typing import TYPE_CHECKING, Any

import asyncssh
from pydantic import field_validator

from actions.base import Action, PlannedCommand, PreflightContext, Probe, StepContext, StepRun
from actions.capture import FactSink
from actions.params import ParamError, StepParams
from actions.transport import cwd_probes, cwd_word, run_script, wrap_script
from console.model.errors import ActionError

if TYPE_CHECKING:
    from console.model.plan import PlannedStep
    from console.model.runbook import Step

PREVIOUS_STABLE = "previous-stable"


class GitParams(StepParams):
    ref: str = PREVIOUS_STABLE
    """A tag or commit, or ``previous-stable`` (resolved on the host)."""

    @field_validator("ref", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> str:
        """``ref = 1`` is the tag "1", as a git step always read it."""
        return str(value)


# Prints the ref to check out. For previous-stable: release tags (vX.Y.Z, no "-rc"/"-beta"), sorted
# by version, the last one strictly below the tag HEAD is on (or below HEAD's nearest tag).
RESOLVE = {
    PREVIOUS_STABLE: (
        "current=$(git describe --tags --abbrev=0 HEAD 2>/dev/null) || "
        '{ echo "no tag at or below HEAD: cannot find the previous stable release" >&2; exit 4; }; '
        "previous=$(git tag --sort=v:refname | grep -Ev -- '-(rc|alpha|beta|pre|dev)' | "
        "awk -v cur=\"$current\" '$0 == cur { print prev; found=1; exit } { prev=$0 } END { if (!found) exit 1 }'); "
        '[ -n "$previous" ] || { echo "no release tag before $current" >&2; exit 4; }; '
        'echo "$previous"'
    )
}


def _ref(step: PlannedStep) -> str:
    return GitAction.step_params(step).ref


def _resolve_snippet(ref: str) -> str:
    return RESOLVE.get(ref, f"echo {shlex.quote(ref)}")


def checkout_commands(ref: str) -> list[str]:
    return [
        'git rev-parse --git-dir >/dev/null 2>&1 || { echo "$(pwd) is not a git repository" >&2; exit 2; }',
        'echo "warroom-fact from_commit=$(git rev-parse HEAD)"',
        'echo "warroom-fact from_ref=$(git describe --tags --always HEAD)"',
        f"target=$({_resolve_snippet(ref)})",
        'want=$(git rev-parse --verify --quiet "$target^{commit}") || '
        '{ echo "ref $target does not exist in this repository" >&2; exit 4; }',
        'echo "warroom-fact target=$target"',
        'git checkout "$target"',
        "now=$(git rev-parse HEAD)",
        '[ "$now" = "$want" ] || { echo "HEAD is $now, not $target ($want)" >&2; exit 3; }',
        'echo "warroom-fact to_commit=$now"',
        'echo "warroom-fact to_ref=$(git describe --tags --always HEAD)"',
        'echo "HEAD verified at $target ($now)"',
    ]


class GitAction(Action):
    kind = "git"
    params_model = GitParams
    unknown_params = "unknown {kind} parameter {first} (known: {sorted_known})"
    unknown_first = True

    @classmethod
    def check_step(cls, step: Step) -> tuple[str, str] | None:
        problem = super().check_step(step)
        if problem and problem[0] == "targets":
            return problem
        if not step.cwd:  # before the params, as always
            return ("cwd", "a git step needs cwd: the repository to check out in")
        return problem

    def preflight(self, ctx: PreflightContext) -> list[Probe]:
        """The cwd the checkout runs in exists on every host."""
        return cwd_probes(ctx)

    def plan(self, step: PlannedStep) -> list[PlannedCommand]:
        try:
            ref = self.parse_params(step.params, step.timeout).ref
        except ParamError as exc:
            return [PlannedCommand(host, f"invalid {exc}") for host in step.hosts]
        shown = "<previous stable tag, resolved on the host>" if ref == PREVIOUS_STABLE else ref
        text = f"cd {step.cwd} && git checkout {shown}  (then: HEAD verified)"
        return [PlannedCommand(host, text) for host in step.hosts]

    async def run(self, ctx: StepContext) -> StepRun:
        script = wrap_script(checkout_commands(_ref(ctx.step)), cwd=ctx.step.cwd)

        async def one(target):
            sink = FactSink(ctx.sink(target.name))
            outcome = await run_script(ctx, target, script, sink=sink)
            outcome.facts = dict(sink.facts)
            if outcome.status == "failed" and outcome.exit_code == 4:
                outcome.error = f"cannot resolve {_ref(ctx.step)} on {target.name} (see output)"
            elif outcome.status == "failed" and outcome.exit_code == 3:
                outcome.error = f"HEAD on {target.name} is not at {sink.facts.get('target', '?')} after checkout"
            return outcome

        results = await asyncio.gather(*(one(t) for t in ctx.targets))
        return StepRun({r.host: r for r in results})

    async def preview(self, ctx: StepContext) -> dict[str, str]:
        ref = _ref(ctx.step)
        script = (
            f"cd -- {cwd_word(ctx.step.cwd)} && "
            'printf "%s (%s)" "$(git describe --tags --always HEAD)" "$(git rev-parse --short HEAD)" && '
            f'target=$({_resolve_snippet(ref)}) && printf " -> %s (%s)\\n" "$target" '
            '"$(git rev-parse --short --verify --quiet "$target^{commit}" || echo missing)"'
        )

        async def one(target) -> tuple[str, str]:
            try:
                conn = await ctx.connections.get(target)
                result = await asyncio.wait_for(conn.run(script, check=False), timeout=15)
            except (OSError, asyncssh.Error, TimeoutError, ActionError) as exc:
                return target.name, f"cannot read HEAD: {exc}"
            text = str(result.stdout or "").strip() or str(result.stderr or "").strip()
            return target.name, f"HEAD {text}" if result.exit_status == 0 else f"cannot resolve: {text}"

        return dict(await asyncio.gather(*(one(t) for t in ctx.targets)))
