"""A table of prior runs, and which of them a plan can take its speed from.

Why: the speed a plan uses should come from a run like the one planned. it/s depends on the
model, the batch size, the accumulation steps and the sequence length, so a run that
differs in any of them gives a wrong estimate; a run that died at its first step has no
speed at all but is exactly what a planner must see (the plan may run out of memory too).

``record_run`` reads one SLURM output as little as it must, each part once
(``prior_run``): the config at its head and how it ended at its tail (``runfacts``), its
it/s from sampled regions (``speed``; none for a run that never trained) and its tokens/s
per GPU (``tokens``, sampled too). ``read_runs`` does
that for many, with the facts of unchanged files kept in the cache (``cache``).
``rank_runs`` orders them against a plan (``--like batch_size=4 ...``): same model, batch
size and accumulation first, then sequence length, then completed before killed (time limit,
cancelled) before failed, then runs long enough for a steady figure before smoke tests,
then the newest.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .runfacts import RunConfig, RunFacts, RunOutcome, model_key, read_run_facts, same_model
from .runs import DEFAULT_NAME, DEFAULT_PATH, RunSearch, run_name, search_runs
from .tokens import TokenRate

STEADY_STEPS = 200  # fewer optimizer steps: a smoke test (the warmup may not even be over)
NEVER_TRAINED = ("failed", "oom")  # with no step done: no speed to read
UNUSABLE = ("failed", "oom")  # never used for an estimate, whatever speed they showed
ALSO_LISTED = 6  # other usable runs named in the Result line
CORE_KEYS = ("model", "batch_size", "gradient_accumulation_steps", "max_seq_len")


# ---------------------------------------------------------------------------------------
# one run


@dataclass(frozen=True)
class RunRecord:
    """One prior run: what it was, how it ended, and the speeds to plan with."""

    path: str
    run: str  # the ck-out-* directory's name
    job_id: str | None
    mtime: float | None
    size: int | None
    config: RunConfig | None
    outcome: RunOutcome
    its: float | None  # the figure to plan with; None when there is none (never trained)
    tokens_per_s: float | None  # per GPU
    tokens_kind: str | None  # "steady-median", "last-step" (wandb summary)
    steps_done: int | None
    error: str | None = None  # the file could not be read
    speed_error: str | None = None  # why there is no it/s

    @property
    def usable(self) -> bool:
        """Whether an estimate may use this run: it trained, ended other than by failing,
        and has a speed."""
        return self.its is not None and self.outcome.state not in UNUSABLE and not self.error

    @property
    def steady(self) -> bool:
        """Long enough for a steady figure (not a smoke test of a few steps)."""
        return (self.steps_done or 0) >= STEADY_STEPS


def record_run(path: str | os.PathLike[str]) -> RunRecord:
    """The record of the run whose SLURM output is ``path``; never raises for I/O or content.

    Read by ``read_prior_run`` (each part of the file once); a run that failed before its
    first step has no speed to plan with, whatever the speed probe saw.
    """
    from .prior_run import read_prior_run

    spath = os.fspath(path)
    try:
        prior = read_prior_run(spath, speed_mode="sampled")
    except (OSError, ValueError) as exc:  # unreadable: the facts say why
        facts = read_run_facts(spath)
        why = facts.error or f"cannot read {spath}: {getattr(exc, 'strerror', None) or exc}"
        return record_from_facts(spath, facts, None, None, why)
    facts = prior.facts
    outcome = facts.outcome
    its = None
    if prior.speed is None:
        speed_error = "an inspect eval's output, not a training run"
    elif outcome.state in NEVER_TRAINED and not outcome.steps_done:
        speed_error = f"{outcome.state} before any step was done"
    elif not prior.speed.ok or prior.speed.plan_its is None:
        speed_error = prior.speed.error or "no training progress found"
    else:
        its, speed_error = float(prior.speed.plan_its), None
    return record_from_facts(spath, facts, its, prior.tokens, speed_error)


def record_from_facts(
    path: str,
    facts: RunFacts,
    its: float | None,
    tokens: TokenRate | None,
    speed_error: str | None = None,
) -> RunRecord:
    """A record from facts already read: ``record_run`` reads them for a table, and the speed
    step has read them for its entry (so a warning against the plan reads nothing again)."""
    return RunRecord(
        path=path,
        run=run_name(path),
        job_id=facts.job_id,
        mtime=facts.mtime,
        size=facts.size,
        config=facts.config,
        outcome=facts.outcome,
        its=its,
        tokens_per_s=tokens.tokens_per_s if tokens is not None else None,
        tokens_kind=tokens.kind if tokens is not None else None,
        steps_done=facts.outcome.steps_done,
        error=facts.error,
        speed_error=speed_error,
    )


# ---------------------------------------------------------------------------------------
# JSON, for the cache


def _plain(value: Any, depth: int = 0) -> Any:
    """A YAML-loaded value made JSON-safe (dates, odd keys and non-finite floats as text)."""
    if depth > 50:
        return None
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, depth + 1) for v in value]
    return str(value)


def record_to_json(record: RunRecord) -> dict[str, Any]:
    """A JSON-safe dict that ``record_from_json`` turns back into an equal record."""
    data = asdict(record)
    if record.config is not None:
        config = data["config"]
        config["raw"] = _plain(record.config.raw)
        config["dataset_files"] = list(record.config.dataset_files)
    return _plain(data)


def record_from_json(data: Mapping[str, Any]) -> RunRecord:
    """The record ``record_to_json`` gave; ``TypeError``/``KeyError`` for anything else."""
    values = dict(data)
    config = values.get("config")
    if config is not None:
        config = dict(config)
        config["dataset_files"] = tuple(config.get("dataset_files") or ())
        values["config"] = RunConfig(**config)
    values["outcome"] = RunOutcome(**values["outcome"])
    return RunRecord(**values)


# ---------------------------------------------------------------------------------------
# many runs


def _default_cache():
    from . import cache as _cache
    from . import (
        clipping,
        evals,
        modelnames,
        prior_run,
        regions,
        runconfig,
        runend,
        runfacts,
        speed,
        tokens,
    )
    from .speed import epochs, rates, reading, report, scanner, stats

    modules = [sys.modules[__name__], prior_run, regions, runfacts, tokens, evals, speed]
    modules += [runconfig, runend, modelnames, clipping]
    modules += [epochs, rates, reading, report, scanner, stats]
    return _cache.FactCache("runs", _cache.source_version(modules))


def read_runs(
    paths: Iterable[str | os.PathLike[str]],
    *,
    cache: Any = True,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> list[RunRecord]:
    """The records of ``paths``, in their order; unchanged files' records from the cache.

    ``cache``: True for the user's cache directory (see ``cache.default_cache_dir``), a
    ``FactCache`` or a directory to keep it in, False/None for none. A record of a run still
    running is never kept (it will change). ``progress(done, total)`` as files are done.
    ``workers``: processes reading the files not in the cache (None: one per CPU, up to
    ``MAX_WORKERS``, once there are ``PARALLEL_FROM`` of them; 1: in this process).
    """
    from .cache import FactCache

    store: FactCache | None
    if cache is True:
        store = _default_cache()
    elif isinstance(cache, FactCache):
        store = cache
    elif cache:
        store = FactCache("runs", _default_cache().version, cache)
    else:
        store = None
    items = [os.fspath(p) for p in paths]
    records: list[RunRecord | None] = [None] * len(items)
    todo: list[tuple[int, os.stat_result | None]] = []
    for index, spath in enumerate(items):
        st, found = _lookup(spath, store)
        if found is not None:
            records[index] = found
        else:
            todo.append((index, st))
    done = len(items) - len(todo)
    if progress is not None and done:
        progress(done, len(items))
    for (index, st), record in zip(
        todo, _read_all([items[i] for i, _ in todo], workers), strict=True
    ):
        records[index] = record
        if store is not None and st is not None:
            if record.outcome.state != "running" and record.error is None:
                store.put(items[index], st, record_to_json(record))
        done += 1
        if progress is not None:
            progress(done, len(items))
    if store is not None:
        store.save()
    return [r for r in records if r is not None]


PARALLEL_FROM = 16  # files to read before other processes are worth starting
MAX_WORKERS = 8


def _read_all(paths: list[str], workers: int | None) -> Iterable[RunRecord]:
    """``record_run`` of each path, in order; in worker processes when there are many.

    The work is CPU-bound parsing of bytes already in the page cache, so threads would
    not help; worker processes are started with ``forkserver`` (not ``fork``: a notebook's
    kernel has threads), and any failure to start them falls back to this process.
    """
    if workers is None:
        workers = min(os.cpu_count() or 1, MAX_WORKERS) if len(paths) >= PARALLEL_FROM else 1
    if workers <= 1 or len(paths) < 2:
        yield from map(record_run, paths)
        return
    import concurrent.futures
    import multiprocessing

    try:
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else None
        context = multiprocessing.get_context(method)
        pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=context)
    except (OSError, ValueError, ImportError):
        yield from map(record_run, paths)
        return
    chunk = max(1, min(8, len(paths) // (workers * 4)))
    yielded = 0
    try:
        with pool:
            for record in pool.map(record_run, paths, chunksize=chunk):
                yielded += 1
                yield record
        return
    except (OSError, RuntimeError):  # BrokenProcessPool is a RuntimeError
        pass  # a pool that could not start its workers or lost one: the rest here
    yield from map(record_run, paths[yielded:])


def _lookup(path: str, store: Any) -> tuple[os.stat_result | None, RunRecord | None]:
    """The file's stat (the cache key) and its cached record, if the cache holds one."""
    if store is None:
        return None, None
    try:
        st = os.stat(path)
    except OSError:
        return None, None
    found = store.get(path, st)
    if found is not None:
        try:
            return st, record_from_json(found)
        except (TypeError, KeyError, ValueError, AttributeError):
            store.forget(path)
    return st, None


