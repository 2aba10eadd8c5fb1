"""The verb table: one row per step, read by every edge and by the replay gatekeeper.

A row names the step function, its argument grammar (shared by ``designlog VERB`` and its magic;
each argument's ``dest`` is a keyword of the step), and what kind of verb it is: whether it only
reads (replay may re-run it), which action it logs, whether a notebook cell feeds it, whether
``-o VAR`` keeps its value. Rows live beside their steps, one module of this package each (a
module's ``VERBS``), and :func:`verbs` collects them, so a new verb is one new module.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

from ..arguments import VerbParser
from .base import StepContext, StepOutcome

Grammar = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class Verb:
    """One verb: its step, its grammar, and what the edges may do with it."""

    name: str
    run: Callable[..., StepOutcome]  # run(ctx, **arguments)
    grammar: Grammar
    summary: str
    example: str = ""
    reads_only: bool = False  # it only reads: replay may run it again
    logs: bool = True  # it writes an entry (so it takes -e, --log DIR, --no-log)
    needs_log: bool = False  # it needs a design log to work on (a session, --log DIR)
    cell: str | None = None  # the keyword a notebook cell fills (None: no cell form)
    output: bool = False  # -o VAR keeps its value
    notebook_only: tuple[str, ...] = ()  # keywords only a notebook may give (its own code)
    paths: tuple[str, ...] = ()  # keywords that name what it reads (replay confines them)
    read_only_with: tuple[str, ...] = ()  # keywords under which it only reads (replay may run)
    log_argument: str | None = None  # the keyword naming its log's directory (else --log DIR)

    def keywords(self) -> tuple[str, ...]:
        """The step's keyword arguments (the grammar's dests, ``cell`` included)."""
        parameters = inspect.signature(self.run).parameters
        return tuple(name for name in parameters if name != "ctx")

    def call(self, ctx: StepContext, arguments: Mapping[str, object]) -> StepOutcome:
        """Run the step with the arguments a parser gave (other attributes are ignored)."""
        wanted = self.keywords()
        return self.run(ctx, **{k: v for k, v in arguments.items() if k in wanted})


def add_command_line_options(verb: Verb, parser: argparse.ArgumentParser) -> None:
    """What ``designlog VERB`` adds to the verb's grammar: ``--json``, and ``--log DIR`` for a
    verb that writes an entry (the replay gatekeeper parses logged commands the same way)."""
    parser.add_argument("--json", action="store_true", help="the facts (and the entry) as JSON")
    if verb.logs and verb.log_argument is None:
        parser.add_argument(
            "--log",
            metavar="DIR",
            help="append the entry the magic would to this log (its path names are used)",
        )


def command_line_parser(verb: Verb) -> VerbParser:
    """The parser ``designlog VERB`` parses its words with (no ``-h``: help is not a check)."""
    parser = VerbParser(prog=f"designlog {verb.name}", add_help=False)
    verb.grammar(parser)
    add_command_line_options(verb, parser)
    return parser


def explain_argument(parser: argparse.ArgumentParser) -> None:
    """``-e/--explain``: the ``Explanation:`` of the entry (every logging verb has it)."""
    parser.add_argument(
        "-e", "--explain", metavar="EXPLANATION", help="why this step matters (the Explanation:)"
    )


@cache
def verbs() -> Mapping[str, Verb]:
    """Every verb of this package, by name (the ``VERBS`` of each module beside this one)."""
    table: dict[str, Verb] = {}
    package = importlib.import_module(__package__ or "")
    for module_info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__package__}.{module_info.name}")
        for verb in getattr(module, "VERBS", ()):
            if verb.name in table:
                raise RuntimeError(f"two verbs named {verb.name!r}")
            table[verb.name] = verb
    return table


def verb(name: str) -> Verb:
    """The verb called ``name`` (a ``KeyError`` names the known ones)."""
    table = verbs()
    if name not in table:
        raise KeyError(f"no verb {name!r}; verbs: {', '.join(sorted(table))}")
    return table[name]


def read_verbs() -> frozenset[str]:
    """The verbs replay may run again: they only read, and need no log to read."""
    return frozenset(
        name
        for name, row in verbs().items()
        if (row.reads_only or row.read_only_with) and not row.needs_log
    )
