"""A complete design session (the specification's example), as entries and as notebook cells,
and a real kernel to run the notebook with (nbclient, kernel ``python3``)."""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from designlog_magics.entry import Entry, new_entry
from designlog_magics.store import DesignLog

KERNEL = "python3"

SPEC_CALCULATION = "steps_per_epoch = 8000/4 = 2000, time_per_epoch = 2000/4.34 ≈ 461s ≈ 8min"

# (action, brief, fields): the specification's example log, in its order.
SESSION: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "VERIFY_MODEL",
        "Checking Llama-3.2-1B-Instruct",
        [
            ("Command", "ls {models_dir}/Llama-3.2-1B-Instruct"),
            ("Result", "Directory exists with 15 files (config.json, model.safetensors, etc.)"),
            ("Explanation", "Verifying base model exists before creating experiment plan"),
        ],
    ),
    (
        "VERIFY_DATASET",
        "Checking capitalization dataset",
        [
            ("Command", "ls -lh {repo_dir}/data/green/capitalization/words_8L_80P_10000.json"),
            ("Result", "File exists, 655KB"),
            ("Explanation", "Verifying training dataset exists and checking size"),
        ],
    ),
    (
        "SEARCH_PRIOR_RUNS",
        "Looking for similar experiments",
        [
            (
                "Command",
                'find {scratch_dir} -name "slurm-*.out" -path "*/ck-out-*" -size +100k | head -5',
            ),
            (
                "Result",
                "Found 3 similar runs: ck-out-happy-narwhal, ck-out-bright-horizon, "
                "ck-out-calm-dolphin",
            ),
            ("Explanation", "Searching for prior SLURM logs to extract training speed data"),
        ],
    ),
    (
        "EXTRACT_SPEED",
        "Analyzing prior run for training speed",
        [
            (
                "Command",
                'grep -E "[0-9.]+it/s" {scratch_dir}/ck-out-happy-narwhal/slurm-12345.out '
                "| tail -20",
            ),
            ("Result", "Average speed after warmup: 4.34 it/s"),
            ("Explanation", "Extracting iteration speed from similar prior run"),
        ],
    ),
    (
        "CALCULATE_TIME",
        "Training time estimate",
        [
            ("Input", "8000 samples, batch_size=4, speed=4.34 it/s, epochs=2"),
            ("Calculation", SPEC_CALCULATION),
            ("Result", "Estimated 16 minutes total (8 min × 2 epochs)"),
            ("Explanation", "Calculated training time based on actual iteration speed"),
        ],
    ),
    (
        "CHECK_DISK",
        "Verifying available disk space",
        [
            ("Command", "df -h {scratch_dir}"),
            ("Result", "2.1T available"),
            ("Explanation", "Ensuring sufficient space for ~40 GiB of checkpoints"),
        ],
    ),
    (
        "DECIDE_NAMING",
        "Experiment name chosen",
        [
            ("Decision", "cap_8L_lora_comparison_2025-10-22"),
            ("Reasoning", "Capitalization task (cap), 8-letter words (8L), comparing LoRA ranks"),
            ("Explanation", "User confirmed this naming follows convention and is descriptive"),
        ],
    ),
    (
        "CREATE_SUMMARY",
        "Writing experiment plan",
        [
            ("Command", "Created {scratch_dir}/cap_8L_lora_comparison_2025-10-22/summary.md"),
            ("Result", "File created with 4 runs (2 fine-tuned × 2 ranks + 2 controls)"),
            ("Explanation", "Comprehensive experiment plan with all configurations documented"),
        ],
    ),
    (
        "COMPLETE",
        "Experiment design finished",
        [
            ("Status", "Plan approved by user, files written"),
            ("Next Steps", "User can now run scaffold-experiment to generate configs"),
            ("Explanation", "Planning phase complete, documented in summary and this log"),
        ],
    ),
]

START = datetime(2025, 10, 22, 14, 23, 15)


def session_entries(
    *,
    skip: Iterable[str] = (),
    change: dict[str, list[tuple[str, str]]] | None = None,
    start: datetime = START,
) -> list[Entry]:
    """The session as entries, 15 s apart; ``skip`` leaves actions out, ``change`` replaces the
    fields of an action."""
    skipped = set(skip)
    entries = []
    for index, (action, brief, fields) in enumerate(SESSION):
        if action in skipped:
            continue
        fields = (change or {}).get(action, fields)
        entries.append(
            new_entry(action, brief, fields, timestamp=start + timedelta(seconds=15 * index))
        )
    return entries


def write_log(directory: Path, entries: Sequence[Entry]) -> Path:
    """Write entries through the store (the same append the magics use); return the file."""
    log = DesignLog(directory)
    log.append_many(entries)
    return log.path


def magic_line(action: str, brief: str, fields: Sequence[tuple[str, str]]) -> str:
    words = [shlex.quote(brief)] + [shlex.quote(f"{key}={value}") for key, value in fields]
    return f"%log_entry {action} " + " ".join(words)


def session_cells(experiment: str = "exp", *, record: bool = True) -> list[object]:
    """The notebook of a complete session written with the real magics."""
    cells: list[object] = [
        new_markdown_cell("# Design: cap_8L_lora_comparison\n\nLoRA ranks on 8-letter words."),
        new_code_cell("import sys\nprint(sys.prefix)"),
        new_code_cell("%load_ext designlog_magics"),
        new_code_cell(f"%designlog start {experiment} --no-panel"),
    ]
    cells.extend(new_code_cell(magic_line(*step)) for step in SESSION)
    if record:
        cells.append(new_code_cell("%designlog record"))
    return cells


def execute_notebook(cells: Sequence[object], path: Path, *, timeout: int = 120) -> object:
    """Run the cells in a real ``python3`` kernel in ``path``'s folder; save and return it."""
    from nbclient import NotebookClient

    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    nbformat.write(nb, path)
    return nb


_EXECUTED: dict[str, Path] = {}


def executed_session(base: Path) -> Path:
    """The session notebook executed once per test run (under ``base``); returns its path.

    Callers that change the notebook or its log copy the folder first (:func:`copy_session`).
    """
    if "session" not in _EXECUTED:
        folder = base / "session"
        execute_notebook(session_cells(), folder / "design.ipynb")
        _EXECUTED["session"] = folder / "design.ipynb"
    return _EXECUTED["session"]


def copy_session(source: Path, target: Path) -> Path:
    """A private copy of an executed session, notebook and log, as if the folder had been
    moved: the absolute log path its record names is rewritten to the copy's."""
    shutil.copytree(source.parent, target)
    notebook = target / source.name
    text = notebook.read_text(encoding="utf-8")
    notebook.write_text(text.replace(str(source.parent), str(target)), encoding="utf-8")
    return notebook
