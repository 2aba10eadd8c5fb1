"""The verb table: every edge reads it, so a new read verb is one new module of the steps
package. A verb written here, in a module outside the package's own files, shows that: once
the module is on the package's path, the command line, the magics and the replay gatekeeper
all have it, with no other change."""

from __future__ import annotations

import argparse
import inspect
import textwrap

import pytest

import designlog_magics.steps as steps_package
from designlog_magics import read_log
from designlog_magics.readonly import ReadCommand, Refusal, judge_command, read_verbs
from designlog_magics.steps import verbs
from designlog_magics.steps.table import command_line_parser

ECHO_MODULE = '''
"""VERIFY_SIZE: a file's size in bytes (a read verb made for the table's test)."""

import os

from designlog_magics.commandline import quote_path, verb_command
from designlog_magics.steps.base import StepContext, StepOutcome, make_entry, outcome
from designlog_magics.steps.table import Verb, explain_argument


def size(ctx: StepContext, *, path: str, explain: str | None = None) -> StepOutcome:
    where = ctx.run_path(path)
    entry = make_entry(
        "VERIFY_SIZE",
        "Checking a size",
        command=verb_command("size", quote_path(ctx.log_path(where))),
        result=f"{os.path.getsize(where)} bytes",
        explanation=explain,
    )
    return outcome(entry, data={"bytes": os.path.getsize(where)})


def _grammar(parser):
    parser.add_argument("path", metavar="PATH")
    explain_argument(parser)


VERBS = (Verb("size", size, _grammar, "VERIFY_SIZE: a file's size.", reads_only=True,
              paths=("path",)),)
'''


@pytest.fixture
def size_verb(tmp_path, monkeypatch):
    """A new step module on the steps package's path; the table read afresh."""
    module_dir = tmp_path / "more_steps"
    module_dir.mkdir()
    (module_dir / "size.py").write_text(textwrap.dedent(ECHO_MODULE))
    monkeypatch.setattr(steps_package, "__path__", [*steps_package.__path__, str(module_dir)])
    verbs.cache_clear()
    yield
    verbs.cache_clear()


def test_every_verb_row_matches_its_step_and_grammar():
    for name, verb in verbs().items():
        parser = argparse.ArgumentParser()
        verb.grammar(parser)
        dests = {a.dest for a in parser._actions if a.dest != "help"}
        keywords = set(verb.keywords())
        assert dests <= keywords, (name, dests - keywords)
        assert keywords - dests <= set(verb.notebook_only) | {verb.cell}, name
        assert set(verb.paths) <= dests, name
        signature = inspect.signature(verb.run)
        assert next(iter(signature.parameters)) == "ctx", name
        assert all(
            p.kind is inspect.Parameter.KEYWORD_ONLY
            for p in list(signature.parameters.values())[1:]
        ), name


def test_read_verbs_are_the_rows_that_only_read():
    assert read_verbs() == {"verify", "search", "speed", "disk", "naming", "calibrate", "outcome"}


def test_a_new_read_verb_reaches_the_command_line_the_magics_and_replay(size_verb, tmp_path, ip):
    from designlog_magics.cli import main

    target = tmp_path / "exp" / "weights.bin"
    target.parent.mkdir()
    target.write_bytes(b"x" * 1234)
    # the command line
    assert main(["size", str(target), "--log", str(target.parent)]) == 0
    logged = read_log(target.parent).entries[-1]
    assert (logged.action, logged.get("Result")) == ("VERIFY_SIZE", "1234 bytes")
    # the magics: %designlog VERB, through the same step
    ip.run_line_magic("designlog", f"start {target.parent} --no-panel")
    ip.run_line_magic("designlog", f"size {target}")
    again = read_log(target.parent).entries[-1]
    expected = (
        ("Command", "designlog size {experiment_dir}/weights.bin"),
        ("Result", "1234 bytes"),
    )
    assert again.fields == logged.fields == expected
    # the replay gatekeeper: a read verb, parsed with its own grammar, confined by its paths
    assert "size" in read_verbs()
    paths = {"experiment_dir": str(target.parent)}
    judged = judge_command(again.get("Command"), paths, roots=[str(target.parent)])
    assert isinstance(judged, ReadCommand) and judged.verb == "size"
    outside = judge_command("designlog size /etc/passwd", paths, roots=[str(target.parent)])
    assert isinstance(outside, Refusal) and "outside the plan" in outside.reason
    assert command_line_parser(verbs()["size"]).parse_args([str(target)]).path == str(target)
