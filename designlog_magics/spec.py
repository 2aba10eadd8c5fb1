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
    for prefix, family in _FAMILY_PREFIXES:
        if action.startswith(prefix):
            return family
    return "other"


@dataclass(frozen=True)
class DesignStep:
    """A step the specification expects, done by a non-failed entry of ``action``."""

    key: str
    label: str
    action: str
    required: bool = True


DESIGN_STEPS: tuple[DesignStep, ...] = (
    DesignStep("model", "model verified", "VERIFY_MODEL"),
    DesignStep("dataset", "dataset verified", "VERIFY_DATASET"),
    DesignStep("search", "prior runs searched", "SEARCH_PRIOR_RUNS"),
    DesignStep("speed", "speed extracted", "EXTRACT_SPEED", required=False),
    DesignStep("time", "time calculated", "CALCULATE_TIME"),
    DesignStep("disk", "disk checked", "CHECK_DISK"),
    DesignStep("naming", "name decided", "DECIDE_NAMING"),
    DesignStep("summary", "summary created", "CREATE_SUMMARY"),
    DesignStep("complete", "complete", "COMPLETE", required=False),
)


def steps_done(entries: Sequence[Entry]) -> dict[str, bool]:
    """For each design step, whether a non-failed entry records it."""
    done_actions = {e.action for e in entries if not e.failed}
    return {step.key: step.action in done_actions for step in DESIGN_STEPS}


def is_preliminary(entry: Entry) -> bool:
    """An estimate the writer marked as preliminary (no prior run to rest on)."""
    text = " ".join([entry.brief, *(v for _, v in entry.fields)]).lower()
    return "preliminary" in text


def missing_steps(entries: Sequence[Entry]) -> list[str]:
    """Labels of the required steps no non-failed entry records (used by ``%log_complete``)."""
    done = steps_done(entries)
    missing = []
    for step in DESIGN_STEPS:
        if not step.required or done[step.key]:
            continue
        if step.key == "search" and any(
            e.action == "CALCULATE_TIME" and is_preliminary(e) for e in entries
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
