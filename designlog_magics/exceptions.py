"""The package's own errors, and the one place they become what an edge shows.

Every error the package raises on purpose (bad input, an unusable file, a failed SLURM query) is
a :class:`DesignLogError`. The steps raise them with a plain message; the edges add who is
speaking: a magic turns them into one plain ``UsageError`` line (IPython prints no traceback for
it), the command line into one ``designlog: error: ...`` line and exit status 2.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class DesignLogError(Exception):
    """Bad input or an unusable file: reported as one line, never as a traceback."""


class StepError(DesignLogError):
    """A design step that cannot run with the arguments it was given."""


def usage_error(prog: str, exc: BaseException) -> Exception:
    """The plain ``UsageError`` a magic raises for ``exc``."""
    from IPython.core.error import UsageError

    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if not message.startswith(prog):
        message = f"{prog}: {message}"
    return UsageError(message)


def translate_errors(prog: str) -> Callable[[F], F]:
    """Decorate a magic so the package's own errors reach the user as one ``UsageError``."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except DesignLogError as exc:
                raise usage_error(prog, exc) from None

        return wrapper  # type: ignore[return-value]

    return decorate
