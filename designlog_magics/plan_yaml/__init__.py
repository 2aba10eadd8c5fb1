"""``experiment_summary.yaml``: the plan the torchtune and inspect-ai scaffolders read.

Why a second file beside ``experiment_summary.md``: the scaffolders (cruijff_kit's
scaffold-torchtune and scaffold-inspect) read a YAML plan in a fixed schema, and each run's SLURM
time comes from its ``runs[].compute.time`` (without it a run gets a 15-minute default). The
plan is built from two sources and from nothing else:

* the log knows what was checked and computed: the experiment's name, date and directory
  (``DECIDE_NAMING``, ``START_DESIGN``), the model and its size (``VERIFY_MODEL``), the dataset,
  its size and splits (``VERIFY_DATASET``), epochs / batch size / accumulation (a time
  estimate's ``Input:``, a search's ``--like`` plan) and each run's time (an estimate's
  ``Estimate:``/``Limit:`` and ``Covers:`` fields);
* the ``%%log_summary`` cell knows what the log cannot: a fenced ```yaml block (any part of
  the schema) and the runs table (``run``, ``type`` and parameter columns).

One module per idea, lowest first: :mod:`.schema` (what a plan is and its rules),
:mod:`.estimates` (the time estimates and what each covers), :mod:`.logfacts` (what the log
knows), :mod:`.cell` (what the cell gives), :mod:`.build` (the plan from both),
:mod:`.check` (an existing plan against the log) and :mod:`.yamlfile` (the file itself).
"""

from ..expansion import bind_paths
from .build import CELL, build_plan
from .cell import (
    COLUMN_ALIASES,
    NONE_CELLS,
    NOTE_COLUMNS,
    TableRuns,
    cell_value,
    column_key,
    run_type,
    runs_from_table,
    varied_parameters,
    yaml_blocks,
)
from .check import check_plan
from .estimates import (
    ALL,
    COVERS_ITEM_RE,
    DEFAULT_COVERS,
    EVAL_ACTION,
    EVALUATION,
    SIZE_ESTIMATE_RE,
    TIME_ESTIMATE_RE,
    UNIT_SECONDS,
    Coverage,
    Estimate,
    compute_time,
    covered_runs,
    parse_estimate,
    resolve_estimates,
)
from .logfacts import (
    LogFacts,
    VerifiedDataset,
    VerifiedModel,
    read_log_facts,
    size_gb,
    size_kb,
    verified_path,
)
from .schema import (
    CONTROL,
    DATASET_TYPES,
    DATE_RE,
    FINE_TUNED,
    KEY_ORDER,
    REQUIRED_FIELDS,
    RUN_TYPES,
    TOOLS,
    TRAINING_KEYS,
    WALL_TIME_RE,
    PlanError,
    is_int,
    run_name_problem,
    show_value,
    valid_date,
    validate_plan,
    wall_time_seconds,
)
from .yamlfile import HEADER, PLAN_FILENAME, dump_plan, load_plan, write_plan

__all__ = [
    "ALL",
    "CELL",
    "COLUMN_ALIASES",
    "CONTROL",
    "COVERS_ITEM_RE",
    "DATASET_TYPES",
    "DATE_RE",
    "DEFAULT_COVERS",
    "EVALUATION",
    "FINE_TUNED",
    "HEADER",
    "KEY_ORDER",
    "NONE_CELLS",
    "NOTE_COLUMNS",
    "PLAN_FILENAME",
    "REQUIRED_FIELDS",
    "RUN_TYPES",
    "SIZE_ESTIMATE_RE",
    "TIME_ESTIMATE_RE",
    "TOOLS",
    "TRAINING_KEYS",
    "UNIT_SECONDS",
    "WALL_TIME_RE",
    "Estimate",
    "LogFacts",
    "PlanError",
    "TableRuns",
    "VerifiedDataset",
    "VerifiedModel",
    "bind_paths",
    "build_plan",
    "cell_value",
    "check_plan",
    "column_key",
    "compute_time",
    "dump_plan",
    "is_int",
    "load_plan",
    "parse_estimate",
    "read_log_facts",
    "EVAL_ACTION",
    "Coverage",
    "covered_runs",
    "resolve_estimates",
    "run_name_problem",
    "run_type",
    "runs_from_table",
    "show_value",
    "size_gb",
    "size_kb",
    "valid_date",
    "validate_plan",
    "varied_parameters",
    "verified_path",
    "wall_time_seconds",
    "write_plan",
    "yaml_blocks",
]