# ---------------------------------------------------------------------------------------
# the plan a run is compared with


@dataclass(frozen=True)
class _Key:
    attribute: str
    kind: type  # int, float, bool, str


_KNOWN: dict[str, _Key] = {
    "model": _Key("model", str),
    "batch_size": _Key("batch_size", int),
    "gradient_accumulation_steps": _Key("gradient_accumulation_steps", int),
    "max_seq_len": _Key("max_seq_len", int),
    "epochs": _Key("epochs", int),
    "max_steps_per_epoch": _Key("max_steps_per_epoch", int),
    "lora_rank": _Key("lora_rank", int),
    "lora_alpha": _Key("lora_alpha", float),
    "packed": _Key("packed", bool),
    "dataset": _Key("dataset", str),
    "dtype": _Key("dtype", str),
    "compile": _Key("compile", bool),
    "recipe": _Key("recipe", str),
}
# torchtune's own dotted names for the same settings
_ALIASES = {
    "tokenizer.max_seq_len": "max_seq_len",
    "model.lora_rank": "lora_rank",
    "model.lora_alpha": "lora_alpha",
    "dataset.packed": "packed",
    "dataset._component_": "dataset",
    "checkpointer.checkpoint_dir": "model",
    "model._component_": "model",
}
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


def known_like_keys() -> list[str]:
    """The keys a plan (``--like``) can name, torchtune's dotted forms included."""
    return [*_KNOWN, *_ALIASES]


