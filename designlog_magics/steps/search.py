"""SEARCH_PRIOR_RUNS: prior runs' SLURM outputs in the scratch tree (find's semantics), ranked
against the plan with ``--like``, found in SLURM accounting with ``--sacct``, or a cell's own
``find``/``grep``."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Mapping, Sequence

from ..commandline import option, quote_path, verb_command
from ..exceptions import StepError
from ..spec import default_explanation
from .base import StepContext, StepOutcome, facts_of, make_entry, outcome
from .runlist import RunTable
from .shell import run_cell_commands
from .table import Verb, explain_argument

ACTION = "SEARCH_PRIOR_RUNS"
BRIEF = "Looking for similar experiments"
DEFAULT_PATH = "*/ck-out-*"


def search(
    ctx: StepContext,
    *,
    root: str | None = None,
    name: str | None = None,
    path: str = DEFAULT_PATH,
    min_size: str | None = None,
    limit: int | None = None,
    sacct: bool = False,
    since: str | None = None,
    user: str | None = None,
    like: Sequence[str] | None = None,
    explain: str | None = None,
    cell: str | None = None,
    timeout: float | None = None,
) -> StepOutcome:
    """The scratch tree (find's semantics), accounting, or a cell's own find."""
    from ..probes.runs import (
        DEFAULT_MIN_SIZE,
        DEFAULT_NAME,
        describe_runs,
        find_command,
        search_runs,
    )

    explanation = default_explanation(ACTION, explain)
    if limit is not None and limit < 1:
        raise StepError("--limit must be 1 or more")
    if cell is not None:
        run = run_cell_commands(cell, ctx, timeout)
        if run.entry_fields is None:
            return StepOutcome(notes=run.notes, outputs=run.outputs)
        fields = [
            (k, describe_runs(run.found_lines) if k == "Result" else v) for k, v in run.entry_fields
        ]
        entry = make_entry(ACTION, BRIEF, fields, explanation=explanation)
        return outcome(
            entry, value=run.found_lines, data=run.found_lines, notes=run.notes, outputs=run.outputs
        )
    if sacct:
        return _search_sacct(name, since, user, explanation)
    if not root:
        raise StepError("give ROOT, the tree to search (or --sacct)")
    tree = ctx.run_path(root)
    name = name or DEFAULT_NAME
    plan = like_from_words(like or [])
    options = _search_options(name, path, min_size, limit, like)
    if plan:
        return _search_like(ctx, tree, name, path, min_size, limit, plan, options, explanation)
    min_size = DEFAULT_MIN_SIZE if min_size is None else min_size
    try:
        with ctx.progress(f"searching {tree}") as progress:
            found = search_runs(
                tree,
                name=name,
                path=path,
                min_size=min_size,
                limit=limit,
                progress=lambda n: progress.update(f"{n:,} entries"),
            )
    except FileNotFoundError:
        raise StepError(f"no such directory: {tree}") from None
    except ValueError as exc:
        raise StepError(str(exc)) from None
    written = ctx.log_path(tree)
    if limit is None:
        command = find_command(written, name, path, min_size)
    else:
        command = verb_command("search", quote_path(written), *options)
    notes = [f"skipped {p}: {reason}" for p, reason in found.skipped]
    entry = make_entry(
        ACTION,
        BRIEF,
        command=command,
        result=found.summary(),
        note="; ".join(notes) if notes else None,
        explanation=explanation,
    )
    return outcome(
        entry,
        value=list(found.paths),
        data=list(found.paths),
        notes=[f"searched {tree}", *notes],
        outputs=[("find …", "\n".join(found.paths), "")],
    )


def _search_options(
    name: str, path: str, min_size: str | None, limit: int | None, like: Sequence[str] | None
) -> list[str]:
    """The options a ``designlog search`` Command repeats (defaults left out)."""
    from ..probes.runs import DEFAULT_MIN_SIZE, DEFAULT_NAME

    words = []
    if name != DEFAULT_NAME:
        words.append(option("--name", name))
    if path != DEFAULT_PATH:
        words.append(option("--path", path))
    if min_size is not None and (min_size != DEFAULT_MIN_SIZE or like):
        words.append(option("--min-size", min_size))
    if limit is not None:
        words.append(option("--limit", limit))
    if like:
        words.append("--like")
        words.extend(shlex.quote(word) for word in like)
    return words


def _search_like(
    ctx: StepContext,
    tree: str,
    name: str,
    path: str,
    min_size: str | None,
    limit: int | None,
    plan: Mapping[str, str],
    options: list[str],
    explanation: str | None,
) -> StepOutcome:
    """Prior runs ranked by how like the plan they are; a failed run is listed, never used."""
    from ..probes.runtable import describe_ranking, search_like

    try:
        with ctx.progress(f"reading the runs under {tree}") as progress:
            _, ranked = search_like(
                tree,
                plan,
                name=name,
                path=path,
                min_size=min_size,
                limit=limit,
                progress=lambda done, total: progress.update(f"{done:,} of {total:,} runs"),
            )
    except FileNotFoundError:
        raise StepError(f"no such directory: {tree}") from None
    except ValueError as exc:
        raise StepError(str(exc)) from None
    table = RunTable(ranked)
    entry = make_entry(
        ACTION,
        BRIEF,
        command=verb_command("search", quote_path(ctx.log_path(tree)), *options),
        result=describe_ranking(ranked),
        explanation=explanation,
    )
    return outcome(
        entry,
        value=table,
        data=table.as_json(),
        notes=[f"searched {tree}"],
        outputs=[("runs, best match first", table.text(), "")],
    )


def _search_sacct(
    name: str | None, since: str | None, user: str | None, explanation: str | None
) -> StepOutcome:
    from ..probes import slurm

    try:
        query = slurm.query_jobs(name=name, since=since, user=user)
    except slurm.SlurmError as exc:
        raise StepError(f"--sacct: {exc}") from None
    listing = "\n".join(
        f"{j.job_id}|{j.name}|{j.state}|{j.elapsed}|{j.workdir}" for j in query.jobs
    )
    entry = make_entry(
        ACTION,
        "Looking for similar experiments in accounting",
        command=query.command,
        result=query.summary(),
        explanation=explanation,
    )
    return outcome(
        entry,
        value=list(query.usable),
        data=[facts_of(j) for j in query.jobs],
        notes=["searched SLURM accounting"],
        outputs=[(query.command, listing, "")],
    )


def like_from_words(words: Sequence[str]) -> dict[str, str]:
    """``batch_size=4 model=Llama-3.2-1B-Instruct`` to a mapping (values as written)."""
    like: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise StepError(
                f"--like takes KEY=VALUE (a torchtune config key or model=), not {word!r}"
            )
        like[key.strip()] = value.strip()
    return like


def like_argument(parser: argparse.ArgumentParser, help: str) -> None:
    """``--like KEY=VALUE ...``: the plan a prior run is compared with."""
    parser.add_argument(
        "--like",
        nargs="+",
        metavar="KEY=VALUE",
        help=help + " (keys as in the torchtune config, plus model=)",
    )


def _grammar(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", nargs="?", metavar="ROOT", help="the scratch tree to search")
    parser.add_argument(
        "--name", help="file name glob (default slurm-*.out); with --sacct, the job name pattern"
    )
    parser.add_argument("--path", default=DEFAULT_PATH, help=f"path glob (default {DEFAULT_PATH})")
    parser.add_argument(
        "--min-size",
        default=None,
        help="like find -size (default +100k; with --like none, so runs that died early show)",
    )
    parser.add_argument("--limit", type=int, metavar="N", help="the first N matches by path")
    parser.add_argument(
        "--sacct", action="store_true", help="search SLURM accounting instead of the file tree"
    )
    parser.add_argument("--since", metavar="DATE", help="with --sacct: jobs started since DATE")
    parser.add_argument("--user", metavar="USER", help="with --sacct: jobs of USER")
    like_argument(parser, "rank the runs found by how like the plan they are")
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help=argparse.SUPPRESS)
    explain_argument(parser)


VERBS = (
    Verb(
        "search",
        search,
        _grammar,
        "SEARCH_PRIOR_RUNS: prior runs' SLURM outputs, as find -name slurm-*.out -path "
        "*/ck-out-* -size +100k finds them (or ranked --like the plan, or --sacct).",
        "designlog search /scratch/me --like model=Llama-3.2-1B-Instruct batch_size=4",
        reads_only=True,
        paths=("root",),
        cell="cell",
        output=True,
        notebook_only=("cell", "timeout"),
    ),
)
