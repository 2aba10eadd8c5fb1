"""Demo data and the demo notebook run headless: for the demo, the notebooks and the tests.

Not part of the package's API: a deterministic stand-in for a cluster's scratch space
(``data``), the made-up torchtune SLURM outputs it holds (``synthetic``), the demo notebook
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
from .notebook import execute_notebook, kernel_manager, notebooks_dir, run_demo

__all__ = [
    "DemoFacts",
    "DemoRun",
    "build_demo_data",
    "clear_previous_design",
    "demo_words",
    "execute_notebook",
    "find_matches",
    "kernel_manager",
    "notebooks_dir",
    "read_safetensors_header",
    "run_demo",
    "safetensors_bytes",
]
