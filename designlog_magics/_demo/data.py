"""A cluster's scratch space in miniature, deterministic, for the demo and the tests.

:func:`build_demo_data` writes, in a second and a few MB, what the design of a fine-tuning
experiment looks at on a real cluster::

    models/Llama-3.2-1B-Instruct/      config.json, tokenizer files, a small model.safetensors
    repo/data/green/capitalization/    words_8L_80P_10000.json (train/validation/test splits)
    scratch/ck-out-<adjective>-<animal>/slurm-<id>.out
                                       prior torchtune runs, each starting with its resolved
                                       config (tqdm progress with \\r, warmup, StdoutLogger
                                       lines, checkpoint saves; runs like the plan and unlike
                                       it: another batch size, another model in s/it, a run
                                       killed at its time limit, one out of memory at its
                                       first step, a smoke test)
    scratch/old-ck-out-2024/           a decoy the default search must not match
    scratch/data-prep/, scratch/eval-cap-8L/
                                       outputs of jobs that are not training runs

Everything is deterministic: two builds are byte for byte the same (and so are the prior
runs' modification times), so the speeds the notebook extracts can be checked against
:class:`DemoFacts`.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .dataset import DATASET_RELATIVE, demo_words, split_dataset
from .history import write_history
from .modeldir import read_safetensors_header, safetensors_bytes, write_model
from .priorruns import (
    REFERENCE_RUN,
    RUNS,
    DemoRun,
    find_matches,
    write_eval_output,
    write_prior_run,
)

__all__ = [
    "DEMO_NOTEBOOK",
    "ENV_WORKSPACE",
    "MARKER",
    "DemoFacts",
    "DemoRun",
    "build_demo_data",
    "clear_previous_design",
    "demo_words",
    "find_matches",
    "read_safetensors_header",
    "safetensors_bytes",
]

MARKER = ".designlog-demo"
ENV_WORKSPACE = "DESIGNLOG_DEMO_DIR"
DEMO_NOTEBOOK = "design_experiment.ipynb"
_VERSION = 1


@dataclass(frozen=True)
class DemoFacts:
    """Where the demo data is and what it holds (paths are absolute)."""

    root: Path
    models_dir: Path
    repo_dir: Path
    scratch_dir: Path
    model_dir: Path
    dataset: Path
    dataset_splits: Mapping[str, int]
    runs: tuple[DemoRun, ...]
    reference_run: str  # the prior run the notebook takes its speed from
    total_bytes: int
    files: int
    seconds: float = field(default=0.0, compare=False)

    def run(self, name: str) -> DemoRun:
        """The run in directory ``name`` (``ck-out-happy-narwhal``)."""
        for run in self.runs:
            if run.name == name:
                return run
        raise KeyError(name)

    @property
    def reference(self) -> DemoRun:
        return self.run(self.reference_run)

    @property
    def search_matches(self) -> tuple[Path, ...]:
        """What the default prior-run search finds, sorted."""
        return tuple(sorted(r.path for r in self.runs if r.matches_search))

    @property
    def speeds(self) -> dict[str, float]:
        """True steady speed (it/s) of every run with training progress, by directory name."""
        return {r.name: r.steady_its for r in self.runs if r.steady_its}

    @property
    def paths(self) -> dict[str, str]:
        """The path names a design binds with ``%designlog start ... --paths``."""
        return {
            "models_dir": str(self.models_dir),
            "repo_dir": str(self.repo_dir),
            "scratch_dir": str(self.scratch_dir),
        }

    def describe(self) -> str:
        """A few lines for people: where things are and what the search should find."""
        lines = [
            f"demo data in {self.root} ({self.files} files, {self.total_bytes / 1e6:.1f} MB)",
            f"  models_dir  = {self.models_dir}",
            f"  repo_dir    = {self.repo_dir}",
            f"  scratch_dir = {self.scratch_dir}",
            f"  dataset: {self.dataset.relative_to(self.root)} "
            + "("
            + ", ".join(f"{k} {v:,}" for k, v in self.dataset_splits.items())
            + ")",
            "  SLURM outputs:",
        ]
        for run in self.runs:
            mark = "*" if run.matches_search else " "
            speed = f"{run.steady_its:g} it/s" if run.steady_its else "no progress"
            lines.append(
                f"   {mark} {run.path.relative_to(self.scratch_dir)}  {run.size / 1024:,.0f} KiB  "
                f"{run.kind}, {speed}"
            )
        lines.append("  (* found by find -name 'slurm-*.out' -path '*/ck-out-*' -size +100k)")
        return "\n".join(lines)


def build_demo_data(target: str | os.PathLike[str]) -> DemoFacts:
    """Write the demo data under ``target`` (created if needed) and return its facts.

    Idempotent: building again rewrites the same bytes and leaves anything else in ``target``
    (an experiment directory under ``scratch/``, an executed notebook) alone.
    """
    started = time.perf_counter()
    root = Path(target).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text(f"designlog_magics demo data, version {_VERSION}\n")
    ignore = root / ".gitignore"
    if not ignore.exists():  # the workspace is generated: keep it out of version control
        ignore.write_text("*\n")
    models, repo, scratch = root / "models", root / "repo", root / "scratch"
    words = demo_words()
    model = write_model(models, words)
    dataset = repo / DATASET_RELATIVE
    dataset.parent.mkdir(parents=True, exist_ok=True)
    splits = split_dataset(words)
    dataset.write_text(json.dumps(splits, separators=(",", ":")) + "\n")
    scratch.mkdir(parents=True, exist_ok=True)
    runs = tuple(write_prior_run(scratch, spec) for spec in RUNS)
    write_eval_output(scratch)
    write_history(scratch)  # past experiments with finished runs, for calibrate
    total = files = 0
    for base in (models, repo, scratch):
        for directory, _, names in os.walk(base):
            for name in names:
                files += 1
                total += os.path.getsize(os.path.join(directory, name))
    return DemoFacts(
        root=root,
        models_dir=models,
        repo_dir=repo,
        scratch_dir=scratch,
        model_dir=model,
        dataset=dataset,
        dataset_splits={k: len(v) for k, v in splits.items()},
        runs=runs,
        reference_run=REFERENCE_RUN,
        total_bytes=total,
        files=files,
        seconds=time.perf_counter() - started,
    )


def clear_previous_design(experiment_dir: str | os.PathLike[str]) -> bool:
    """Remove an experiment directory left by an earlier run of the demo, so the demo starts a
    new design log; returns whether there was one. Refuses anything outside demo data."""
    directory = Path(experiment_dir).expanduser().resolve()
    root = next((p for p in directory.parents if (p / MARKER).is_file()), None)
    generated = {"models", "repo", "scratch", *(f"scratch/{spec.directory}" for spec in RUNS)}
    relative = directory.relative_to(root).as_posix() if root else ""
    if root is None or relative in generated or relative.startswith(("models/", "repo/")):
        raise ValueError(f"{directory} is not an experiment directory inside demo data")
    if not directory.exists():
        return False
    shutil.rmtree(directory)
    return True
