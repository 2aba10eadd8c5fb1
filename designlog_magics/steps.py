"""One function per design step: parsed arguments and the session's bindings in; the entry, what
to show, and the value for the user's namespace out.

The magics and the ``designlog`` verbs both call these, so a notebook and a batch script write the
same entry for the same check. A step asks the probes for facts and words them; it never appends,
displays or touches IPython. Its errors are :class:`StepError` lines, which each edge prefixes with
its own name.

Every ``Command:`` a step writes is what was run (a cell's own shell command, as written), or a
command that reproduces the ``Result:`` exactly: the ``designlog`` verb that computes the figure
(``designlog verify``, ``designlog speed``, ``designlog search --limit``, ``designlog disk
--need``), or the familiar form where running it gives the same answer (``find`` for an
unlimited search: the same set of runs; ``df -h`` without a need: the same free space).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import re
import shlex
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .commandline import option, quote_path, verb_command
from .display import StepView
from .entry import ACTION_NAME_RE, Entry, EntryError, field_name, new_entry
from .exceptions import StepError
from .expansion import Expanded, collapse_paths, expand, format_template
from .spec import calc_brief, default_explanation

HAND_WRITTEN = "written by hand"
WORKING_DIRECTORY = "Working Directory"


class Progress(Protocol):
    def update(self, detail: str) -> None: ...


class _Quiet:
    def update(self, detail: str) -> None:
        pass


@contextlib.contextmanager
def quiet_progress(label: str) -> Iterator[Progress]:
    """The progress of a step nobody watches (the command line, replay)."""
    yield _Quiet()


@dataclass
class StepContext:
    """What a step may know of the session: path names, the user's variables, the log so far."""

    paths: Mapping[str, str] = field(default_factory=dict)  # experiment_dir included
    namespace: MutableMapping[str, Any] = field(default_factory=dict)
    entries: Callable[[], Sequence[Entry]] = lambda: ()
    experiment_dir: Path | None = None
    command_timeout: float = 120.0
    progress: Callable[[str], contextlib.AbstractContextManager[Progress]] = quiet_progress

    def expand(self, text: str) -> Expanded:
        return expand(text, self.namespace, self.paths)

    def run_path(self, written: str) -> str:
        """A path argument as the machine sees it (placeholders and ``~`` expanded)."""
        return os.path.expanduser(expand(written, {}, self.paths).run)

    def log_path(self, run_path: str) -> str:
        """A path as the log keeps it: absolute, and under a bound directory a placeholder."""
        return collapse_paths(os.path.abspath(run_path), self.paths)

    def require_dir(self) -> Path:
        if self.experiment_dir is None:
            raise StepError("no design log yet: start one with an experiment directory")
        return self.experiment_dir


@dataclass
class StepOutcome:
    """A step's result: the entry to append (None: nothing to log), the view, and values."""

    entry: Entry | None
    view: StepView = field(default_factory=StepView)
    value: Any = None  # what ``-o VAR`` receives
    data: Any = None  # what ``--json`` prints
    figure: str | None = None  # an SVG the edge shows beside the view

    @property
    def result(self) -> str:
        return (self.entry.get("Result") if self.entry else None) or ""


def _entry(action: str, brief: str, fields: Any = None, **keywords: Any) -> Entry:
    try:
        return new_entry(action, brief, fields, **keywords)
    except EntryError as exc:
        raise StepError(str(exc)) from None


