"""The specification's data in one place: action types, design steps, defaults, summary sections.

Writers (the steps) and readers (the audit, the panel, the summary, replay) import what the
specification says from here, so they cannot disagree: the nine action types and their usual
fields, the design steps and which entries satisfy each, the default ``Explanation:`` of each
action, the default brief of a calculation, and the sections the summary generates from the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .entry import Entry


@dataclass(frozen=True)
class ActionSpec:
    """A known action type: its family (for colour and checklists) and its usual fields."""

    name: str
    family: str
    usual_fields: tuple[str, ...]
    meaning: str


BUILTIN_ACTIONS: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        ActionSpec(
            "VERIFY_MODEL", "verify", ("Command", "Result", "Explanation"), "the base model exists"
        ),
        ActionSpec(
            "VERIFY_DATASET",
            "verify",
            ("Command", "Result", "Explanation"),
            "the training dataset exists",
        ),
        ActionSpec(
            "SEARCH_PRIOR_RUNS",
            "search",
            ("Command", "Result", "Explanation"),
            "prior runs were searched",
        ),
        ActionSpec(
            "EXTRACT_SPEED",
            "search",
            ("Command", "Result", "Explanation"),
            "training speed was extracted",
        ),
        ActionSpec(
            "CALCULATE_TIME",
            "calculate",
            ("Input", "Calculation", "Result", "Explanation"),
            "time was calculated",
        ),
        ActionSpec(
            "CHECK_DISK",
            "calculate",
            ("Command", "Result", "Explanation"),
            "disk space was checked",
        ),
        ActionSpec(
            "DECIDE_NAMING",
            "decide",
            ("Decision", "Reasoning", "Explanation"),
            "the name was decided",
        ),
        ActionSpec(
            "CREATE_SUMMARY",
            "create",
            ("Command", "Result", "Explanation"),
            "the summary was created",
        ),
        ActionSpec(
            "COMPLETE", "create", ("Status", "Next Steps", "Explanation"), "the design is complete"
        ),
    )
}

# Not one of the nine, but written by the package itself when a session starts.
START_ACTION = "START_DESIGN"

_FAMILY_PREFIXES = (
    ("VERIFY_", "verify"),
    ("SEARCH_", "search"),
    ("EXTRACT_", "search"),
    ("CALCULATE_", "calculate"),
    ("CHECK_", "calculate"),
    ("DECIDE_", "decide"),
    ("CREATE_", "create"),
    ("COMPLETE", "create"),
    ("START_", "session"),
)


def action_family(action: str) -> str:
    """The family of an action (verify, search, calculate, decide, create, session, other)."""
    spec = BUILTIN_ACTIONS.get(action)
    if spec:
        return spec.family
    if action in UPSTREAM_ACTIONS:
        return UPSTREAM_ACTIONS[action].family
    for prefix, family in _FAMILY_PREFIXES:
        if action.startswith(prefix):
            return family
    return "other"


@dataclass(frozen=True)
class DesignStep:
    """A step the specification expects, done by a non-failed entry of one of ``actions``
    (the seed's action type first, then the later dialect's)."""

    key: str
    label: str
    actions: tuple[str, ...]
    required: bool = True

    @property
    def action(self) -> str:
        """The seed's action type for the step (what this package writes)."""
        return self.actions[0]


DESIGN_STEPS: tuple[DesignStep, ...] = (
    DesignStep("model", "model verified", ("VERIFY_MODEL",)),
    DesignStep("dataset", "dataset verified", ("VERIFY_DATASET",)),
    DesignStep("search", "prior runs searched", ("SEARCH_PRIOR_RUNS",)),
    DesignStep("speed", "speed extracted", ("EXTRACT_SPEED", "EXTRACT_TRAINING_SPEED"), False),
    DesignStep("time", "time calculated", ("CALCULATE_TIME", "CALCULATE_TRAINING_TIME")),
    DesignStep("disk", "disk checked", ("CHECK_DISK", "CHECK_DISK_SPACE")),
    DesignStep("naming", "name decided", ("DECIDE_NAMING",)),
    DesignStep("summary", "summary created", ("CREATE_SUMMARY", "CREATE_YAML")),
    DesignStep("complete", "complete", ("COMPLETE", "COMPLETE_DESIGN"), False),
)
COMPLETE_ACTIONS = ("COMPLETE", "COMPLETE_DESIGN")


