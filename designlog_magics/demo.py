"""The demo's public API: a stand-in for a cluster, for notebooks, docs and trying things out.

``build_demo_data(DIR)`` builds a deterministic stand-in for a cluster's scratch space in
``DIR``: a models directory, the dataset, prior runs' SLURM outputs and two past experiments
with finished runs (what ``designlog calibrate`` reads). ``clear_previous_design(EXP_DIR)``
removes an experiment directory an earlier run of the demo left (only inside demo data).
``finish_demo_runs(EXP_DIR)`` writes what the runs of a finished plan took, as SLURM would
have left them: one within its estimate, one killed at its time limit, one far quicker
(what ``designlog outcome`` reads).

From a shell: ``python -m designlog_magics.demo data DIR`` (or ``designlog demo-data DIR``)
builds the data; ``python -m designlog_magics.demo run --workspace DIR`` also executes the demo
notebook on it and prints the log and the plan it wrote.
"""

import sys

from ._demo import (
    DemoFacts,
    FinishedDemo,
    build_demo_data,
    clear_previous_design,
    finish_demo_runs,
)

__all__ = [
    "DemoFacts",
    "FinishedDemo",
    "build_demo_data",
    "clear_previous_design",
    "finish_demo_runs",
]

if __name__ == "__main__":
    from ._demo.cli import main

    sys.exit(main())