def _facts(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


# -- verify ---------------------------------------------------------------------------------
def verify_action(kind: str) -> str:
    """``MODEL`` -> ``VERIFY_MODEL``; refuses anything that is not a word."""
    action = kind.upper() if kind.upper().startswith("VERIFY_") else f"VERIFY_{kind.upper()}"
    if not ACTION_NAME_RE.fullmatch(action):
        raise StepError(f"KIND must be a word such as MODEL or DATASET, not {kind!r}")
    return action


def verify(args: argparse.Namespace, ctx: StepContext, cell: str | None = None) -> StepOutcome:
    """VERIFY_<KIND>: a path checked by the package, or the cell's own shell commands."""
    from .probes.paths import verify_path

    action = verify_action(args.kind)
    explanation = default_explanation(action, args.explain)
    if cell is not None:
        run = run_cell_commands(cell, ctx, args.timeout)
        if run.entry_fields is None:
            return StepOutcome(None, run.view)
        name = args.target or _last_operand(run.logged[0]) or action.removeprefix("VERIFY_").lower()
        entry = _entry(action, f"Checking {name}", run.entry_fields, explanation=explanation)
        return StepOutcome(entry, run.view)
    if not args.target:
        raise StepError("give the path to check, e.g. MODEL {models_dir}/Llama-3.2-1B-Instruct")
    path = ctx.run_path(args.target)
    with ctx.progress(f"checking {path}") as progress:
        facts = verify_path(path, progress=lambda n: progress.update(f"{n:,} files"))
    entry = _entry(
        action,
        f"Checking {Path(path).name}",
        command=verb_command(
            "verify", action.removeprefix("VERIFY_"), quote_path(ctx.log_path(path))
        ),
        result=facts.summary(),
        error=None if facts.ok else facts.error,
        explanation=explanation,
    )
    return StepOutcome(entry, StepView(notes=[f"checked {path}"]), facts, _facts(facts))


# -- a cell's own shell commands --------------------------------------------------------------
@dataclass
class CellRun:
    """The commands of a cell as run: what to show, and the fields of the entry (None: none)."""

    view: StepView
    logged: list[str]
    found_lines: list[str]
    entry_fields: list[tuple[str, str]] | None


def run_cell_commands(cell: str, ctx: StepContext, timeout: float | None) -> CellRun:
    """Run each command of a cell with bash; job status checks are run and shown, not logged.

    The entry gets one ``Command:`` line and one ``Result:`` line per logged command, in order,
    so a reader (and replay) can pair them, and the ``Working Directory:`` they ran in (relative
    paths in a user's command mean nothing without it).
    """
    from .probes.commands import is_job_status_check, run_command, split_commands, summarize

    commands = split_commands(cell)
    if not commands:
        raise StepError("the cell has no command to run")
    view = StepView()
    logged: list[str] = []
    summaries: list[str] = []
    errors: list[str] = []
    found: list[str] = []
    for command in commands:
        expanded = ctx.expand(command)
        with ctx.progress(f"running {expanded.run[:60]}") as progress:
            outcome = run_command(
                expanded.run,
                timeout=timeout or ctx.command_timeout,
                on_output=progress.update,
            )
        view.outputs.append((expanded.run, outcome.stdout, outcome.stderr))
        if is_job_status_check(expanded.run):
            view.notes.append(
                f"not logged: {command.split()[0]} is a job status check, "
                "which the design log leaves out"
            )
            continue
        logged.append(expanded.logged)
        summaries.append(summarize(expanded.run, outcome))
        found.extend(line.strip() for line in outcome.stdout.splitlines() if line.strip())
        if not outcome.ok:
            errors.append(outcome.error or "failed")
    if not logged:
        return CellRun(view, logged, found, None)
    fields = [("Command", "\n".join(logged)), ("Result", "\n".join(summaries))]
    if errors:
        fields.append(("Error", "; ".join(errors)))
    fields.append((WORKING_DIRECTORY, ctx.log_path(os.getcwd())))
    return CellRun(view, logged, found, fields)


def _last_operand(command: str) -> str | None:
    words = [w for w in command.split() if not w.startswith("-") and w not in ("|",)]
    if len(words) < 2:
        return None
    return os.path.basename(words[1].rstrip("/")) or None


# -- search ---------------------------------------------------------------------------------
def search(args: argparse.Namespace, ctx: StepContext, cell: str | None = None) -> StepOutcome:
    """SEARCH_PRIOR_RUNS: the scratch tree (find's semantics), accounting, or a cell's find."""
    from .probes.runs import describe_runs

    explanation = default_explanation("SEARCH_PRIOR_RUNS", args.explain)
    if args.limit is not None and args.limit < 1:
        raise StepError("--limit must be 1 or more")
    if cell is not None:
        run = run_cell_commands(cell, ctx, args.timeout)
        if run.entry_fields is None:
            return StepOutcome(None, run.view)
        fields = [
            (k, describe_runs(run.found_lines) if k == "Result" else v) for k, v in run.entry_fields
        ]
        entry = _entry(
            "SEARCH_PRIOR_RUNS", "Looking for similar experiments", fields, explanation=explanation
        )
        return StepOutcome(entry, run.view, run.found_lines, run.found_lines)
    if args.sacct:
        return _search_sacct(args, explanation)
    if not args.root:
        raise StepError("give ROOT, the tree to search (or --sacct)")
    from .probes.runs import DEFAULT_MIN_SIZE, DEFAULT_NAME, find_command, search_runs

    root = ctx.run_path(args.root)
    name = args.name or DEFAULT_NAME
    like = like_from_words(args.like or [])
    if like:
        return _search_like(args, ctx, root, name, like, explanation)
    if args.min_size is None:
        args.min_size = DEFAULT_MIN_SIZE
    try:
        with ctx.progress(f"searching {root}") as progress:
            found = search_runs(
                root,
                name=name,
                path=args.path,
                min_size=args.min_size,
                limit=args.limit,
                progress=lambda n: progress.update(f"{n:,} entries"),
            )
    except FileNotFoundError:
        raise StepError(f"no such directory: {root}") from None
    except ValueError as exc:
        raise StepError(str(exc)) from None
    written = ctx.log_path(root)
    if args.limit is None:
        command = find_command(written, name, args.path, args.min_size)
    else:
        command = verb_command("search", quote_path(written), *_search_options(args, name))
    view = StepView(notes=[f"searched {root}"])
    view.outputs.append(("find …", "\n".join(found.paths), ""))
    notes = [f"skipped {p}: {reason}" for p, reason in found.skipped]
    view.notes.extend(notes)
    entry = _entry(
        "SEARCH_PRIOR_RUNS",
        "Looking for similar experiments",
        command=command,
        result=found.summary(),
        note="; ".join(notes) if notes else None,
        explanation=explanation,
    )
    return StepOutcome(entry, view, list(found.paths), list(found.paths))


def _search_options(args: argparse.Namespace, name: str) -> list[str]:
    from .probes.runs import DEFAULT_MIN_SIZE, DEFAULT_NAME, DEFAULT_PATH

    words = []
    if name != DEFAULT_NAME:
        words.append(option("--name", name))
    if args.path != DEFAULT_PATH:
        words.append(option("--path", args.path))
    if args.min_size is not None and (args.min_size != DEFAULT_MIN_SIZE or args.like):
        words.append(option("--min-size", args.min_size))
    if args.limit is not None:
        words.append(option("--limit", args.limit))
    if args.like:
        words.append("--like")
        words.extend(shlex.quote(word) for word in args.like)
    return words


def _search_like(
    args: argparse.Namespace,
    ctx: StepContext,
    root: str,
    name: str,
    like: Mapping[str, str],
    explanation: str | None,
) -> StepOutcome:
    """Prior runs ranked by how like the plan they are; a failed run is listed, never used."""
    from .display import RunTable
    from .probes.runtable import describe_ranking, search_like

    try:
        with ctx.progress(f"reading the runs under {root}") as progress:
            found, ranked = search_like(
                root,
                like,
                name=name,
                path=args.path,
                min_size=args.min_size,
                limit=args.limit,
                progress=lambda done, total: progress.update(f"{done:,} of {total:,} runs"),
            )
    except FileNotFoundError:
        raise StepError(f"no such directory: {root}") from None
    except ValueError as exc:
        raise StepError(str(exc)) from None
    command = verb_command("search", quote_path(ctx.log_path(root)), *_search_options(args, name))
    table = RunTable(ranked)
    view = StepView(notes=[f"searched {root}"])
    view.outputs.append(("runs, best match first", table.text(), ""))
    entry = _entry(
        "SEARCH_PRIOR_RUNS",
        "Looking for similar experiments",
        command=command,
        result=describe_ranking(ranked),
        explanation=explanation,
    )
    return StepOutcome(entry, view, table, table.as_json())


def _search_sacct(args: argparse.Namespace, explanation: str | None) -> StepOutcome:
    from .probes import slurm

    try:
        query = slurm.query_jobs(name=args.name, since=args.since, user=args.user)
    except slurm.SlurmError as exc:
        raise StepError(f"--sacct: {exc}") from None
    listing = "\n".join(
        f"{j.job_id}|{j.name}|{j.state}|{j.elapsed}|{j.workdir}" for j in query.jobs
    )
    view = StepView(notes=["searched SLURM accounting"], outputs=[(query.command, listing, "")])
    entry = _entry(
        "SEARCH_PRIOR_RUNS",
        "Looking for similar experiments in accounting",
        command=query.command,
        result=query.summary(),
        explanation=explanation,
    )
    jobs = list(query.usable)
    return StepOutcome(entry, view, jobs, [_facts(j) for j in query.jobs])


# -- speed ----------------------------------------------------------------------------------
_JOB_ID_RE = re.compile(r"\d+(?:_\d+)?")


class RunSpeed(float):
    """What ``%log_speed -o VAR`` stores: the it/s to plan with, and the run's other figures.

    It is a float (``steps / speed`` works as before), and ``speed.tokens_per_s`` gives the
    tokens per second per GPU, for estimates that divide tokens instead of steps.
    """

    its: float
    tokens_per_s: float | None
    run: str
    outcome: str
    config: dict[str, Any]

    def __new__(cls, its: float, **facts: Any) -> RunSpeed:
        value = super().__new__(cls, its)
        value.its = its
        value.tokens_per_s = facts.get("tokens_per_s")
        value.run = facts.get("run") or ""
        value.outcome = facts.get("outcome") or ""
        value.config = facts.get("config") or {}
        return value


def _resolve_source(source: str, ctx: StepContext, notes: list[str]) -> str:
    if _JOB_ID_RE.fullmatch(source):
        from .probes import slurm

        try:
            path = slurm.resolve_output(source)
        except slurm.SlurmError as exc:
            raise StepError(f"job {source}: {exc}") from None
        notes.append(f"job {source}: {path}")
    else:
        path = ctx.run_path(source)
    if not os.path.isfile(path):
        raise StepError(f"no such file: {path}")
    return path


def speed(args: argparse.Namespace, ctx: StepContext) -> StepOutcome:
    """EXTRACT_SPEED: how fast a prior run went (it/s and tokens/s), what it was and how it
    ended; for an inspect-ai evaluation, its time, tokens and samples per second."""
    from .figures import speed_figure
    from .probes.evals import looks_like_eval
    from .probes.runfacts import read_run_facts
    from .probes.speed import extract_speed
    from .probes.tokens import read_tokens_per_second

    notes: list[str] = []
    path = _resolve_source(args.source, ctx, notes)
    words = [quote_path(ctx.log_path(path))] + (["--full"] if args.full else [])
    if getattr(args, "like", None):
        words += ["--like", *(shlex.quote(word) for word in args.like)]
    command = verb_command("speed", *words)
    if looks_like_eval(path):
        return _eval_speed(path, command, args, notes)
    try:
        with ctx.progress(f"reading {Path(path).name}") as progress:
            report = extract_speed(
                path,
                mode="full" if args.full else "auto",
                progress=lambda done, total: progress.update(
                    f"{done / 1e6:,.0f} of {total / 1e6:,.0f} MB"
                ),
            )
    except OSError as exc:
        raise StepError(f"cannot read {path}: {exc.strerror}") from None
    facts = read_run_facts(path)
    config = facts.config
    output_dirs = [config.output_dir] if config is not None and config.output_dir else []
    tokens = read_tokens_per_second(path, output_dirs=output_dirs)
    run_name = next((p for p in reversed(Path(path).parts[:-1]) if p.startswith("ck-out-")), None)
    brief = f"Analyzing {run_name or 'prior run'} for training speed"
    like = like_from_words(getattr(args, "like", None) or [])
    its = report.plan_its
    warning = _transfer_warning(path, facts, its, tokens, like) if like else None
    entry = _entry(
        "EXTRACT_SPEED",
        brief,
        command=command,
        result=report.summary(),
        run=config.describe() if config is not None else None,
        outcome=_outcome_text(facts.outcome) if facts.outcome.state != "unknown" else None,
        tokens=_tokens_text(tokens) if tokens.tokens_per_s else None,
        warning=warning,
        error=None if report.ok else report.error,
        explanation=default_explanation("EXTRACT_SPEED", args.explain),
    )
    view = StepView(notes=[*notes, report.detail()])
    value = None
    if report.ok and its:
        value = RunSpeed(
            its,
            tokens_per_s=tokens.tokens_per_s,
            run=run_name or "",
            outcome=facts.outcome.state,
            config=dict(config.raw) if config is not None else {},
        )
    data = {
        **_facts(report),
        "plan_its": its,
        "tokens": _facts(tokens),
        "config": _facts(config),
        "outcome": _facts(facts.outcome),
    }
    return StepOutcome(entry, view, value, data, figure=speed_figure(report, tokens))


def _outcome_text(outcome: Any) -> str:
    """How the run ended, as a planner reads it: a killed run's speed still counts."""
    what = {
        "completed": "completed",
        "timeout": "killed at its time limit",
        "cancelled": "cancelled",
        "oom": "ran out of memory",
        "failed": "crashed",
        "running": "still running",
    }.get(outcome.state, outcome.state)
    done = outcome.describe().partition(": ")[2]
    text = f"{what} ({done})" if done else what
    if outcome.state in ("timeout", "cancelled", "running"):
        text += "; the speed of the steps it ran still counts"
    if outcome.state in ("oom", "failed") and outcome.detail:
        text += f": {outcome.detail}"
    return text


def _tokens_text(tokens: Any) -> str:
    figure = f"{tokens.tokens_per_s:,.0f} tokens/s per GPU"
    if tokens.kind == "last-step":
        return f"{figure} (the last step's value in the wandb summary, not a mean)"
    source = "torchtune's metric log" if "disk-log" in (tokens.source or "") else "the output"
    return (
        f"{figure} (median of {tokens.samples:,} steps after {tokens.excluded_warmup:,} "
        f"warmup, from {source})"
    )


def _eval_speed(path: str, command: str, args: argparse.Namespace, notes: list[str]) -> StepOutcome:
    from .probes.evals import read_eval_run

    run = read_eval_run(path)
    ok = run.total_seconds is not None
    entry = _entry(
        "EXTRACT_SPEED",
        f"Analyzing {run.task or Path(path).name} for evaluation throughput",
        command=command,
        result=run.summary() if ok else "Failed: no evaluation summary found",
        error=None if ok else run.error or "no evaluation summary found",
        explanation=args.explain
        or "Measuring evaluation throughput so evaluation time is estimated from a run",
    )
    return StepOutcome(entry, StepView(notes=notes), run if ok else None, _facts(run))


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


def _transfer_warning(
    path: str, facts: Any, its: float | None, tokens: Any, like: Mapping[str, str]
) -> str | None:
    from .probes.runtable import record_from_facts, transfer_warning

    try:
        warning: str | None = transfer_warning(record_from_facts(path, facts, its, tokens), like)
        return warning
    except ValueError as exc:
        raise StepError(f"--like: {exc}") from None


# -- calculations ---------------------------------------------------------------------------
def calculate(
    source: str,
    ctx: StepContext,
    *,
    action: str | None = None,
    brief: str | None = None,
    template: str | None = None,
    explain: str | None = None,
    line_form: bool = False,
) -> StepOutcome:
    """CALCULATE_TIME (or another action): run the user's Python and log inputs and steps.

    ``template`` (``--result``) is formatted after the calculation ran, with its variables.
    """
    from .probes.calc import CalculationError, evaluate_assignment, run_calculation

    action = (action or "CALCULATE_TIME").upper()
    try:
        if line_form:
            facts = evaluate_assignment(source, ctx.namespace)
        else:
            facts = run_calculation(source, ctx.namespace)
    except CalculationError as exc:
        raise StepError(f"{exc}; nothing was logged") from None
    if template:
        try:
            result = format_template(template, ctx.namespace)
        except ValueError as exc:
            raise StepError(f"--result: {exc}; nothing was logged") from None
    else:
        result = facts.default_result()
    entry = _entry(
        action,
        brief or calc_brief(action),
        input=facts.input_text() or None,
        calculation=facts.calculation_text() or None,
        result=result,
        explanation=explain,
    )
    return StepOutcome(entry, StepView(), facts, _facts(facts))


# -- disk -----------------------------------------------------------------------------------
def disk(args: argparse.Namespace, ctx: StepContext) -> StepOutcome:
    """CHECK_DISK: free space where checkpoints go, and with a need whether it is enough."""
    from .probes.disk import check_disk

    path = ctx.run_path(args.path)
    written = quote_path(ctx.log_path(path))
    if args.need:
        command = verb_command("disk", written, option("--need", args.need))
        explanation = args.explain or f"Ensuring sufficient space for ~{args.need} of checkpoints"
    else:
        command = f"df -h {written}"
        explanation = default_explanation("CHECK_DISK", args.explain)
    try:
        facts = check_disk(path, args.need)
    except ValueError as exc:
        raise StepError(f"--need: {exc}") from None
    except OSError as exc:
        missing = isinstance(exc, FileNotFoundError)
        entry = _entry(
            "CHECK_DISK",
            "Verifying available disk space",
            command=command,
            result="Failed: path does not exist" if missing else "Failed: cannot check",
            error=f"{path}: {exc.strerror}",
            explanation=explanation,
        )
        return StepOutcome(entry)
    result = facts.summary()
    warning = (
        f"not enough space: {result.removeprefix('Warning: ')}" if facts.enough is False else None
    )
    entry = _entry(
        "CHECK_DISK",
        "Verifying available disk space",
        command=command,
        result=result,
        warning=warning,
        explanation=explanation,
    )
    data = {**_facts(facts), "enough": facts.enough}
    return StepOutcome(entry, StepView(notes=[f"checked {path}"]), facts, data)


# -- decisions ------------------------------------------------------------------------------
def decide(args: argparse.Namespace, ctx: StepContext, cell: str | None = None) -> StepOutcome:
    """DECIDE_NAMING (or DECIDE_<WHAT>): a decision, its reasoning, and the naming check."""
    from .probes.naming import naming_problems

    action = args.action.upper()
    if not ACTION_NAME_RE.fullmatch(action):
        raise StepError(f"invalid action type {args.action!r}")
    fields: list[tuple[str, str]] = []
    if args.decision is not None:
        fields.append(("Decision", args.decision))
    if args.reasoning is not None:
        fields.append(("Reasoning", args.reasoning))
    if cell is not None:
        fields.extend(cell_fields(ctx.expand(cell).logged))
    if args.explain is not None:
        fields.append(("Explanation", args.explain))
    decision = next((v for k, v in fields if k == "Decision"), None)
    if not decision:
        raise StepError("give --decision D (or a Decision: line in the cell)")
    if not any(k == "Reasoning" for k, _ in fields):
        raise StepError("give --reasoning R (or a Reasoning: line)")
    if action == "DECIDE_NAMING":
        problems = naming_problems(decision.strip())
        if problems:
            fields.append(("Warning", "name breaks the convention: " + "; ".join(problems)))
    brief = " ".join(args.words) or (
        "Experiment name chosen" if action == "DECIDE_NAMING" else "Decision made"
    )
    return StepOutcome(_entry(action, brief, fields))


def cell_fields(body: str) -> list[tuple[str, str]]:
    """``Key: value`` lines of a cell (later unindented lines continue the value)."""
    fields: list[list[str]] = []
    for raw in body.splitlines():
        match = re.match(r"^([A-Za-z][A-Za-z0-9 _-]{0,47}):\s?(.*)$", raw)
        if match and not raw.startswith((" ", "\t")):
            fields.append([match.group(1).strip(), match.group(2)])
        elif fields:
            fields[-1][1] += "\n" + raw.strip()
        elif raw.strip():
            raise StepError(
                "the cell holds Key: value lines, e.g. 'Decision: cap_8L_lora_2025-10-22'"
            )
    return [(k, v.strip("\n")) for k, v in fields]


def naming(name: str) -> StepOutcome:
    """The naming convention check alone (``designlog naming``): nothing to log."""
    from .probes.naming import naming_problems

    problems = naming_problems(name.strip())
    text = (
        f"{name} follows the convention task_factor_YYYY-MM-DD"
        if not problems
        else f"{name} breaks the convention: " + "; ".join(problems)
    )
    return StepOutcome(None, StepView(notes=[text]), problems, {"name": name, "problems": problems})


# -- summary --------------------------------------------------------------------------------
def summary(args: argparse.Namespace, ctx: StepContext, markdown: str) -> StepOutcome:
    """CREATE_SUMMARY: write experiment_summary.md from the plan plus sections from the log."""
    from .summary import SUMMARY_FILENAME, build_summary, summary_result

    directory = ctx.require_dir()
    if not markdown.strip():
        raise StepError("the cell is empty; write the plan in markdown")
    target = directory / SUMMARY_FILENAME
    if target.exists() and not args.force:
        raise StepError(f"{target} already exists; use --force to overwrite it")
    content = build_summary(markdown, ctx.entries())
    command = f"Created {ctx.log_path(str(target))}"
    explanation = default_explanation("CREATE_SUMMARY", args.explain)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(content, encoding="utf-8")
        os.replace(temporary, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        entry = _entry(
            "CREATE_SUMMARY",
            "Writing experiment plan",
            command=command,
            result="Failed: summary not written",
            error=f"{target}: {exc.strerror}",
            explanation=explanation,
        )
        return StepOutcome(entry)
    entry = _entry(
        "CREATE_SUMMARY",
        "Writing experiment plan",
        command=command,
        result=args.result or summary_result(markdown),
        explanation=explanation,
    )
    view = StepView(notes=[f"wrote {target} ({len(content.encode()):,} bytes)"])
    return StepOutcome(entry, view, str(target))


# -- complete -------------------------------------------------------------------------------
def complete(args: argparse.Namespace, ctx: StepContext) -> StepOutcome:
    """COMPLETE: always written; what the audit finds missing goes in a ``Warning:``."""
    from .audit import unsettled_failures
    from .spec import missing_steps

    entries = ctx.entries()
    problems = [f"missing: {m}" for m in missing_steps(entries)]
    problems += [f.message for f in unsettled_failures(entries)]
    note = (
        "Before COMPLETE, the log lacks: " + "; ".join(problems)
        if problems
        else "Audit before COMPLETE: every expected step is logged"
    )
    entry = _entry(
        "COMPLETE",
        "Experiment design finished",
        status=args.status,
        next_steps=args.next_steps,
        warning="; ".join(problems) if problems else None,
        explanation=default_explanation("COMPLETE", args.explain),
    )
    return StepOutcome(entry, StepView(notes=[note]), problems)


# -- any other entry ------------------------------------------------------------------------
def any_entry(args: argparse.Namespace, ctx: StepContext) -> StepOutcome:
    """An entry whose fields the user writes (``%log_entry``, ``designlog add``).

    One that carries a ``Command:`` is marked ``Origin: written by hand``: its Result was not
    computed by the package, so replay does not take it for a check it can repeat.
    """
    fields = []
    for item in args.fields:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise StepError(f"fields are KEY=VALUE, not {item!r}")
        fields.append((field_name(key.strip()), value))
    if getattr(args, "explain", None) is not None:
        fields.append(("Explanation", args.explain))
    if any(k == "Command" for k, _ in fields) and not any(k == "Origin" for k, _ in fields):
        fields.append(("Origin", HAND_WRITTEN))
    return StepOutcome(_entry(args.action, args.brief, fields))
