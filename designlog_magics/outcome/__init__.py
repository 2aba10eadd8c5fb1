"""What the planned runs really took, beside every estimate of the design log.

Why: the runs finish days after the plan, and nothing compares them with it; a wrong
estimate is only ever noticed when a job dies at its time limit. ``read_outcome`` reads an
experiment's plan (``experiment_summary.yaml``), its design log and its runs' SLURM outputs,
and sets each logged estimate beside the measurement:

* training time (``time``): the ``Estimate:`` of the latest time estimate covering the run
  (``Covers:``; the latest wins) against the run's time, a measurement with its source named:
  the job's wall time from SLURM's start and end (``sacct`` Elapsed) where accounting was
  asked and knows the job, else the training seconds tqdm's counters print
  (:mod:`designlog_magics.probes.trainclock`), else unknown;
* throughput (``speed``, ``tokens``): the latest ``EXTRACT_SPEED``'s planned it/s and its
  ``Tokens:`` tokens/s per GPU against each fine-tuned run's measured ones (the speed probe,
  the tokens probe);
* evaluation time (``eval-time``): a ``CALCULATE_EVAL_TIME`` estimate (one eval job = one
  matrix cell) against inspect-ai's ``total time:`` of each eval job's output;
* disk (``disk``): ``CALCULATE_DISK``'s estimate against what the experiment uses (``du``:
  allocated blocks, hard links once, symbolic links not followed).

One module per idea, lowest first: :mod:`.lines` (one run against one estimate, in words),
:mod:`.estimates` (what the log estimated, for which planned run), :mod:`.verdicts` (the
margin and the verdict on each run), :mod:`.report` (the checks and the runs, rendered),
:mod:`.reading` (:func:`read_outcome`: the plan, the log and the runs side by side) and
:mod:`.checkentries` (the ``CHECK_ESTIMATE`` entries an edge appends). What each planned run
really was is :mod:`designlog_magics.runoutputs`.
"""

from ..probes.diskuse import disk_usage
from ..runoutputs import EvalOutput, PlannedRun, RunOutput
from .checkentries import CHECK_ACTION, CHECK_BRIEFS, check_entries, check_key, result_for
from .lines import (
    NOT_COMPARED,
    NOT_FOUND,
    OVER,
    RUNNING,
    UNDER,
    VERDICTS,
    WAITED,
    WITHIN,
    OutcomeError,
    OutcomeLine,
)
from .reading import read_outcome
from .report import CHECK_KEYS, CHECK_LABELS, OutcomeCheck, OutcomeReport
from .verdicts import DEFAULT_MARGIN

__all__ = [
    "CHECK_ACTION",
    "CHECK_BRIEFS",
    "CHECK_KEYS",
    "CHECK_LABELS",
    "DEFAULT_MARGIN",
    "NOT_COMPARED",
    "NOT_FOUND",
    "OVER",
    "RUNNING",
    "UNDER",
    "VERDICTS",
    "WAITED",
    "WITHIN",
    "EvalOutput",
    "OutcomeCheck",
    "OutcomeError",
    "OutcomeLine",
    "OutcomeReport",
    "PlannedRun",
    "RunOutput",
    "check_entries",
    "check_key",
    "disk_usage",
    "read_outcome",
    "result_for",
]
