"""CREATE_SUMMARY: ``experiment_summary.md`` from the plan plus sections from the log."""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path

from ..exceptions import StepError
from ..spec import default_explanation
from .base import StepContext, StepOutcome, make_entry, outcome
from .table import Verb, explain_argument

ACTION = "CREATE_SUMMARY"
BRIEF = "Writing experiment plan"


def summary(
    ctx: StepContext,
    *,
    markdown: str | None = None,
    force: bool = False,
    result: str | None = None,
    explain: str | None = None,
) -> StepOutcome:
    """Write the summary into the experiment directory (never over one without ``force``)."""
    from ..summary import SUMMARY_FILENAME, build_summary, summary_result

    directory = ctx.require_dir()
    if not markdown or not markdown.strip():
        raise StepError("the plan is empty; write it in markdown")
    target = directory / SUMMARY_FILENAME
    if target.exists() and not force:
        raise StepError(f"{target} already exists; use --force to overwrite it")
    content = build_summary(markdown, ctx.entries())
    command = f"Created {ctx.log_path(str(target))}"
    explanation = default_explanation(ACTION, explain)
    try:
        write_atomically(target, content)
    except OSError as exc:
        entry = make_entry(
            ACTION,
            BRIEF,
            command=command,
            result="Failed: summary not written",
            error=f"{target}: {exc.strerror}",
            explanation=explanation,
        )
        return outcome(entry)
    entry = make_entry(
        ACTION,
        BRIEF,
        command=command,
        result=result or summary_result(markdown),
        explanation=explanation,
    )
    notes = [f"wrote {target} ({len(content.encode()):,} bytes)"]
    return outcome(entry, value=str(target), data={"path": str(target)}, notes=notes)


def write_atomically(target: Path, content: str) -> None:
    """Write through a temporary file and a rename; the temporary file never stays behind."""
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(content, encoding="utf-8")
        os.replace(temporary, target)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def _read_plan(path: str) -> str:
    try:
        return Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise argparse.ArgumentTypeError(f"{path} is not UTF-8 text") from None


def _grammar(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "markdown",
        nargs="?",
        type=_read_plan,
        metavar="PLAN.md",
        help="the plan in markdown (in a notebook: the cell)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing summary")
    parser.add_argument("--result", metavar="TEXT", help="override the Result: line")
    explain_argument(parser)


VERBS = (
    Verb(
        "summary",
        summary,
        _grammar,
        "CREATE_SUMMARY: write experiment_summary.md from the plan plus sections from the log.",
        "designlog summary plan.md --log /scratch/me/cap_8L_lora_comparison_2025-10-22",
        needs_log=True,
        cell="markdown",
    ),
)
