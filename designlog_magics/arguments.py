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
