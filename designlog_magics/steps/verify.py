"""VERIFY_<KIND>: a model directory or a dataset file checked by the package, or a cell's own
``ls``/``du`` commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..commandline import quote_path, verb_command
from ..entry import ACTION_NAME_RE
from ..exceptions import StepError
from ..spec import default_explanation
from .base import StepContext, StepOutcome, facts_of, make_entry, outcome
from .shell import last_operand, run_cell_commands
from .table import Verb, explain_argument


def verify_action(kind: str) -> str:
    """``MODEL`` -> ``VERIFY_MODEL``; refuses anything that is not a word."""
    action = kind.upper() if kind.upper().startswith("VERIFY_") else f"VERIFY_{kind.upper()}"
    if not ACTION_NAME_RE.fullmatch(action):
        raise StepError(f"KIND must be a word such as MODEL or DATASET, not {kind!r}")
    return action


def verify(
    ctx: StepContext,
    *,
    kind: str,
    target: str | None = None,
    explain: str | None = None,
    cell: str | None = None,
    timeout: float | None = None,
) -> StepOutcome:
    """VERIFY_<KIND>: the path checked by the package, or the cell's own shell commands."""
    from ..probes.paths import verify_path

    action = verify_action(kind)
    explanation = default_explanation(action, explain)
    if cell is not None:
        run = run_cell_commands(cell, ctx, timeout)
        if run.entry_fields is None:
            return StepOutcome(notes=run.notes, outputs=run.outputs)
        name = target or last_operand(run.logged[0]) or action.removeprefix("VERIFY_").lower()
        entry = make_entry(action, f"Checking {name}", run.entry_fields, explanation=explanation)
        return outcome(entry, notes=run.notes, outputs=run.outputs)
    if not target:
        raise StepError("give the path to check, e.g. MODEL {models_dir}/Llama-3.2-1B-Instruct")
    path = ctx.run_path(target)
    with ctx.progress(f"checking {path}") as progress:
        facts = verify_path(path, progress=lambda n: progress.update(f"{n:,} files"))
    entry = make_entry(
        action,
        f"Checking {Path(path).name}",
        command=verb_command(
            "verify", action.removeprefix("VERIFY_"), quote_path(ctx.log_path(path))
        ),
        result=facts.summary(),
        error=None if facts.ok else facts.error,
        explanation=explanation,
    )
    return outcome(entry, value=facts, data=facts_of(facts), notes=[f"checked {path}"])


def _grammar(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", metavar="KIND", help="MODEL, DATASET or any word (VERIFY_<KIND>)")
    parser.add_argument(
        "target",
        nargs="?",
        metavar="PATH",
        help="the path to check (with a cell of commands: a name for the brief)",
    )
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help=argparse.SUPPRESS)
    explain_argument(parser)


VERBS = (
    Verb(
        "verify",
        verify,
        _grammar,
        "VERIFY_<KIND>: check a model directory or a dataset file (files, size, records).",
        "designlog verify MODEL /scratch/models/Llama-3.2-1B-Instruct",
        reads_only=True,
        paths=("target",),
        cell="cell",
        notebook_only=("cell", "timeout"),
    ),
)