def parse_like(like: Mapping[str, Any]) -> dict[str, Any]:
    """``{"batch_size": "4", "packed": "false"}`` -> ``{"batch_size": 4, "packed": False}``.

    Values are parsed as the config holds them (int, float, bool, text); ``ValueError``
    names an unknown key (with the known ones) or a value of the wrong kind.
    """
    parsed: dict[str, Any] = {}
    for raw_key, raw_value in like.items():
        key = _ALIASES.get(str(raw_key).strip(), str(raw_key).strip())
        spec = _KNOWN.get(key)
        if spec is None:
            known = ", ".join(known_like_keys())
            raise ValueError(f"unknown key {raw_key!r} in --like; known keys: {known}")
        parsed[key] = _parse_value(str(raw_key), raw_value, spec.kind)
    return parsed


def _parse_value(key: str, value: Any, kind: type) -> Any:
    if isinstance(value, bool) or (kind is not str and isinstance(value, int | float)):
        if kind is bool and isinstance(value, bool):
            return value
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind is float and not isinstance(value, bool):
            return int(value) if float(value).is_integer() else float(value)
    text = str(value).strip()
    if kind is str:
        if not text:
            raise ValueError(f"--like {key}= needs a value")
        return text
    if kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(f"--like {key} must be true or false, not {value!r}")
    try:
        number = float(text) if kind is float else int(text)
    except ValueError:
        what = "a number" if kind is float else "a whole number"
        raise ValueError(f"--like {key} must be {what}, not {value!r}") from None
    if kind is float and float(number).is_integer():
        return int(number)
    return number


def _dataset_matches(config_value: str | None, wanted: str) -> bool:
    if not config_value:
        return False
    names = [part.strip() for part in config_value.split(",")]
    return any(n == wanted or n.rsplit(".", 1)[-1] == wanted.rsplit(".", 1)[-1] for n in names)


