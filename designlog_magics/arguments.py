"""Argument parsing for the magics: split like a shell, fail with one ``UsageError`` line.

IPython's ``arg_split`` keeps quotes (``-e "Verifying"`` would log ``"Verifying"``), so lines are
split with :func:`shlex.split`. Errors become a plain ``UsageError``, which IPython prints as one
line without a traceback.
"""

from __future__ import annotations

import argparse
import shlex
from typing import NoReturn

from IPython.core.error import UsageError


class MagicArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one-line ``UsageError``s."""

    def __init__(self, prog: str, description: str = "", **kwargs: object) -> None:
        super().__init__(
            prog=prog,
            description=description,
            add_help=False,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            **kwargs,  # type: ignore[arg-type]
        )

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog}? for help)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise UsageError((message or f"{self.prog}: invalid arguments").strip())

    def parse_line(self, line: str) -> argparse.Namespace:
        """Split ``line`` like a shell and parse it."""
        return self.parse_args(split_line(line, self.prog))


def split_line(line: str, prog: str = "magic") -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"{prog}: cannot split the arguments: {exc}") from None


def add_common(parser: argparse.ArgumentParser, *, explain: bool = True) -> None:
    """Options every logging magic has."""
    if explain:
        parser.add_argument(
            "-e",
            "--explain",
            metavar="EXPLANATION",
            help="why this step matters (the Explanation: line)",
        )
    parser.add_argument(
        "--no-log", action="store_true", help="run and show, but do not append to the log"
    )


def usage_doc(parser: argparse.ArgumentParser, summary: str) -> str:
    """A docstring for ``%magic?``: the summary, then argparse's usage and options."""
    return summary.strip() + "\n\n" + parser.format_help()


# -- the arguments of each step, shared by its magic and its ``designlog`` verb ----------------
def verify_arguments(parser: argparse.ArgumentParser, *, cell_form: bool = True) -> None:
    parser.add_argument("kind", metavar="KIND", help="MODEL, DATASET or any word (VERIFY_<KIND>)")
    parser.add_argument(
        "target",
        nargs="?" if cell_form else None,
        metavar="PATH" if not cell_form else "PATH|NAME",
        help="the path to check" + ("; cell form: a name for the brief" if cell_form else ""),
    )
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help=argparse.SUPPRESS)


def search_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", nargs="?", metavar="ROOT", help="the scratch tree to search")
    parser.add_argument(
        "--name", help="file name glob (default slurm-*.out); with --sacct, the job name pattern"
    )
    parser.add_argument("--path", default="*/ck-out-*", help="path glob (default */ck-out-*)")
    parser.add_argument(
        "--min-size",
        default=None,
        help="like find -size (default +100k; with --like none, so runs that died early show)",
    )
    parser.add_argument("--limit", type=int, metavar="N", help="the first N matches by path")
    parser.add_argument(
        "--sacct", action="store_true", help="search SLURM accounting instead of the file tree"
    )
    parser.add_argument("--since", metavar="DATE", help="with --sacct: jobs started since DATE")
    parser.add_argument("--user", metavar="USER", help="with --sacct: jobs of USER")
    like_argument(parser, "rank the runs found by how like the plan they are")
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help=argparse.SUPPRESS)


def speed_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SLURM_OUT|JOBID", help="a slurm-*.out file or a job id")
    parser.add_argument("--full", action="store_true", help="read every byte (no sampling)")
    like_argument(
        parser,
        "warn when the run differs from the plan in model, batch size, "
        "accumulation or sequence length",
    )


def like_argument(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument(
        "--like",
        nargs="+",
        metavar="KEY=VALUE",
        help=help + " (keys as in the torchtune config, plus model=)",
    )


def disk_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH")
    parser.add_argument("--need", metavar="SIZE", help="space needed, e.g. 40G")


def decide_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("words", nargs="*", metavar="BRIEF")
    parser.add_argument("--decision", "-d", metavar="D")
    parser.add_argument("--reasoning", "-r", metavar="R")
    parser.add_argument(
        "-a", "--action", default="DECIDE_NAMING", help="action type (default DECIDE_NAMING)"
    )


def complete_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--status", "-s", required=True, metavar="S")
    parser.add_argument("--next", "-n", dest="next_steps", required=True, metavar="N")


def entry_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", metavar="ACTION", help="action type, e.g. VERIFY_MODEL")
    parser.add_argument("brief", metavar="BRIEF", help="brief description")
    parser.add_argument("fields", nargs="*", metavar="KEY=VALUE", help="fields, in order")
