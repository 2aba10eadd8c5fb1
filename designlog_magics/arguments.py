"""Parsing a verb's arguments for the command line and the magics alike, without IPython.

A magic line is split like a shell splits it (:func:`split_line`; IPython's ``arg_split`` keeps
quotes), and both edges parse with :class:`VerbParser`, whose errors are one line: an
:class:`ArgumentsError`, which the command line prints as ``designlog: error: ...`` and a magic
turns into one plain ``UsageError`` through the package's one error translator.
"""

from __future__ import annotations

import argparse
import shlex
from typing import NoReturn

from .exceptions import DesignLogError


class ArgumentsError(DesignLogError):
    """Arguments that cannot be parsed: one line naming what is wrong."""


class VerbParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one :class:`ArgumentsError` line."""

    def _help_hint(self) -> str:
        return f"{self.prog}? for help" if self.prog.startswith("%") else f"'{self.prog} --help'"

    def error(self, message: str) -> NoReturn:
        raise ArgumentsError(f"{message} (see {self._help_hint()})")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if self.prog.startswith("%") or status:
            raise ArgumentsError((message or "invalid arguments").strip())
        raise SystemExit(status)  # --help and --version on the command line

    def parse_line(self, line: str) -> argparse.Namespace:
        """Split ``line`` like a shell and parse it."""
        return self.parse_args(split_line(line))


def split_line(line: str) -> list[str]:
    """``line`` split as a POSIX shell splits it (quotes removed)."""
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise ArgumentsError(f"cannot split the arguments: {exc}") from None


def magic_parser(prog: str, description: str = "") -> VerbParser:
    """A parser for a magic: no ``-h`` (``%magic?`` is IPython's help), raw descriptions."""
    return VerbParser(
        prog=prog,
        description=description,
        add_help=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def count(text: str) -> int:
    """An argparse type: a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def seconds(text: str) -> float:
    """An argparse type: a number of seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value
