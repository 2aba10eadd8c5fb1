"""What the log knows for the plan: the experiment's name, date and directory, the verified
model and dataset, the training settings and the time estimates, each with its source.

Why its own module: the plan takes every checked or computed value from the log
(``DECIDE_NAMING``, ``START_DESIGN``, ``VERIFY_MODEL``, ``VERIFY_DATASET``, a time estimate's
``Input:``, a search's ``--like`` plan, the estimates) and both building the plan and checking
an edited one against the log read it the same way.

Units: sizes in the log are ``du -h`` style (K = 1024 bytes, M = 1024 K, ...). ``size_kb`` is
in those KiB, rounded up to a whole number, and ``size_gb`` in GiB rounded up to two decimals,
so the YAML shows the number the log shows (``665K`` -> 665, ``2.3G`` -> 2.3) and never
understates the disk a model needs (``33K`` -> 0.01). The sizes are read exactly (a
``Fraction`` of bytes): ``probes.sizes.parse_size`` goes through a float and whole bytes, which
would round ``2.2P`` to a different ``size_gb``.
"""

from __future__ import annotations

import math
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from ..entry import Entry
from ..expansion import bind_paths
from ..probes.runtable import parse_like
from ..session import parse_bindings
from .estimates import Estimate, parse_estimate
from .schema import TRAINING_KEYS, PlanError, is_int, valid_date


@dataclass(frozen=True)
class VerifiedModel:
    name: str
    path: str
    size_gb: float | None
    source: str


@dataclass(frozen=True)
class VerifiedDataset:
    path: str
    dataset_label: str
    format: str
    size_kb: int | None
    splits: dict[str, int] | None
    source: str


@dataclass
class LogFacts:
    """Everything the plan takes from the log, with where each value came from."""

    paths: dict[str, str]
    name: str | None = None
    name_source: str = "DECIDE_NAMING"
    date: str | None = None
    directory: str | None = None
    models: dict[str, VerifiedModel] = field(default_factory=dict)
    last_model: str | None = None
    dataset: VerifiedDataset | None = None
    training: dict[str, list[tuple[str, int | None]]] = field(default_factory=dict)
    estimates: list[tuple[int, Estimate]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _words(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


def verified_path(command: str) -> str | None:
    """The path a verify entry's ``Command:`` looked at (``designlog verify KIND PATH``,
    ``ls``/``du``/``stat``/``wc``/``head`` ``PATH``); ``None`` when it cannot tell."""
    found: list[str] = []
    for line in command.splitlines():
        words = _words(line)
        if len(words) >= 2 and os.path.basename(words[0]) == "designlog" and words[1] == "verify":
            args = [w for w in words[2:] if not w.startswith("-")]
            if len(args) >= 2:
                found.append(args[1])
        elif words and os.path.basename(words[0]) in ("ls", "du", "stat", "wc", "head", "test"):
            args = [w for w in words[1:] if not w.startswith("-")]
            if args:
                found.append(args[-1])
    unique = list(dict.fromkeys(found))
    return unique[0] if len(unique) == 1 else None


_SIZE = r"([0-9]+(?:\.[0-9]+)?)([KMGTP]?)"
_TOTAL_RE = re.compile(rf"(?:^|, ){_SIZE} total\b", re.M)
_FILE_RE = re.compile(rf"^File exists, {_SIZE}(?=,|\s|$)", re.M)
_DU_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([KMGTP])(?:\t.*)?$", re.M)  # du -sh
_RECORDS_RE = re.compile(r"\b([0-9]{1,3}(?:,[0-9]{3})*|[0-9]+) records(?: \(([^()]*)\))?")
_SPLIT_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*) ([0-9]{1,3}(?:,[0-9]{3})*|[0-9]+)")
_EXPONENT = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5}


def _size_bytes(result: str) -> Fraction | None:
    """Bytes of the size a verify ``Result:`` states (``33K total``, ``File exists, 665K``)."""
    for pattern in (_TOTAL_RE, _FILE_RE, _DU_RE):
        match = pattern.search(result)
        if match:
            factor: int = 1024 ** _EXPONENT[match.group(2)]
            return Fraction(Decimal(match.group(1))) * factor
    return None


def size_gb(num_bytes: Fraction | int) -> float:
    """GiB (1024**3 bytes), rounded up to two decimals."""
    return math.ceil(Fraction(num_bytes) * 100 / 1024**3) / 100


def size_kb(num_bytes: Fraction | int) -> int:
    """KiB (1024 bytes), rounded up to a whole number."""
    return math.ceil(Fraction(num_bytes) / 1024)


