"""CREATE_SUMMARY: ``experiment_summary.md`` (the plan plus sections from the log) and
``experiment_summary.yaml`` (the plan in the scaffolders' schema, built from the log and the
cell; see :mod:`..plan_yaml`), written together or not at all (:mod:`..files`)."""

from __future__ import annotations

import argparse
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
    no_yaml: bool = False,
    result: str | None = None,
    explain: str | None = None,
) -> StepOutcome:
    """Write the summary (and the scaffolders' YAML) into the experiment directory, never over
    an existing one without ``force``. A YAML field neither the log nor the cell gives is one
    error naming every such field, and nothing is written."""
    from ..plan_yaml import PLAN_FILENAME, build_plan, dump_plan
    from ..summary import SUMMARY_FILENAME, build_summary, plan_result, summary_result

    directory = ctx.require_dir()
    if not markdown or not markdown.strip():
        raise StepError("the plan is empty; write it in markdown")
    targets = [directory / SUMMARY_FILENAME] + ([] if no_yaml else [directory / PLAN_FILENAME])
    from ..files import refuse_existing, write_files

    if not force:  # before the plan is built: the one error the user needs
        refuse_existing(targets)

    entries = ctx.entries()
    contents = [build_summary(markdown, entries)]
    results = [result or summary_result(markdown)]
    if not no_yaml:
        plan = build_plan(entries, markdown, ctx.paths)
        contents.append(dump_plan(plan))
        results.append(plan_result(plan))
    command = "\n".join(f"Created {ctx.log_path(str(t))}" for t in targets)
    explanation = default_explanation(ACTION, explain)
    try:
        write_files(list(zip(targets, contents, strict=True)), force=force)
    except OSError as exc:
        entry = make_entry(
            ACTION,
            BRIEF,
            command=command,
            result="Failed: summary not written",
            error=f"{exc.filename or directory}: {exc.strerror}",
            explanation=explanation,
        )
        return outcome(entry)
    entry = make_entry(
        ACTION, BRIEF, command=command, result="\n".join(results), explanation=explanation
    )
    notes = [
        f"wrote {t} ({len(c.encode()):,} bytes)" for t, c in zip(targets, contents, strict=True)
    ]
    data = {"paths": [str(t) for t in targets]}
    return outcome(entry, value=[str(t) for t in targets], data=data, notes=notes)


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
        help="the plan in markdown with a ```yaml block and a runs table (notebook: the cell)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing summary")
    parser.add_argument(
        "--no-yaml",
        action="store_true",
        help="write experiment_summary.md only (no plan for the scaffolders)",
    )
    parser.add_argument("--result", metavar="TEXT", help="override the markdown's Result: line")
    explain_argument(parser)


VERBS = (
    Verb(
        "summary",
        summary,
        _grammar,
        "CREATE_SUMMARY: write experiment_summary.md and experiment_summary.yaml (the "
        "scaffolders' plan) from the plan plus what the log holds.",
        "designlog summary plan.md --log /scratch/me/cap_8L_lora_comparison_2025-10-22",
        needs_log=True,
        cell="markdown",
    ),
)
