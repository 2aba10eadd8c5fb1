"""Demo data and the demo notebook run headless: for the demo, the notebooks and the tests.

Not part of the package's API: a deterministic stand-in for a cluster's scratch space
(``data``, which builds it from ``modeldir``: a model directory in miniature, ``dataset``: the
made-up dataset, and ``priorruns``: the prior runs' SLURM outputs), the made-up torchtune SLURM
outputs (``synthetic``, printing tqdm's bars as ``tqdmbar`` and torchtune's lines as
``torchtuneconfig``), past experiments with finished runs for a calibration (``history``), the
plan's runs as they went after the design (``finished``, written by ``runwriter``), the demo
notebook executed in a kernel (``notebook``) and their command line (``cli``, run as
``python -m designlog_magics.demo``).
"""

from .data import DemoFacts, build_demo_data, clear_previous_design
from .dataset import demo_words
from .finished import FinishedDemo, FinishedRun, finish_demo_runs
from .history import HistoryFacts, HistoryRun, write_history
from .modeldir import read_safetensors_header, safetensors_bytes
from .notebook import execute_notebook, kernel_manager, notebooks_dir, run_demo
from .priorruns import DemoRun, find_matches

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
