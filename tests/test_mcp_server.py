"""``designlog mcp`` driven by the MCP SDK's own client (``stdio_client`` + ``ClientSession``)
over stdio, the server a real subprocess: its tools and their schemas; the demo notebook's plan
written three ways at once (tool calls, ``designlog ... --log DIR`` processes, a real IPython
shell) giving the same entries, the agent's log passing ``designlog audit`` and ``designlog
replay``; and refusals (bad arguments, paths outside the design, hostile text) as tool errors
of one line that leave the log byte for byte as it was."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from designlog_magics import DesignLog, new_entry, read_log, render
from designlog_magics._demo import build_demo_data
from designlog_magics.mcp_server import Designs, ToolSpec, verb_spec
from designlog_magics.steps import StepContext, StepOutcome, Verb, verbs
from designlog_magics.steps.base import make_entry, outcome
from tests.cli_process import CONSOLE_SCRIPT, run_designlog

PLAN_MARKDOWN = Path(__file__).parent / "data" / "plan" / "summary-cell.md"
NAME = "cap_8L_lora_comparison_2025-10-22"
LIKE = [
    "model=Llama-3.2-1B-Instruct",
    "batch_size=4",
    "gradient_accumulation_steps=1",
    "max_seq_len=512",
]
READERS = {"replay", "audit"}
WRITERS = ("agent", "verb", "magic")
TIMESTAMP_RE = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\]", re.M)


# -- a client ------------------------------------------------------------------------------
def server_command() -> tuple[str, list[str]]:
    """The console script the package installs, or ``python -m designlog_magics``."""
    if CONSOLE_SCRIPT.exists():
        return str(CONSOLE_SCRIPT), ["mcp"]
    return sys.executable, ["-m", "designlog_magics", "mcp"]


class Agent:
    """The client side of one connection: calls a tool and reads its reply."""

    def __init__(self, session: ClientSession) -> None:
        self.session = session

    async def call(self, name: str, **arguments: Any) -> Any:
        return await self.session.call_tool(name, arguments)

    async def ok(self, name: str, **arguments: Any) -> Any:
        result = await self.call(name, **arguments)
        assert not result.is_error, text_of(result)
        assert isinstance(result.structured_content, dict)
        return result

    async def refused(self, name: str, fragment: str, **arguments: Any) -> str:
        """A tool error: one line naming the tool and ``fragment``, and no structured result."""
        result = await self.call(name, **arguments)
        text = text_of(result)
        assert result.is_error, f"{name} {arguments} was not refused: {text}"
        assert result.structured_content is None
        assert "\n" not in text and text.startswith(f"{name}: "), text
        assert "Traceback" not in text
        assert fragment in text, text
        return text


def text_of(result: Any) -> str:
    return "".join(block.text for block in result.content if block.type == "text")


@asynccontextmanager
async def connected(cwd: Path, errlog: Path) -> AsyncIterator[Agent]:
    """``designlog mcp`` started by the SDK's stdio client, initialized."""
    command, args = server_command()
    parameters = StdioServerParameters(
        command=command,
        args=args,
        cwd=str(cwd),
        env={"DESIGNLOG_CACHE_DIR": os.environ["DESIGNLOG_CACHE_DIR"]},
    )
    with errlog.open("a") as stderr:
        async with stdio_client(parameters, errlog=stderr) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield Agent(session)


def bind(resources: dict[str, Path]) -> list[str]:
    return [
        f"models_dir={resources['models']}",
        f"repo_dir={resources['repo']}",
        f"scratch_dir={resources['scratch']}",
    ]


