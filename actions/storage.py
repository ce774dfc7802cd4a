"""Restoring the file-storage tarball on each host, then checking every archived file is there.

The seed's ``tar -xzf storage/app/backups/storage_backup.tar.gz -C storage/app/`` is what runs; the
step adds what the seed leaves to the reader: the archive exists, and after extraction every file
it holds is present (counts in the journal, missing files named in the output).
"""

from __future__ import annotations

import asyncio
import shlex
from typing import TYPE_CHECKING, Any

from pydantic import field_validator

from actions.base import Action, PlannedCommand, PreflightContext, Probe, StepContext, StepRun
from actions.capture import FactSink, as_number
from actions.params import ParamError, StepParams
from actions.transport import cwd_probes, run_script, wrap_script

if TYPE_CHECKING:
    from console.model.plan import PlannedStep

DEFAULT_ARCHIVE = "storage/app/backups/storage_backup.tar.gz"
DEFAULT_DEST = "storage/app/"
NOT_FOUND, UNREADABLE = 66, 65  # sysexits' EX_NOINPUT and EX_DATAERR: tar itself exits 1 or 2


class StorageParams(StepParams):
    archive: str = DEFAULT_ARCHIVE
    """The tarball, relative to the step's cwd or absolute."""
    dest: str = DEFAULT_DEST
    """Where it is extracted."""

    @field_validator("archive", "dest", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> str:
        """``archive = 1`` is the file "1", as a storage step always read it."""
        return str(value)


def _params(step: PlannedStep) -> tuple[str, str]:
    params = StorageAction.step_params(step)
    return params.archive, params.dest


def restore_commands(archive: str, dest: str) -> list[str]:
    a, d = shlex.quote(archive), shlex.quote(dest)
    members = f"tar -tzf {a} | grep -v '/$'"
    return [
        f"[ -f {a} ] || {{ printf 'archive %s not found in %s\\n' {a} \"$(pwd)\" >&2; exit {NOT_FOUND}; }}",
        f"total=$({members} | wc -l)",
        'echo "warroom-fact archive_files=$total"',
        f'echo "warroom-fact archive_bytes=$(wc -c < {a})"',
        f"tar -xzf {a} -C {d} || "
        f"{{ printf 'archive %s could not be extracted: corrupt or truncated?\\n' {a} >&2; exit {UNREADABLE}; }}",
        f'present=0; missing=0; while IFS= read -r f; do if [ -e {d}/"$f" ]; then present=$((present+1)); '
        f'else missing=$((missing+1)); [ $missing -le 20 ] && echo "missing after restore: $f"; fi; '
        f"done <<WARROOM_EOF\n$({members})\nWARROOM_EOF",
        'echo "warroom-fact restored_files=$present"',
        '[ "$present" -eq "$total" ] || '
        '{ echo "verify failed: $present of $total archived files present" >&2; exit 3; }',
        'echo "storage restored: $present of $total files present"',
    ]


class StorageAction(Action):
    kind = "storage"
    params_model = StorageParams
    unknown_params = "unknown {kind} parameter {first} (known: {sorted_known})"
    unknown_first = True

    def preflight(self, ctx: PreflightContext) -> list[Probe]:
        """The cwd the restore runs in exists on every host."""
        return cwd_probes(ctx)

    def plan(self, step: PlannedStep) -> list[PlannedCommand]:
        try:
            params = self.parse_params(step.params, step.timeout)
        except ParamError as exc:
            return [PlannedCommand(host, f"invalid {exc}") for host in step.hosts]
        archive, dest = params.archive, params.dest
        where = f"cd {step.cwd} && " if step.cwd else ""
        text = f"{where}tar -xzf {archive} -C {dest}  (then: every archived file present in {dest})"
        return [PlannedCommand(host, text) for host in step.hosts]

    async def run(self, ctx: StepContext) -> StepRun:
        archive, dest = _params(ctx.step)
        script = wrap_script(restore_commands(archive, dest), cwd=ctx.step.cwd)

        async def one(target):
            sink = FactSink(ctx.sink(target.name))
            outcome = await run_script(ctx, target, script, sink=sink)
            outcome.facts = {k: as_number(v) for k, v in sink.facts.items()}
            outcome.facts["archive"] = archive
            if outcome.status != "ok" and outcome.exit_code == 3:
                outcome.error = f"verify failed: {sink.facts.get('restored_files', '?')} of "
                outcome.error += f"{sink.facts.get('archive_files', '?')} archived files present"
            elif outcome.exit_code == NOT_FOUND:
                outcome.error = f"archive {archive} not found on {target.name}"
            elif outcome.exit_code == UNREADABLE:
                outcome.error = f"archive {archive} on {target.name} could not be extracted (corrupt or truncated?)"
            return outcome

        results = await asyncio.gather(*(one(t) for t in ctx.targets))
        return StepRun({r.host: r for r in results})