def _records(result: str) -> dict[str, int] | None:
    match = _RECORDS_RE.search(result)
    if match is None or not match.group(2):
        return None
    text = match.group(2)
    pairs = _SPLIT_RE.findall(text)
    if ", ".join(f"{k} {v}" for k, v in pairs) != text:
        return None
    return {key: int(value.replace(",", "")) for key, value in pairs}


def _entry_source(entry: Entry) -> str:
    return f"{entry.action} ({entry.time_text})"


_INPUT_RE = {
    key: re.compile(rf"(?:^|,\s*){key}=([0-9]+)(?:\s+[^,=]*)?(?=,|$)") for key in TRAINING_KEYS
}


def _like_plan(command: str) -> dict[str, Any]:
    """The ``--like key=value ...`` words of a search or speed command, parsed."""
    words = _words(command.replace("\n", " "))
    if "--like" not in words:
        return {}
    start = words.index("--like") + 1
    plan: dict[str, Any] = {}
    for word in words[start:]:
        if word.startswith("-"):
            break
        key, sep, value = word.partition("=")
        if not sep:
            continue
        try:
            plan.update(parse_like({key: value}))
        except ValueError:
            continue
    return plan


def read_log_facts(entries: Sequence[Entry], paths: Mapping[str, str]) -> LogFacts:
    """What the log says, placeholders bound (``paths`` over the last START_DESIGN's)."""
    starts = [e for e in entries if e.action == "START_DESIGN"]
    bindings: dict[str, str] = {}
    if starts:
        bindings.update(parse_bindings(starts[-1].get("Paths") or ""))
        directory = starts[-1].get("Directory")
        if directory:
            bindings["experiment_dir"] = directory.strip()
    bindings.update(paths)
    facts = LogFacts(bindings)
    if starts:
        directory = (starts[-1].get("Directory") or "").strip()
        facts.directory = bind_paths(directory, bindings) if directory else None
    inputs: dict[str, tuple[str, int | None]] = {}
    likes: dict[str, tuple[str, int | None]] = {}
    for entry in entries:
        if entry.failed:
            continue
        if entry.action == "DECIDE_NAMING" and (entry.get("Decision") or "").strip():
            facts.name = (entry.get("Decision") or "").strip()
            facts.name_source = _entry_source(entry)
        elif entry.action == "VERIFY_MODEL":
            path = verified_path(entry.get("Command") or "")
            if path:
                path = bind_paths(path, bindings).rstrip("/") or "/"
                name = os.path.basename(path)
                size = _size_bytes(entry.get("Result") or "")
                gb = size_gb(size) if size is not None else None
                facts.models[name] = VerifiedModel(name, path, gb, _entry_source(entry))
                facts.last_model = name
        elif entry.action == "VERIFY_DATASET":
            path = verified_path(entry.get("Command") or "")
            if path:
                path = bind_paths(path, bindings)
                result = entry.get("Result") or ""
                size = _size_bytes(result)
                stem, suffix = os.path.splitext(os.path.basename(path))
                facts.dataset = VerifiedDataset(
                    path,
                    stem,
                    suffix.lstrip(".").lower(),
                    size_kb(size) if size is not None else None,
                    _records(result),
                    _entry_source(entry),
                )
        # the latest time estimate's Input, then the latest --like plan (in that order)
        if entry.action == "CALCULATE_TIME" and entry.get("Input"):
            text = " ".join((entry.get("Input") or "").split())
            for key, pattern in _INPUT_RE.items():
                found = pattern.search(text)
                value = int(found.group(1)) if found else None
                inputs[key] = (f"the Input of {_entry_source(entry)}", value)
        if entry.action in ("SEARCH_PRIOR_RUNS", "EXTRACT_SPEED") and "--like" in (
            entry.get("Command") or ""
        ):
            like = _like_plan(entry.get("Command") or "")
            for key in TRAINING_KEYS:
                value = like.get(key) if is_int(like.get(key)) else None
                likes[key] = (f"the --like plan of {_entry_source(entry)}", value)
    for key in TRAINING_KEYS:
        facts.training[key] = [
            s for s in (inputs.get(key), likes.get(key)) if s and s[1] is not None
        ]
    for index, entry in enumerate(entries):
        if entry.failed:
            continue
        try:
            estimate = parse_estimate(entry)
        except PlanError as exc:
            facts.problems.append(str(exc))
            continue
        if estimate is not None and estimate.covers:
            facts.estimates.append((index, estimate))
    if facts.name:
        match = re.search(r"_([0-9]{4}-[0-9]{2}-[0-9]{2})$", facts.name)
        if match and valid_date(match.group(1)):
            facts.date = match.group(1)
    if facts.date is None and starts:
        facts.date = starts[0].timestamp.strftime("%Y-%m-%d")
    return facts