# -- tools and schemas ---------------------------------------------------------------------
def test_every_verb_and_reader_is_a_tool_with_a_schema_from_its_signature(tmp_path):
    async def main() -> Any:
        async with connected(tmp_path, tmp_path / "server.err") as agent:
            initialized = await agent.session.list_tools()
            return initialized.tools

    tools = {tool.name: tool for tool in anyio.run(main)}
    table = verbs()
    assert set(tools) == set(table) | READERS
    for name, row in table.items():
        schema = tools[name].input_schema
        assert schema["type"] == "object" and schema["additionalProperties"] is False
        properties = schema["properties"]
        takes_dir = bool(row.logs or row.needs_log or row.log_argument)
        step_keywords = set(row.keywords()) - set(row.notebook_only) - {row.log_argument}
        assert set(properties) == step_keywords | ({"experiment_dir"} if takes_dir else set())
        assert not set(properties) & set(row.notebook_only), name
        assert ("experiment_dir" in schema.get("required", [])) == takes_dir, name
        assert tools[name].annotations.read_only_hint is (not row.logs)
        assert row.summary in tools[name].description
    # no code of a notebook's own cell, and the types of the annotations
    assert "cell" not in tools["verify"].input_schema["properties"]
    assert "line" not in tools["calculate"].input_schema["properties"]
    verify = tools["verify"].input_schema
    assert verify["properties"]["kind"]["type"] == "string"
    assert verify["required"] == ["experiment_dir", "kind"]
    assert "MODEL, DATASET" in verify["properties"]["kind"]["description"]
    search = tools["search"].input_schema["properties"]
    assert {"type": "integer"} in search["limit"]["anyOf"]
    assert {"type": "array", "items": {"type": "string"}} in search["like"]["anyOf"]
    assert search["sacct"] == {
        "type": "boolean",
        "default": False,
        "description": "search SLURM accounting instead of the file tree",
    }
    calculate = tools["calculate"].input_schema["properties"]
    assert calculate["inputs"]["type"] == "array" and calculate["steps"]["type"] == "array"
    assert calculate["result"]["description"].startswith("TEMPLATE: ")
    assert tools["speed"].input_schema["properties"]["full"]["type"] == "boolean"
    assert tools["disk"].input_schema["required"] == ["experiment_dir", "path"]
    assert tools["complete"].input_schema["required"] == ["experiment_dir", "status", "next_steps"]
    assert tools["replay"].input_schema["properties"]["timeout"]["type"] == "number"
    assert tools["audit"].input_schema["required"] == ["experiment_dir"]
    assert tools["audit"].annotations.read_only_hint is True


def calibrate_like(
    ctx: StepContext,
    *,
    experiment_dir: str,
    factor: float = 1.5,
    runs: Sequence[str] = (),
    dry: bool = False,
    cell: str | None = None,
) -> StepOutcome:
    """A step as a later row might write it (string annotations, its own experiment_dir)."""
    entry = make_entry("CALIBRATE", "Safety factor", result=f"{factor:.2f} for {len(runs)} runs")
    return outcome(entry, data={"experiment_dir": experiment_dir, "runs": list(runs)})


