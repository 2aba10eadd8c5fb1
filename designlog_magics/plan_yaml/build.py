"""Building ``experiment_summary.yaml``: the plan the torchtune and inspect-ai scaffolders read.

Why its own module: it is where the log's facts and the cell's values meet, section by
section, in the template's key order. Where two sources give a value they must agree; one
``PlanError`` names every missing field and every disagreement. The only defaults are
``tools`` (torchtune / inspect-ai: the one pipeline this package plans) and
``evaluation.system_prompt`` / ``evaluation.temperature`` left ``null`` (not set) when the cell
does not give them: the upstream schema test needs the keys, the upstream readers take ``null``
as unset (the system prompt's one source is ``controls.system_prompt``; a non-null
``evaluation.system_prompt`` makes them warn), and the template says to leave the temperature
out under greedy decoding.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from ..entry import Entry
from ..expansion import bind_paths
from ..summary import find_runs_table
from .cell import runs_from_table, varied_parameters, yaml_blocks
from .estimates import Estimate, resolve_estimates
from .logfacts import read_log_facts
from .schema import (
    FINE_TUNED,
    KEY_ORDER,
    TOOLS,
    TRAINING_KEYS,
    PlanError,
    is_int,
    run_name_problem,
    show_value,
    validate_plan,
)


def _same(a: object, b: object) -> bool:
    """Equal, and of the same kind (``True`` is no ``1``; ``2`` and ``2.0`` are the same)."""
    if a != b:
        return False
    if type(a) is type(b):
        return True
    numbers = (int, float)
    return (
        isinstance(a, numbers)
        and isinstance(b, numbers)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    )


def _ordered(data: Mapping[str, Any], order: Sequence[str]) -> dict[str, Any]:
    out = {key: data[key] for key in order if key in data}
    out.update({key: value for key, value in data.items() if key not in out})
    return out


def _present(data: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


CELL = "the cell's yaml block"


class _PlanBuilder:
    """Builds the plan section by section, collecting what is missing and what disagrees."""

    def __init__(self, entries: Sequence[Entry], markdown: str, paths: Mapping[str, str]):
        self.facts = read_log_facts(entries, paths)
        self.bindings = self.facts.paths
        self.cell = yaml_blocks(markdown)
        self.table = find_runs_table(markdown)
        self.needs: list[tuple[str, str]] = []  # (field, where it comes from; "" = the cell)
        self.problems: list[str] = list(self.facts.problems)

    # -- bookkeeping
    def need(self, name: str, hint: str = "") -> None:
        self.needs.append((name, hint))

    def agree(self, name: str, sources: Sequence[tuple[str, Any]], hint: str | None = "") -> Any:
        """The value the sources give (all must agree), else ``None``.

        When no source gives one the field is needed (``hint`` says where it comes from; empty:
        from the cell), unless ``hint`` is ``None`` (an optional field).
        """
        given = [(source, value) for source, value in sources if value is not None]
        if not given:
            if hint is not None:
                self.need(name, hint)
            return None
        first_source, first = given[0]
        for source, value in given[1:]:
            if not _same(value, first):
                self.problems.append(
                    f"{name}: {first_source} says {show_value(first)} "
                    f"but {source} says {show_value(value)}"
                )
                break
        return first

    def section(self, name: str, within: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A mapping of the cell's yaml block (``{}`` when absent)."""
        value = (self.cell if within is None else within).get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problems.append(f"{name} in {CELL} must be a mapping")
            return {}
        return dict(value)

    def bind(self, value: Any) -> Any:
        """A path of the cell with its path names bound."""
        return bind_paths(value, self.bindings) if isinstance(value, str) else value

    def check_path(self, name: str, value: Any) -> Any:
        """``value``; a problem when it is not a real absolute path (a name left unbound)."""
        if not isinstance(value, str):
            return value
        unbound = re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", value)
        if unbound:
            self.problems.append(
                f"{name} {show_value(value)} has an unbound path name {{{unbound[0]}}} "
                f"(bind it: --paths {unbound[0]}=DIR)"
            )
        elif not os.path.isabs(value):
            self.problems.append(f"{name} {show_value(value)} is not an absolute path")
        return value

    def error(self) -> PlanError | None:
        """One error naming every missing field, then every disagreement."""
        if not self.needs and not self.problems:
            return None
        cell = [name for name, hint in self.needs if not hint]
        logged = [f"{name} ({hint})" for name, hint in self.needs if hint]
        needs = []
        if cell:
            needs.append(", ".join(dict.fromkeys(cell)) + " (add them to a yaml block in the cell)")
        needs += list(dict.fromkeys(logged))
        problems = "; ".join(dict.fromkeys(self.problems))
        if needs:
            message = "experiment_summary.yaml needs: " + "; ".join(needs)
            if problems:
                message += "; also: " + problems
        else:
            message = "experiment_summary.yaml: " + problems
        return PlanError(" ".join(message.splitlines()))

    # -- sections
    def experiment(self) -> dict[str, Any]:
        given = self.section("experiment")
        facts = self.facts
        given_date = given.get("date")
        if isinstance(given_date, date):  # an unquoted date in the yaml block
            given_date = given_date.isoformat()
        experiment = dict(given)
        experiment["name"] = self.agree(
            "experiment.name",
            [(facts.name_source, facts.name), (CELL, given.get("name"))],
            "no DECIDE_NAMING entry decides it",
        )
        experiment["date"] = self.agree(
            "experiment.date",
            [("the log", facts.date), (CELL, given_date)],
            "no DECIDE_NAMING name ends in _YYYY-MM-DD and no START_DESIGN is logged",
        )
        experiment["dir"] = self.check_path(
            "experiment.dir",
            self.agree(
                "experiment.dir",
                [
                    ("START_DESIGN's Directory", facts.directory),
                    (CELL, self.bind(given.get("dir"))),
                ],
                "no START_DESIGN entry gives its Directory",
            ),
        )
        for key in ("project", "question"):
            if given.get(key) in (None, ""):
                self.need(f"experiment.{key}")
        return _ordered(_present(experiment), KEY_ORDER["experiment"])

    def runs(self) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
        """The runs, the variables and the runs table's constant columns."""
        table = runs_from_table(self.table, self.problems) if self.table is not None else None
        given = self.cell.get("runs")
        if given is None:
            runs = table.runs if table is not None else []
            if table is not None:
                variables: Any = table.variables
            constants = table.constants if table is not None else {}
        else:
            constants = {}
            runs = []
            if not isinstance(given, list) or not all(isinstance(r, dict) for r in given):
                self.problems.append(f"runs in {CELL} must be a list of mappings")
            else:
                runs = [dict(r) for r in given]
                for run in runs:
                    problem = run_name_problem(run.get("name"))
                    if problem:
                        self.problems.append(problem)
                if table is not None:
                    mine = [(r.get("name"), r.get("type")) for r in runs]
                    theirs = [(r["name"], r["type"]) for r in table.runs]
                    if mine != theirs:
                        self.problems.append(
                            f"runs: {CELL} has {show_value([n for n, _ in mine])} but the runs "
                            f"table has {show_value([n for n, _ in theirs])} (names and types must "
                            f"agree)"
                        )
        if given is not None or table is None:
            variables = varied_parameters([r for r in runs if r.get("type") == FINE_TUNED])
        if "variables" in self.cell:
            variables = self.cell["variables"]
        if not runs:
            self.need("runs", "a runs table with run and type columns, or runs: in a yaml block")
        names = [r.get("name") for r in runs]
        for name in dict.fromkeys(n for n in names if names.count(n) > 1 and isinstance(n, str)):
            self.problems.append(f"run name {show_value(name)} is used twice")
        for run in runs:
            if run.get("model") is None:
                if self.facts.last_model is None:
                    self.need("runs[].model", "no VERIFY_MODEL succeeded in the log")
                else:
                    run["model"] = self.facts.last_model
            if run.get("parameters") is None:
                run["parameters"] = {}
            params = run["parameters"]
            if isinstance(params, dict) and "checkpoint_path" in params:
                params["checkpoint_path"] = self.check_path(
                    f"runs[{run.get('name')}].parameters.checkpoint_path",
                    self.bind(params["checkpoint_path"]),
                )
        return runs, variables, constants

    def controls(
        self, variables: Mapping[str, Any], constants: Mapping[str, Any]
    ) -> dict[str, Any]:
        given = self.section("controls")
        controls = dict(given)
        for key, value in constants.items():
            if key not in TRAINING_KEYS:
                controls[key] = self.agree(
                    f"controls.{key}", [("the runs table", value), (CELL, given.get(key))]
                )
        for key in TRAINING_KEYS:
            sources: list[tuple[str, Any]] = [(CELL, given.get(key))]
            hint = ""
            if key in variables:  # a varied value is no control: only the cell can say
                hint = f"it varies across the fine-tuned runs; give controls.{key} in a yaml block"
            else:
                sources.append(("the runs table", constants.get(key)))
                sources += self.facts.training.get(key, [])
            controls[key] = self.agree(f"controls.{key}", sources, hint)
        for key in ("system_prompt", "prompt", "dataset_type"):
            if controls.get(key) is None:
                self.need(f"controls.{key}")
        return _present(_ordered(controls, KEY_ORDER["controls"]))

    def models(self, runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        section = self.section("models")
        given = section.get("base") or []
        if not isinstance(given, list):
            self.problems.append(f"models.base in {CELL} must be a list")
            given = []
        by_name = {str(m.get("name")): m for m in given if isinstance(m, dict)}
        used = [str(r["model"]) for r in runs if r.get("model") is not None]
        if not used and self.facts.last_model:
            used = [self.facts.last_model]
        base: list[dict[str, Any]] = []
        for name in dict.fromkeys([*used, *by_name]):
            verified = self.facts.models.get(name)
            mine = by_name.get(name, {})
            if verified is None and not mine:
                self.need(f"models.base {name}", f"no VERIFY_MODEL succeeded for {name}")
                continue
            source = verified.source if verified else "the log"
            model = dict(mine)
            model["name"] = name
            model["path"] = self.agree(
                f"models.base {name} path",
                [
                    (source, verified.path if verified else None),
                    (CELL, self.bind(mine.get("path"))),
                ],
                f"no VERIFY_MODEL succeeded for {name}",
            )
            model["size_gb"] = self.agree(
                f"models.base {name} size_gb",
                [(source, verified.size_gb if verified else None), (CELL, mine.get("size_gb"))],
                "the VERIFY_MODEL Result states no size",
            )
            self.check_path(f"models.base {name} path", model["path"])
            base.append(_ordered(_present(model), KEY_ORDER["model"]))
        if not base and not used:
            self.need("models.base", "no VERIFY_MODEL succeeded in the log")
        return {**section, "base": base}

    def data(self) -> dict[str, Any]:
        section = self.section("data")
        given = self.section("training", section)
        dataset = self.facts.dataset
        source = dataset.source if dataset else "the log"
        missing = "no VERIFY_DATASET succeeded in the log"
        logged: dict[str, Any] = {}
        if dataset is not None:
            logged = {
                "path": dataset.path,
                "dataset_label": dataset.dataset_label,
                "format": dataset.format,
                "size_kb": dataset.size_kb,
                "splits": dataset.splits,
            }
        hints = {
            "size_kb": "the VERIFY_DATASET Result states no size" if dataset else missing,
            "splits": "the VERIFY_DATASET Result states no splits" if dataset else missing,
        }
        training = dict(given)
        if dataset is None and not given:
            self.need("data.training", missing)
            return {**section, "training": {}}
        for key in KEY_ORDER["training"]:
            mine = given.get(key)
            if key == "path":
                mine = self.bind(mine)
            training[key] = self.agree(
                f"data.training.{key}",
                [(source, logged.get(key)), (CELL, mine)],
                hints.get(key, missing),
            )
        self.check_path("data.training.path", training["path"])
        if isinstance(training.get("splits"), dict):
            training["splits"] = _ordered(training["splits"], KEY_ORDER["splits"])
        return {**section, "training": _ordered(_present(training), KEY_ORDER["training"])}

    def output(self) -> dict[str, Any]:
        output = self.section("output")
        if output.get("wandb_project") in (None, ""):
            self.need("output.wandb_project")
        return _ordered(output, KEY_ORDER["output"])

    def evaluation(
        self, runs: Sequence[Mapping[str, Any]], controls: Mapping[str, Any]
    ) -> dict[str, Any]:
        given = self.section("evaluation")
        evaluation = dict(given)
        evaluation.setdefault("system_prompt", None)  # the schema test wants the keys; null:
        evaluation.setdefault("temperature", None)  # not set (see the module docstring)
        if not evaluation.get("scorers"):
            self.need("evaluation.scorers")
        tasks = evaluation.get("tasks")
        if not tasks:
            self.need("evaluation.tasks")
            return evaluation
        if not isinstance(tasks, list):
            return evaluation  # validate_plan names it
        bound = []
        for task in tasks:
            if isinstance(task, dict):
                task = dict(task)
                for key in ("script", "dataset"):
                    if key in task:
                        where = f"evaluation.tasks[{task.get('name')}].{key}"
                        task[key] = self.check_path(where, self.bind(task[key]))
                task = _ordered(task, KEY_ORDER["task"])
            bound.append(task)
        evaluation["tasks"] = bound
        if "matrix" not in given and runs:
            evaluation["matrix"] = self.matrix(runs, bound, controls)
        return evaluation

    def matrix(
        self,
        runs: Sequence[Mapping[str, Any]],
        tasks: Sequence[Any],
        controls: Mapping[str, Any],
    ) -> list[dict[str, Any]]:
        """Every run on every task; a fine-tuned run at each of its epochs (0-indexed)."""
        names = [t.get("name") for t in tasks if isinstance(t, dict)]
        matrix = []
        for run in runs:
            epochs = None
            if run.get("type") == FINE_TUNED:
                params = run.get("parameters")
                count = (params if isinstance(params, dict) else {}).get(
                    "epochs", controls.get("epochs")
                )
                if not is_int(count) or count <= 0:
                    continue  # controls.epochs is named as missing, or validation says why
                epochs = list(range(count))
            run_name = run.get("name")
            matrix.append(
                {"run": run_name, "vis_label": run_name, "tasks": names, "epochs": epochs}
            )
        return matrix

    def compute_times(self, runs: list[dict[str, Any]], evaluation: dict[str, Any]) -> None:
        """``compute.time`` of each run and of the evaluation from the covering estimates."""
        per_run, eval_estimate, problems = resolve_estimates(self.facts.estimates, runs)
        self.problems.extend(problems)
        targets: list[tuple[str, dict[str, Any], Estimate | None]] = [
            (f"runs[{run.get('name')}].compute.time", run, per_run.get(str(run.get("name"))))
            for run in runs
        ]
        targets.append(("evaluation.compute.time", evaluation, eval_estimate))
        for name, holder, estimate in targets:
            compute = holder.get("compute")
            given = compute.get("time") if isinstance(compute, dict) else None
            logged = None
            if estimate is not None:
                try:
                    logged = estimate.time
                except PlanError as exc:
                    self.problems.append(f"the estimate of {estimate.describe()}: {exc}")
            if estimate is None and given is not None:
                self.problems.append(
                    f"{name} {show_value(given)} is given in {CELL} but no logged estimate "
                    f"covers it (every time in the plan comes from an estimate the log holds)"
                )
                continue
            source = f"the estimate of {estimate.describe()}" if estimate else "the log"
            time = self.agree(name, [(source, logged), (CELL, given)], None)
            if time is not None:
                merged = {**(compute if isinstance(compute, dict) else {}), "time": time}
                holder["compute"] = _ordered(merged, KEY_ORDER["compute"])


def build_plan(entries: Sequence[Entry], markdown: str, paths: Mapping[str, str]) -> dict[str, Any]:
    """The scaffolders' plan, in the template's schema and key order, from the log and the cell.

    ``paths`` binds path names (``models_dir``, ``experiment_dir``, ...) over the ones of the
    log's last START_DESIGN. Raises one ``PlanError`` naming every missing field and every
    disagreement; a plan it returns passes :func:`validate_plan`.
    """
    builder = _PlanBuilder(entries, markdown, paths)
    experiment = builder.experiment()
    runs, variables, constants = builder.runs()
    controls = builder.controls(variables if isinstance(variables, dict) else {}, constants)
    models = builder.models(runs)
    data = builder.data()
    output = builder.output()
    evaluation = builder.evaluation(runs, controls)
    builder.compute_times(runs, evaluation)
    plan: dict[str, Any] = {
        "experiment": experiment,
        "tools": _ordered({**TOOLS, **builder.section("tools")}, KEY_ORDER["tools"]),
        "variables": variables,
        "controls": controls,
        "models": models,
        "data": data,
        "output": output,
        "runs": [_ordered(run, KEY_ORDER["run"]) for run in runs],
        "evaluation": _ordered(evaluation, KEY_ORDER["evaluation"]),
    }
    plan.update({key: value for key, value in builder.cell.items() if key not in plan})
    # what the upstream rules add, about fields not already named as missing
    named = tuple(re.split(r"[\s\[]", name)[0] for name, _ in builder.needs)
    if any(n in ("runs", "evaluation.tasks", "controls.epochs") for n in named):
        named += ("evaluation.matrix",)  # made from those
    builder.problems += [p for p in validate_plan(plan) if not (named and p.startswith(named))]
    error = builder.error()
    if error is not None:
        raise error
    return plan