@dataclass(frozen=True)
class UpstreamAction:
    """An action type of the workflow's later dialect (its ``design-experiment/logging.md``):
    its family, the design step it does (if any), and the seed's name where it was renamed."""

    name: str
    family: str
    step: str | None = None
    seed_name: str | None = None


# The 22 action types of the later dialect, in the order its logging.md lists them.
UPSTREAM_ACTIONS: dict[str, UpstreamAction] = {
    action.name: action
    for action in (
        UpstreamAction("START_DESIGN", "session"),
        UpstreamAction("CONSULT_PRIOR_EXPERIMENT", "search"),
        UpstreamAction("CONSULT_DOCUMENTATION", "search"),
        UpstreamAction("VERIFY_MODEL", "verify", "model", "VERIFY_MODEL"),
        UpstreamAction("VERIFY_DATASET", "verify", "dataset", "VERIFY_DATASET"),
        UpstreamAction("COUNT_DATASET_SAMPLES", "verify"),
        UpstreamAction("VERIFY_EVAL_TASK", "verify"),
        UpstreamAction("SEARCH_PRIOR_RUNS", "search", "search", "SEARCH_PRIOR_RUNS"),
        UpstreamAction("EXTRACT_TRAINING_SPEED", "search", "speed", "EXTRACT_SPEED"),
        UpstreamAction("CALCULATE_TRAINING_TIME", "calculate", "time", "CALCULATE_TIME"),
        UpstreamAction("CHECK_DISK_SPACE", "calculate", "disk", "CHECK_DISK"),
        UpstreamAction("CALCULATE_DISK_USAGE", "calculate", None, "CALCULATE_DISK"),
        UpstreamAction("USER_QUESTION", "decide"),
        UpstreamAction("USER_RESPONSE", "decide"),
        UpstreamAction("DESIGN_DECISION", "decide", None, "DECIDE_NAMING"),
        UpstreamAction("DATA_GEN_CONFIG", "other"),
        UpstreamAction("DATA_GEN_CONDITION", "other"),
        UpstreamAction("GENERATE_RUNS", "create"),
        UpstreamAction("GENERATE_EVAL_MATRIX", "create"),
        UpstreamAction("CREATE_YAML", "create", "summary", "CREATE_SUMMARY"),
        UpstreamAction("CREATE_LOG", "create"),
        UpstreamAction("COMPLETE_DESIGN", "create", "complete", "COMPLETE"),
    )
}
# The seed's name of each renamed action, and the later dialect's (DESIGN_DECISION also holds
# decisions other than the name: only one that names the experiment is a naming decision).
SEED_TO_UPSTREAM: dict[str, str] = {
    a.seed_name: a.name for a in UPSTREAM_ACTIONS.values() if a.seed_name and a.seed_name != a.name
}
UPSTREAM_TO_SEED: dict[str, str] = {v: k for k, v in SEED_TO_UPSTREAM.items()}


def names_the_experiment(entry: Entry) -> bool:
    """The later dialect decides the name in START_DESIGN (``Experiment: NAME``) or in a
    DESIGN_DECISION about naming; the seed in DECIDE_NAMING."""
    if entry.action == "DECIDE_NAMING":
        return True
    if entry.action == "START_DESIGN":
        return bool((entry.get("Experiment") or "").strip())
    if entry.action == "DESIGN_DECISION":
        text = " ".join([entry.brief, entry.get("Details") or "", entry.get("Decision") or ""])
        return "naming" in text.lower() or "experiment name" in text.lower()
    return False