def _calibrate_grammar(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment_dir", metavar="EXPERIMENT_DIR")
    parser.add_argument("--factor", type=float, metavar="F", help="the safety factor")
    parser.add_argument("--runs", nargs="*", metavar="RUN", help="the runs it covers")


def test_a_row_added_to_the_table_later_is_a_tool_with_no_change(tmp_path, resources):
    row = Verb(
        "calibrate_later",
        calibrate_like,
        _calibrate_grammar,
        "CALIBRATE: a safety factor.",
        notebook_only=("cell",),
        log_argument="experiment_dir",
        paths=("experiment_dir",),
    )
    spec = verb_spec(row)
    schema = spec.input_schema()
    assert schema["required"] == ["experiment_dir"]
    assert schema["properties"]["factor"] == {
        "type": "number",
        "default": 1.5,
        "description": "F: the safety factor",
    }
    assert schema["properties"]["runs"]["items"] == {"type": "string"}
    assert schema["properties"]["dry"]["type"] == "boolean"
    assert "cell" not in schema["properties"]
    # and it runs: the session's directory is passed on, the entry is appended
    designs = Designs()
    designs.specs["calibrate_later"] = spec
    experiment = str(resources["experiment"])
    assert not designs.call("start", {"experiment_dir": experiment}).error
    reply = designs.call("calibrate_later", {"experiment_dir": experiment, "runs": ["r8", "r16"]})
    assert not reply.error, reply.text
    assert reply.text == "1.50 for 2 runs"
    assert reply.data is not None and reply.data["facts"]["experiment_dir"] == experiment
    assert read_log(resources["experiment"]).entries[-1].action == "CALIBRATE"
    refused = designs.call("calibrate_later", {"experiment_dir": experiment, "factor": "2"})
    assert refused.error and "factor: Input should be a valid number" in refused.text


def test_an_unexpected_exception_is_one_line_and_no_traceback(capfd):
    designs = Designs()

    def explode(designs: Designs, arguments: dict[str, Any]) -> Any:
        raise RuntimeError("kaboom\n  File 'x.py', line 1")

    designs.specs["explode"] = ToolSpec("explode", "raises", (), True, explode)
    reply = designs.call("explode", {})
    assert reply.error and reply.data is None
    assert reply.text == "explode: unexpected RuntimeError: kaboom"
    assert "Traceback" not in capfd.readouterr().err


# -- the demo plan, three ways -------------------------------------------------------------
@dataclass
class Writer:
    name: str
    demo: Any
    replies: dict[str, Any] = field(default_factory=dict)

    @property
    def experiment(self) -> Path:
        return Path(self.demo.scratch_dir) / NAME

    def paths(self) -> list[str]:
        d = self.demo
        return [
            f"models_dir={d.models_dir}",
            f"repo_dir={d.repo_dir}",
            f"scratch_dir={d.scratch_dir}",
        ]


@dataclass
class Planned:
    agent: Writer
    verb: Writer
    magic: Writer
    steps: list[str]
    errors: str


def _cli(writer: Writer, *args: str, log: bool = True) -> None:
    extra = ["--log", str(writer.experiment)] if log else []
    result = run_designlog(*args, *extra, timeout=300)
    assert result.returncode == 0, result.stderr


def _options(option: str, values: Sequence[str]) -> list[str]:
    return [word for value in values for word in (option, value)]


async def _plan_three_ways(agent_w: Writer, verb_w: Writer, magic_w: Writer, shell: Any) -> Any:
    """The notebook's plan, step by step: the tool call, then the verb, then the magic."""
    steps: list[str] = []
    errlog = agent_w.demo.root.parent / "server.err"
    async with connected(agent_w.demo.root.parent, errlog) as agent:
        dir_ = str(agent_w.experiment)

        async def tool(step: str, name: str, **arguments: Any) -> Any:
            result = await agent.ok(name, experiment_dir=dir_, **arguments)
            agent_w.replies[step] = result
            steps.append(step)
            return result.structured_content

        # 1. location
        await tool("start", "start", paths=agent_w.paths())
        _cli(verb_w, "start", str(verb_w.experiment), "--paths", *verb_w.paths(), log=False)
        shell.run_line_magic(
            "designlog",
            f"start {magic_w.experiment} --paths {' '.join(magic_w.paths())} --no-panel",
        )
        # 2. naming
        reasoning = "Capitalization task (cap), 8-letter words (8L), comparing LoRA ranks, dated"
        explain = "Name follows the task_factor_YYYY-MM-DD convention and says what is compared"
        await tool("naming", "decide", decision=NAME, reasoning=reasoning, explain=explain)
        _cli(verb_w, "decide", "--decision", NAME, "--reasoning", reasoning, "-e", explain)
        shell.run_line_magic(
            "log_decide", f'--decision {NAME} --reasoning "{reasoning}" -e "{explain}"'
        )
        # 3. resources
        model = "{models_dir}/Llama-3.2-1B-Instruct"
        dataset = "{repo_dir}/data/green/capitalization/words_8L_80P_10000.json"
        for step, kind, target in (("model", "MODEL", model), ("dataset", "DATASET", dataset)):
            await tool(step, "verify", kind=kind, target=target)
            _cli(verb_w, "verify", kind, target)
            shell.run_line_magic("log_verify", f"{kind} {target}")
        # 4. prior runs: ranked like the plan; the best match's speed
        found = await tool("search", "search", root="{scratch_dir}", like=LIKE)
        best = Path(found["facts"][0]["path"])
        _cli(verb_w, "search", "{scratch_dir}", "--like", *LIKE)
        shell.run_line_magic("log_search", "{scratch_dir} --like " + " ".join(LIKE))
        # the agent gives the path the search returned; the others its {scratch_dir} form
        source = "{scratch_dir}/" + best.relative_to(agent_w.demo.scratch_dir).as_posix()
        speed = await tool("speed", "speed", source=str(best), like=LIKE)
        _cli(verb_w, "speed", source, "--like", *LIKE)
        shell.run_line_magic("log_speed", f"{source} --like " + " ".join(LIKE))
        its = f"{speed['facts']['plan_its']:.2f}"
        tokens = f"{speed['facts']['tokens']['tokens_per_s']:.0f}"
        # 5. estimates (the training time with its SLURM limit)
        literals = [
            ("samples", "8000", ""),
            ("batch_size", "4", ""),
            ("epochs", "2", ""),
            ("tokens_per_sample", "225", "tokens"),
            ("speed_its", its, "it/s"),
            ("tokens_per_s", tokens, "tokens/s"),
            ("safety", "1.5", ""),
        ]
        computed = [
            "steps_per_epoch = samples / batch_size",
            "time_per_epoch = steps_per_epoch / speed_its  # s",
            "epoch_min = time_per_epoch / 60  # min",
            "total_min = epoch_min * epochs  # min",
            "total_min_tokens = samples * epochs * tokens_per_sample / tokens_per_s / 60  # min",
            "slurm_min = total_min * safety  # min",
        ]
        template = (
            "Estimated {total_min:.0f} minutes per run ({epoch_min:.0f} min × {epochs} epochs; "
            "{total_min_tokens:.0f} min from tokens/s)"
        )
        explain = "Calculated training time from the measured speed of a prior run"
        await _calculation(
            tool, verb_w, shell, "time", ["CALCULATE_TIME", "Training time estimate"],
            literals, computed, template, explain, estimate="total_min", limit="slurm_min",
        )  # fmt: skip
        evaluation = "{scratch_dir}/inspect-cap-8L-base/slurm-4211002.out"
        eval_speed = await tool("eval speed", "speed", source=evaluation)
        _cli(verb_w, "speed", evaluation)
        shell.run_line_magic("log_speed", evaluation)
        await _calculation(
            tool, verb_w, shell, "eval time", ["CALCULATE_EVAL_TIME", "Evaluation time estimate"],
            [("eval_samples", "1000", ""), ("eval_runs", "6", ""),
             ("samples_per_s", f"{eval_speed['facts']['samples_per_s']:.2f}", "samples/s")],
            ["eval_min = eval_samples * eval_runs / samples_per_s / 60  # min"],
            "About {eval_min:.0f} minutes of evaluation for {eval_runs} runs",
            "Based on the measured throughput of a prior inspect-ai run", estimate="eval_min",
        )  # fmt: skip
        await _calculation(
            tool, verb_w, shell, "disk need", ["CALCULATE_DISK", "Checkpoint space"],
            [("checkpoint_gib", "2.5", "GiB"), ("finetuned_runs", "4", ""),
             ("epochs_per_run", "2", ""), ("headroom", "2", "")],
            ["need_gib = checkpoint_gib * finetuned_runs * epochs_per_run * headroom  # GiB"],
            "About {need_gib:.0f} GiB for {finetuned_runs} runs × {epochs_per_run} epochs",
            "A 2.30 GiB checkpoint per epoch, doubled for evaluation outputs and headroom",
        )  # fmt: skip
        # 6. disk
        await tool("disk", "disk", path="{scratch_dir}", need="40G")
        _cli(verb_w, "disk", "{scratch_dir}", "--need", "40G")
        shell.run_line_magic("log_disk", "{scratch_dir} --need 40G")
        # 7. decisions
        decision = "torchtune lora_finetune_single_device, LoRA ranks 8/16/32/64, batch_size=4"
        reasoning = f"one GPU is enough for a 1B model; measured {its} it/s"
        explain = "Same model, batch size and sequence length as the best prior run"
        await tool(
            "recipe", "decide", action="DECIDE_RECIPE", words=["Recipe and configuration"],
            decision=decision, reasoning=reasoning, explain=explain,
        )  # fmt: skip
        _cli(
            verb_w, "decide", "-a", "DECIDE_RECIPE", "Recipe and configuration",
            "--decision", decision, "--reasoning", reasoning, "-e", explain,
        )  # fmt: skip
        shell.run_line_magic(
            "log_decide",
            f'-a DECIDE_RECIPE Recipe and configuration --decision "{decision}" '
            f'--reasoning "{reasoning}" -e "{explain}"',
        )
        # 8. the plan (the markdown of the demo's summary cell, with its yaml block)
        markdown = PLAN_MARKDOWN.read_text(encoding="utf-8")
        await tool("summary", "summary", markdown=markdown)
        _cli(verb_w, "summary", str(PLAN_MARKDOWN))
        shell.run_cell_magic("log_summary", "", markdown)
        # 9. complete
        status, next_steps = "Plan approved, files written", "Scaffold the configs"
        await tool("complete", "complete", status=status, next_steps=next_steps)
        _cli(verb_w, "complete", "--status", status, "--next", next_steps)
        shell.run_line_magic("log_complete", f'--status "{status}" --next "{next_steps}"')
        # the readers, through the same connection
        for reader in ("audit", "replay"):
            agent_w.replies[reader] = await agent.ok(reader, experiment_dir=dir_)
    return steps, errlog.read_text()


async def _calculation(
    tool: Any,
    verb_w: Writer,
    shell: Any,
    step: str,
    words: list[str],
    literals: list[tuple[str, str, str]],
    computed: list[str],
    template: str,
    explain: str,
    **estimate: str,
) -> None:
    """One calculation: the agent's inputs and steps, the verb's --input/--step, and the
    %%log_calc cell of the same assignments (literals first, a unit as a trailing comment)."""
    inputs = [f"{name}={value}" + (f" {unit}" if unit else "") for name, value, unit in literals]
    await tool(
        step, "calculate", words=words, inputs=inputs, steps=computed, result=template,
        explain=explain, **estimate,
    )  # fmt: skip
    options = [word for key, value in estimate.items() for word in (f"--{key}", value)]
    _cli(
        verb_w, "calculate", *words, *_options("--input", inputs), *_options("--step", computed),
        "--result", template, *options, "-e", explain,
    )  # fmt: skip
    cell = "\n".join(
        [f"{name} = {value}" + (f"  # {unit}" if unit else "") for name, value, unit in literals]
        + computed
    )
    line = f'{words[0]} "{words[1]}" --result "{template}" {" ".join(options)} -e "{explain}"'
    shell.run_cell_magic("log_calc", line, cell)


@pytest.fixture(scope="module")
def planned(tmp_path_factory) -> Planned:
    """The demo plan written by an agent, by the verbs and by the magics, in three copies of
    the demo data (so every placeholder reads the same)."""
    from tests.magics_shell import TestingShell

    root = tmp_path_factory.mktemp("three-writers")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DESIGNLOG_CACHE_DIR", str(root / "cache"))
        patch.delenv("DESIGNLOG_DIR", raising=False)
        writers = [
            Writer(name, build_demo_data(root / name)) for name in ("agent", "verb", "magic")
        ]
        shell = TestingShell.instance()
        shell.run_line_magic("load_ext", "designlog_magics")
        try:
            steps, errors = anyio.run(_plan_three_ways, *writers, shell)
        finally:
            shell.run_line_magic("unload_ext", "designlog_magics")
    return Planned(*writers, steps=steps, errors=errors)


def comparable(writer: Writer) -> list[str]:
    """The log's entries as text, the timestamp masked and the demo data's root named.

    CHECK_DISK's free space is the shared disk's at that second, not the writer's: its figure
    is masked too (the three writes are a second apart)."""
    out = []
    for entry in read_log(writer.experiment).entries:
        text = TIMESTAMP_RE.sub("[TIME]", render(entry))
        text = text.replace(str(writer.demo.root), "<demo>")
        if entry.action == "CHECK_DISK":
            text = re.sub(r"Result: \S+ available", "Result: <free> available", text)
        out.append(text)
    return out


@pytest.mark.slow
def test_the_agent_writes_the_entries_the_magic_and_the_verb_write(planned):
    agent, verb, magic = (comparable(w) for w in (planned.agent, planned.verb, planned.magic))
    assert len(agent) == len(planned.steps) == 14
    assert agent == verb
    assert agent == magic
    actions = [line.split()[1].rstrip(":") for line in (text.split("\n")[0] for text in agent)]
    assert actions == [
        "START_DESIGN",
        "DECIDE_NAMING",
        "VERIFY_MODEL",
        "VERIFY_DATASET",
        "SEARCH_PRIOR_RUNS",
        "EXTRACT_SPEED",
        "CALCULATE_TIME",
        "EXTRACT_SPEED",
        "CALCULATE_EVAL_TIME",
        "CALCULATE_DISK",
        "CHECK_DISK",
        "DECIDE_RECIPE",
        "CREATE_SUMMARY",
        "COMPLETE",
    ]
    time = read_log(planned.agent.experiment).entries[6]
    assert time.get("Estimate") == "total_min = 15.36 min per run"
    assert time.get("Limit") == "slurm_min = 23.04 min per run"
    assert time.get("Covers") == "fine-tuned"
    assert "Traceback" not in planned.errors


@pytest.mark.slow
def test_each_reply_is_the_entry_it_appended_and_the_step_facts(planned):
    entries = read_log(planned.agent.experiment).entries
    for index, step in enumerate(planned.steps):
        reply = planned.agent.replies[step]
        data = reply.structured_content
        assert data["entry"] == entries[index].as_dict(), step
        assert data["entries"] == [entries[index].as_dict()]
        assert data["log"] == str(planned.agent.experiment / "design-experiment.log")
        result = entries[index].get("Result")
        if result is not None:
            assert data["result"] == result
            assert text_of(reply).startswith(result)
        assert data["failed"] is False
    replies = planned.agent.replies
    search = replies["search"].structured_content["facts"]
    assert search[0]["run"] == "ck-out-happy-narwhal" and search[0]["usable"] is True
    assert replies["speed"].structured_content["facts"]["plan_its"] == pytest.approx(4.34, 0.01)
    assert replies["eval speed"].structured_content["facts"]["samples"] == 1000
    assert replies["start"].structured_content["facts"]["paths"]["scratch_dir"] == str(
        planned.agent.demo.scratch_dir
    )
    assert (planned.agent.experiment / "experiment_summary.md").is_file()
    # the plan carries what the scaffolders' experiment_summary.yaml needs (the cell's yaml
    # block, the runs table, the estimates' limits)
    assert (planned.agent.experiment / "experiment_summary.yaml").is_file()
    assert (
        replies["summary"]
        .structured_content["result"]
        .startswith("File created with 6 runs (4 fine-tuned + 2 control)")
    )
    audit = replies["audit"].structured_content
    assert audit["entry"] is None and audit["facts"]["passed"] is True
    assert text_of(replies["audit"]).startswith("Audit of ")
    replay = replies["replay"].structured_content["facts"]
    assert replay["exit_status"] == 0 and replay["counts"]["reproduced"] >= 6


@pytest.mark.slow
def test_the_agents_log_passes_designlog_audit_and_replay(planned):
    audit = run_designlog("audit", planned.agent.experiment, timeout=300)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "PASSED" in audit.stdout
    replay = run_designlog("replay", planned.agent.experiment, timeout=300)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "STANDS" in replay.stdout and " 0 changed, 0 failed" in replay.stdout


# -- refusals ------------------------------------------------------------------------------
def test_bad_arguments_are_tool_errors_and_the_log_is_unchanged(tmp_path, resources):
    experiment = str(resources["experiment"])
    log = resources["experiment"] / "design-experiment.log"
    never = tmp_path / "never-started"

    async def main() -> None:
        async with connected(tmp_path, tmp_path / "server.err") as agent:
            await agent.ok("start", experiment_dir=experiment, paths=bind(resources))
            await agent.ok("verify", experiment_dir=experiment, kind="MODEL", target="{models_dir}")
            before = log.read_bytes()
            cases: list[tuple[str, str, dict[str, Any]]] = [
                ("verify", "kind: Input should be a valid string", {"kind": 5}),
                ("verify", "kind: Field required", {}),
                ("verify", "cell: Extra inputs are not permitted", {"kind": "X", "cell": "ls"}),
                ("verify", "timeout: Extra inputs", {"kind": "X", "timeout": 1.0}),
                ("calculate", "line: Extra inputs are not permitted", {"line": "x = 1"}),
                ("search", "limit: Input should be a valid integer", {"limit": "3"}),
                ("search", "like: 'str' instances are not allowed", {"like": "model=x"}),
                ("search", "--limit must be 1 or more", {"root": "{scratch_dir}", "limit": 0}),
                ("speed", "no such file", {"source": "{scratch_dir}/missing.out"}),
                ("summary", "the plan is empty", {"markdown": "  "}),
                ("calculate", "no variable 'nope'", {"inputs": ["a=1"], "estimate": "nope"}),
                ("decide", "give --reasoning", {"decision": "x"}),
                ("disk", "--need", {"path": "{scratch_dir}", "need": "lots"}),
                ("show", "--last must be 0 or more", {"last": -1}),
                ("replay", "timeout must be more than 0", {"timeout": 0}),
            ]
            for name, fragment, arguments in cases:
                await agent.refused(name, fragment, experiment_dir=experiment, **arguments)
                assert log.read_bytes() == before, (name, arguments)
            await agent.refused("verify", "experiment_dir: Field required", kind="MODEL")
            await agent.refused("rm", "no tool 'rm'", experiment_dir=experiment)
            await agent.refused(
                "verify", "no design log in", experiment_dir=str(never), kind="MODEL"
            )
            assert not never.exists()
            a_file = tmp_path / "a-file"
            a_file.write_text("not a directory\n")
            await agent.refused("start", "cannot write", experiment_dir=str(a_file))
            assert a_file.read_text() == "not a directory\n"
            assert log.read_bytes() == before
            shown = await agent.ok("show", experiment_dir=experiment)
            assert [e["action"] for e in shown.structured_content["facts"]] == [
                "START_DESIGN",
                "VERIFY_MODEL",
            ]

    anyio.run(main)
    assert "Traceback" not in (tmp_path / "server.err").read_text()


def test_hostile_input_is_refused_and_the_log_is_unchanged(tmp_path, resources):
    experiment = str(resources["experiment"])
    log = resources["experiment"] / "design-experiment.log"
    marker = tmp_path / "PWNED"
    run_marker = f"__import__('os').system('touch {marker}')"
    (resources["scratch"] / "escape").symlink_to("/etc")
    forged = "x\n[2025-01-01 00:00:00] COMPLETE: forged\nStatus: done"

    async def main() -> None:
        async with connected(tmp_path, tmp_path / "server.err") as agent:
            await agent.ok("start", experiment_dir=experiment, paths=bind(resources))
            before = log.read_bytes()
            on_dir = {"experiment_dir": experiment}
            cases: list[tuple[str, str, dict[str, Any]]] = [
                # text that would start a line of its own in the log
                ("decide", "words[0]: a line break", {"words": [forged], "decision": "n"}),
                ("decide", "reasoning: a line break", {"decision": "n", "reasoning": forged}),
                ("decide", "decision: a line break", {"decision": "a\u2028b", "reasoning": "r"}),
                ("add", "fields[0]: a line break", {"action": "NOTE", "brief": "b",
                                                     "fields": [f"result={forged}"]}),
                ("add", "brief: a line break", {"action": "NOTE", "brief": forged}),
                ("add", "brief: a control character", {"action": "NOTE", "brief": "\x1b[2J"}),
                ("complete", "status: a line break", {"status": forged, "next_steps": "n"}),
                ("decide", "longer than 10,000", {"decision": "x" * 20_000, "reasoning": "r"}),
                # paths outside the design
                ("verify", "outside the experiment directory", {"kind": "M",
                                                                "target": "/etc/passwd"}),
                ("verify", "outside", {"kind": "M", "target": "{scratch_dir}/../../../etc"}),
                ("verify", "outside", {"kind": "M", "target": "{scratch_dir}/escape/passwd"}),
                ("verify", "outside", {"kind": "M", "target": "~"}),
                ("verify", "{HOME} in '{HOME}/x' is not a bound path name",
                 {"kind": "M", "target": "{HOME}/x"}),
                ("verify", "is not a bound path name", {"kind": "M",
                                                        "target": "{" + run_marker + "}"}),
                ("search", "outside", {"root": "/"}),
                ("speed", "outside", {"source": "/etc/hostname"}),
                ("disk", "outside", {"path": "/tmp/../"}),
                ("start", "may not read there: root=/", {"paths": ["root=/"]}),
                # calculations that are not plain arithmetic, or too big
                ("calculate", "exponent too large", {"steps": ["x = 9**9**9"]}),
                ("calculate", "more than 1,000 items", {"steps": ["x = 1"] * 10_000}),
                ("calculate", "more than 100 inputs and steps", {"steps": ["x = 1"] * 150}),
                ("calculate", "not arithmetic", {"steps": [f"x = {run_marker}"]}),
                ("calculate", "is not NAME=NUMBER", {"inputs": [f"x={run_marker}"]}),
                ("calculate", "in the result template (names only)",
                 {"inputs": ["x=1"], "result": "{" + run_marker + "}"}),
                ("calculate", "not a number's format",
                 {"inputs": ["x=1"], "result": "{x:>999999999}"}),
                # START_DESIGN (the path bindings) is start's alone
                ("add", "START_DESIGN is written by start",
                 {"action": "START_DESIGN", "brief": "b", "fields": ["paths=all=/"]}),
                ("calculate", "START_DESIGN is written by start",
                 {"action": "START_DESIGN", "inputs": ["x=1"]}),
            ]  # fmt: skip
            for name, fragment, arguments in cases:
                await agent.refused(name, fragment, **on_dir, **arguments)
                assert log.read_bytes() == before, (name, arguments)
            await agent.refused("start", "must be an absolute path", experiment_dir="exp")
            await agent.refused("start", "cannot be the filesystem root", experiment_dir="/")
            assert log.read_bytes() == before
            # still serving, and the design still works
            await agent.ok("verify", kind="MODEL", target="{models_dir}", **on_dir)

    anyio.run(main)
    assert not marker.exists()
    assert [e.action for e in read_log(resources["experiment"]).entries] == [
        "START_DESIGN",
        "VERIFY_MODEL",
    ]
    assert "Traceback" not in (tmp_path / "server.err").read_text()


def test_a_job_id_is_resolved_by_the_server_and_confined_like_a_path(resources, monkeypatch):
    """speed's SLURM job id: the output SLURM names is checked like any path argument."""
    from designlog_magics.probes import slurm

    output = resources["scratch"] / "ck-out-x" / "slurm-4187301.out"
    output.parent.mkdir()
    output.write_text("no training here\n")
    where = {"4187301": str(output), "666": "/etc/hostname"}
    monkeypatch.setattr(slurm, "resolve_output", lambda job_id: where[str(job_id)])
    designs = Designs()
    experiment = str(resources["experiment"])
    assert not designs.call("start", {"experiment_dir": experiment, "paths": bind(resources)}).error
    before = (resources["experiment"] / "design-experiment.log").read_bytes()
    refused = designs.call("speed", {"experiment_dir": experiment, "source": "666"})
    assert refused.error and "'/etc/hostname' is outside the experiment directory" in refused.text
    assert (resources["experiment"] / "design-experiment.log").read_bytes() == before
    read = designs.call("speed", {"experiment_dir": experiment, "source": "4187301"})
    assert not read.error, read.text
    assert read.data is not None
    assert dict(read.data["entry"]["fields"])["Command"] == (
        "designlog speed {scratch_dir}/ck-out-x/slurm-4187301.out"
    )


# -- sessions ------------------------------------------------------------------------------
def test_a_second_start_and_a_new_server_resume_the_design(tmp_path, resources):
    experiment = str(resources["experiment"])
    log = resources["experiment"] / "design-experiment.log"
    errlog = tmp_path / "server.err"

    async def first() -> None:
        async with connected(tmp_path, errlog) as agent:
            started = await agent.ok("start", experiment_dir=experiment, paths=bind(resources))
            assert started.structured_content["entry"]["action"] == "START_DESIGN"
            await agent.ok("verify", experiment_dir=experiment, kind="MODEL", target="{models_dir}")
            before = log.read_bytes()
            again = await agent.ok("start", experiment_dir=experiment, paths=bind(resources))
            assert again.structured_content["entry"] is None
            assert "resumed with 2 entries" in text_of(again)
            assert log.read_bytes() == before

    async def second() -> None:
        async with connected(tmp_path, errlog) as agent:
            # never started in this server: resumed from the log's START_DESIGN
            dataset = await agent.ok(
                "verify",
                experiment_dir=experiment,
                kind="DATASET",
                target="{repo_dir}/data/green/capitalization/words_8L_80P_10000.json",
            )
            entry = dataset.structured_content["entry"]
            assert dict(entry["fields"])["Command"] == (
                "designlog verify DATASET "
                "{repo_dir}/data/green/capitalization/words_8L_80P_10000.json"
            )
            # a failed check is a fact to log, not a tool error
            missing = await agent.ok(
                "verify", experiment_dir=experiment, kind="MODEL", target="{models_dir}/nope"
            )
            assert missing.structured_content["failed"] is True
            assert missing.structured_content["result"] == "Missing: path does not exist"
            # new bindings: a new START_DESIGN
            more = [*bind(resources), f"data_dir={resources['repo'] / 'data'}"]
            moved = await agent.ok("start", experiment_dir=experiment, paths=more)
            assert moved.structured_content["entry"]["brief"] == (
                "Experiment design resumed (4 entries already logged)"
            )
            # a log without START_DESIGN is not a design this server resumes
            other = tmp_path / "hand-written"
            DesignLog(other).append(new_entry("NOTE", "by hand", result="ok"))
            await agent.refused("show", "has no START_DESIGN entry", experiment_dir=str(other))

    anyio.run(first)
    anyio.run(second)
    actions = [e.action for e in read_log(resources["experiment"]).entries]
    assert actions == ["START_DESIGN", "VERIFY_MODEL", "VERIFY_DATASET", "VERIFY_MODEL"] + [
        "START_DESIGN"
    ]
    assert "Traceback" not in errlog.read_text()


# -- the command ---------------------------------------------------------------------------
def test_without_the_sdk_designlog_mcp_says_so_in_one_line():
    hide_sdk = (
        "import sys; sys.modules['mcp'] = None; "
        "from designlog_magics.cli import main; sys.exit(main(['mcp']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", hide_sdk],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("designlog: error: designlog mcp needs the MCP SDK")
    assert "designlog-magics[agents]" in lines[0]


def test_designlog_mcp_help_names_the_client_configuration():
    result = run_designlog("mcp", "--help", timeout=60)
    assert result.returncode == 0
    assert "command designlog, args [mcp]" in result.stdout
    listing = run_designlog("--help", timeout=60)
    assert re.search(r"^\s+mcp\s+Serve every step", listing.stdout, re.M)


def test_the_readme_shows_the_client_configuration():
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Agents: the same log through MCP tools", 1)[1].split("\n## ")[0]
    block = re.search(r"```json\n(.*?)```", section, re.S)
    assert block is not None
    config = json.loads(block.group(1))
    server = next(iter(config["mcpServers"].values()))
    assert server["command"] == "designlog" and server["args"] == ["mcp"]
    named = {"start", "decide", "verify", "search", "speed", "calculate", "disk", "summary"}
    for name in named | {"complete", "show", "naming", "add"} | READERS:
        assert f"`{name}`" in section, name
    example = json.loads(re.findall(r"```json\n(.*?)```", section, re.S)[1])
    designs = Designs()  # the example's arguments are the calculate tool's, typed as it takes them
    assert designs.validated(designs.specs["calculate"], example)["limit"] == "slurm_min"


def test_a_log_that_binds_the_whole_filesystem_opens_nothing_to_the_agent(tmp_path, resources):
    # a received log whose START_DESIGN binds / (or the home directory): resumed by a new
    # server, those bindings are no roots; an agent's own start may not bind them either
    experiment = resources["experiment"]
    experiment.mkdir(parents=True, exist_ok=True)
    log = experiment / "design-experiment.log"
    log.write_text(
        f"[2026-01-01 10:00:00] START_DESIGN: Experiment design started\n"
        f"Directory: {experiment}\nPaths: everything=/\n  home={Path.home()}\n\n"
    )
    before = log.read_bytes()
    errlog = tmp_path / "server.err"

    async def main() -> None:
        async with connected(tmp_path, errlog) as agent:
            for target in ("/etc/hostname", "{everything}/etc/hostname", "{home}"):
                await agent.refused(
                    "verify", "outside", experiment_dir=str(experiment), kind="X", target=target
                )
            await agent.refused(
                "start", "may not read there", experiment_dir=str(experiment), paths=["all=/"]
            )
            await agent.refused(
                "start", "may not read there", experiment_dir=str(Path.home()), paths=[]
            )

    anyio.run(main)
    assert log.read_bytes() == before