def _compare(record: RunRecord, key: str, wanted: Any) -> tuple[bool, str | None]:
    """Whether the run agrees with the plan on ``key``, and if not, how it differs."""
    config = record.config
    if config is None:
        return False, f"{key} unknown (no config printed)"
    if key == "model":
        if same_model(config, wanted):
            return True, None
        have = config.model_name or config.model_component or model_key(config.model_component)
        return False, f"model {have or 'unknown'} vs {wanted}"
    have = getattr(config, _KNOWN[key].attribute)
    if key == "dataset":
        if _dataset_matches(have, wanted):
            return True, None
    elif have == wanted and isinstance(have, bool) == isinstance(wanted, bool):
        return True, None
    if have is None:
        return False, f"{key} unknown"
    return False, f"{key} {_show(have)} vs {_show(wanted)}"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---------------------------------------------------------------------------------------
# ranking

_STATE_ORDER = {"completed": 0, "timeout": 1, "cancelled": 1, "running": 2, "unknown": 2}


@dataclass(frozen=True)
class Ranked:
    """A run's place against a plan: what agrees, what differs, whether it may be used."""

    record: RunRecord
    rank: int  # 1 is the best
    key: tuple = field(repr=False)  # the sort key (smaller is better)
    matches: tuple[str, ...]  # of model, batch_size, gradient_accumulation_steps, max_seq_len
    differs: tuple[str, ...]  # "batch_size 8 vs 4", for every key of the plan that differs
    like: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def usable(self) -> bool:
        return self.record.usable

    def why(self) -> str:
        """One line: the run, what agrees or differs, how it ended, its speeds."""
        return f"{self.record.run} ({_reasons(self)})"


def _state_text(record: RunRecord) -> str:
    outcome = record.outcome
    if record.error:
        return "unreadable"
    if outcome.state in UNUSABLE:
        if outcome.steps_done is not None:
            return f"{outcome.state} at step {outcome.steps_done + 1}"
        return outcome.state
    if outcome.state in ("timeout", "cancelled"):
        return f"{outcome.state} at step {outcome.steps_done}"
    return outcome.state


def _speeds_text(record: RunRecord) -> str:
    parts = []
    if record.its is not None:
        parts.append(f"{record.its:.2f} it/s")
    if record.tokens_per_s is not None:
        parts.append(f"{tokens_text(record.tokens_per_s)} tokens/s")
    return ", ".join(parts) if parts else "no speed found"


def tokens_text(value: float) -> str:
    """Three significant figures with thousands separators: ``3,910``."""
    return f"{float(f'{value:.3g}'):,.0f}"


def _reasons(ranked: Ranked) -> str:
    agree = []
    for key in ranked.matches:
        agree.append("same model" if key == "model" else f"{key}={_show(ranked.like[key])}")
    parts = [", ".join(agree)] if agree else []
    if ranked.differs:
        parts.append(", ".join(ranked.differs))
    parts.append(_state_text(ranked.record))
    if not ranked.record.steady and ranked.record.its is not None:
        parts.append(f"short run ({ranked.record.steps_done or 0} steps)")
    parts.append(_speeds_text(ranked.record))
    return "; ".join(parts)


def rank_runs(records: Iterable[RunRecord], like: Mapping[str, Any]) -> list[Ranked]:
    """``records`` best first against the plan ``like`` (see the module for the order).

    ``like`` holds torchtune config keys and ``model=`` (``parse_like`` checks and parses
    it; ``ValueError`` for an unknown key).
    """
    plan = parse_like(like)
    keyed = []
    for index, record in enumerate(records):
        matches, differs, lost = [], [], {}
        for key, wanted in plan.items():
            same, how = _compare(record, key, wanted)
            if same:
                if key in CORE_KEYS:
                    matches.append(key)
            else:
                differs.append(how or key)
                lost[key] = True
        state = 3 if record.error or record.outcome.state in UNUSABLE else None
        if state is None:
            state = _STATE_ORDER.get(record.outcome.state, 2)
        sort_key = (
            bool(lost.get("model")),
            sum(bool(lost.get(k)) for k in ("batch_size", "gradient_accumulation_steps")),
            bool(lost.get("max_seq_len")),
            sum(1 for k in lost if k not in CORE_KEYS),
            state,
            record.its is None,
            not record.steady,
            -(record.mtime or 0.0),
            index,
        )
        keyed.append((sort_key, record, tuple(matches), tuple(differs)))
    keyed.sort(key=lambda item: item[0])
    return [
        Ranked(record, rank, key, matches, differs, plan)
        for rank, (key, record, matches, differs) in enumerate(keyed, 1)
    ]