def steps_done(entries: Sequence[Entry]) -> dict[str, bool]:
    """For each design step, whether a non-failed entry records it (in either dialect)."""
    done_actions = {e.action for e in entries if not e.failed}
    done = {step.key: any(a in done_actions for a in step.actions) for step in DESIGN_STEPS}
    done["naming"] = any(names_the_experiment(e) for e in entries if not e.failed)
    return done


def is_preliminary(entry: Entry) -> bool:
    """An estimate the writer marked as preliminary (no prior run to rest on)."""
    text = " ".join([entry.brief, *(v for _, v in entry.fields)]).lower()
    return "preliminary" in text


def missing_steps(entries: Sequence[Entry]) -> list[str]:
    """Labels of the required steps no non-failed entry records (used by ``%log_complete``)."""
    done = steps_done(entries)
    time_actions = next(s.actions for s in DESIGN_STEPS if s.key == "time")
    missing = []
    for step in DESIGN_STEPS:
        if not step.required or done[step.key]:
            continue
        if step.key == "search" and any(
            e.action in time_actions and is_preliminary(e) for e in entries
        ):
            continue  # an estimate marked preliminary stands in for a prior-run search
        missing.append(step.label)
    return missing


def unsettled_failures(entries: Sequence[Entry]) -> list[int]:
    """Indexes of the failures not followed by a later success of the same action, nor by a
    later entry whose ``Resolution:`` names the action or the failed entry's brief."""
    unsettled = []
    for index, entry in enumerate(entries):
        if not entry.failed:
            continue
        later = entries[index + 1 :]
        if any(e.action == entry.action and not e.failed for e in later):
            continue
        resolutions = " ".join(r for e in later for r in e.get_all("Resolution"))
        if resolutions and (
            entry.action in resolutions or (entry.brief and entry.brief in resolutions)
        ):
            continue
        unsettled.append(index)
    return unsettled


def unsettled_message(entry: Entry) -> str:
    """How a failure that nothing settled is reported (the audit, ``COMPLETE``'s warning)."""
    return (
        f"{entry.action} failed ({entry.get('Error') or entry.get('Result')}) and no later "
        f"success or Resolution: follows"
    )


DEFAULT_EXPLANATIONS: dict[str, str] = {
    "VERIFY_MODEL": "Verifying base model exists before creating experiment plan",
    "VERIFY_DATASET": "Verifying training dataset exists and checking size",
    "SEARCH_PRIOR_RUNS": "Searching for prior SLURM logs to extract training speed data "
    "for estimates",
    "EXTRACT_SPEED": "Extracting iteration speed from a similar prior run",
    "CHECK_DISK": "Ensuring sufficient space for checkpoints",
    "CREATE_SUMMARY": "Experiment plan documented, with sections generated from this log",
    "COMPLETE": "Planning phase complete, documented in summary and this log",
}

CALC_BRIEFS: dict[str, str] = {
    "CALCULATE_TIME": "Training time estimate",
    "CALCULATE_DISK": "Disk space estimate",
}


def default_explanation(action: str, given: str | None = None) -> str | None:
    """The ``Explanation:`` of an entry: the one given, else the specification's default."""
    return given if given is not None else DEFAULT_EXPLANATIONS.get(action)


def calc_brief(action: str) -> str:
    """The brief of a calculation entry when the user gave none."""
    return CALC_BRIEFS.get(action, "Calculation")


@dataclass(frozen=True)
class SummarySection:
    """A section ``experiment_summary.md`` generates from the entries of some action families."""

    title: str
    prefixes: tuple[str, ...]
    fields: tuple[str, ...]


SUMMARY_SECTIONS: tuple[SummarySection, ...] = (
    SummarySection("Resources verified", ("VERIFY_",), ("Command", "Result", "Error")),
    SummarySection("Prior runs", ("SEARCH_", "EXTRACT_"), ("Result", "Run", "Warning")),
    SummarySection("Estimates", ("CALCULATE_",), ("Input", "Calculation", "Result")),
    SummarySection("Disk", ("CHECK_",), ("Command", "Result")),
    SummarySection("Decisions", ("DECIDE_",), ("Decision", "Reasoning")),
)
