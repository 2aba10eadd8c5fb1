"""Demo data and the demo notebook run headless: for the demo, the notebooks and the tests.

Not part of the package's API: a deterministic stand-in for a cluster's scratch space
(``data``), the made-up torchtune SLURM outputs it holds (``synthetic``), past experiments
with finished runs for a calibration (``history``), the plan's runs as they went after the
design (``finished``, written by ``runwriter``), the demo notebook
executed in a kernel (``notebook``) and their command line (``cli``, run as
``python -m designlog_magics.demo``).
"""

from .data import (
    DemoFacts,
    DemoRun,
    build_demo_data,
    clear_previous_design,
    demo_words,
    find_matches,
    read_safetensors_header,
    safetensors_bytes,
)
from .finished import FinishedDemo, FinishedRun, finish_demo_runs
from .history import HistoryFacts, HistoryRun, write_history
from .notebook import execute_notebook, kernel_manager, notebooks_dir, run_demo

__all__ = [
    "DemoFacts",
    "DemoRun",
    "FinishedDemo",
    "FinishedRun",
    "HistoryFacts",
    "HistoryRun",
    "build_demo_data",
    "clear_previous_design",
    "demo_words",
    "execute_notebook",
    "find_matches",
    "finish_demo_runs",
    "kernel_manager",
    "notebooks_dir",
    "read_safetensors_header",
    "run_demo",
    "safetensors_bytes",
    "write_history",
]