def best_usable(ranked: Sequence[Ranked]) -> Ranked | None:
    """The best-ranked run an estimate may use, if any."""
    return next((r for r in ranked if r.usable), None)


def describe_ranking(ranked: Sequence[Ranked]) -> str:
    """The Result line: the best match and why, the others with their speeds, the failed."""
    if not ranked:
        return "No prior runs to compare"
    best = best_usable(ranked)
    text = f"Best match: {best.why()}" if best else "No usable prior run (none has a speed)"
    others = [r for r in ranked if r.usable and r is not best]
    if others:
        shown = []
        for other in others[:ALSO_LISTED]:
            item = f"{other.record.run} {_speeds_text(other.record)}"
            notes = list(other.differs)
            if other.record.outcome.state != "completed":
                notes.append(_state_text(other.record))
            if not other.record.steady:
                notes.append(f"short run, {other.record.steps_done or 0} steps")
            shown.append(item + (f" ({'; '.join(notes)})" if notes else ""))
        more = len(others) - ALSO_LISTED
        text += "; also: " + ", ".join(shown) + (f" and {more} more" if more > 0 else "")
    unusable = [r for r in ranked if not r.usable]
    failed = [r for r in unusable if r.record.error or r.record.outcome.state in UNUSABLE]
    nospeed = [r for r in unusable if r not in failed]
    if failed:
        text += "; failed: " + ", ".join(
            f"{r.record.run} ({_state_text(r.record)}{_differs_text(r)})" for r in failed
        )
    if nospeed:
        text += "; no speed: " + ", ".join(r.record.run for r in nospeed)
    return text


def _differs_text(ranked: Ranked) -> str:
    return f"; {', '.join(ranked.differs)}" if ranked.differs else ""


def transfer_warning(record: RunRecord | Ranked, like: Mapping[str, Any]) -> str | None:
    """A warning when the run's it/s does not carry over to the plan; None when it does.

    it/s counts optimizer steps, whose size is batch size x accumulation x sequence length;
    tokens/s per GPU carries over across those (not across models, and only roughly).
    """
    rec = record.record if isinstance(record, Ranked) else record
    plan = parse_like(like)
    differs = []
    for key in CORE_KEYS:
        if key in plan:
            same, how = _compare(rec, key, plan[key])
            if not same:
                differs.append((key, how or key))
    if not differs:
        return None
    what = "; ".join(how for _, how in differs)
    tokens = (
        f"{tokens_text(rec.tokens_per_s)} tokens/s per GPU"
        if rec.tokens_per_s is not None
        else None
    )
    if any(key == "model" for key, _ in differs):
        guide = (
            f"tokens/s ({tokens}) is only a rough guide across models"
            if tokens
            else "it logged no tokens/s either"
        )
        return f"{rec.run} differs from the plan ({what}): it/s does not carry over; {guide}"
    words = [_WORDS[key] for key, _ in differs]
    names = " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)
    verb = "differs" if len(words) == 1 else "differ"
    if tokens:
        return (
            f"{rec.run} differs from the plan ({what}): it/s does not carry over when the "
            f"{names} {verb}; plan with tokens/s ({tokens}) instead"
        )
    return (
        f"{rec.run} differs from the plan ({what}): it/s does not carry over when the "
        f"{names} {verb}, and it logged no tokens/s to plan with"
    )


_WORDS = {
    "model": "model",
    "batch_size": "batch size",
    "gradient_accumulation_steps": "gradient accumulation",
    "max_seq_len": "sequence length",
}


# ---------------------------------------------------------------------------------------
# searching with a plan


def search_like(
    root: str | os.PathLike[str],
    like: Mapping[str, Any],
    *,
    name: str | None = DEFAULT_NAME,
    path: str | None = DEFAULT_PATH,
    min_size: str | int | None = None,
    limit: int | None = None,
    cache: Any = True,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[RunSearch, list[Ranked]]:
    """Find prior runs as ``search_runs`` does and rank them against the plan ``like``.

    No size test unless ``min_size`` is given: the default ``+100k`` would hide runs that
    died early, and a run that ran out of memory at its first step is what a plan must see.
    The plan is checked before the walk (``ValueError`` for an unknown key).
    """
    parse_like(like)
    found = search_runs(root, name=name, path=path, min_size=min_size, limit=limit)
    records = read_runs(found.paths, cache=cache, progress=progress)
    return found, rank_runs(records, like)
