"""Where a replayed command may read: inside the roots, judged by ``realpath``.

Why: a replay reads only where the plan lives (the experiment directory and the plan's bound
paths). :func:`confine` is that rule, and the only place it is written.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from .refusal import Refusal, printable

OUTSIDE = "reads outside the plan's paths"


def confine(path_words: Iterable[str], roots: Iterable[str], *, cwd: str) -> Refusal | None:
    """``None`` when every path word lies inside one of ``roots``; else why not (the first out).

    The one place the rule is written. A word is taken as the program takes it: relative to
    ``cwd``; ``realpath`` then follows every symlink and applies ``..``, and a part that does not
    exist yet stays as written, so a new path is judged by its nearest existing parent. Inside
    means a root itself or anything below it (roots are resolved the same way).
    """
    try:
        real_roots = [os.path.realpath(root) for root in roots]
    except (ValueError, OSError):
        return Refusal(f"{OUTSIDE}: a root that cannot be resolved")
    for word in path_words:
        try:
            real = os.path.realpath(os.path.join(cwd, word))
        except (ValueError, OSError):  # a NUL byte in a bound value
            return Refusal(printable(f"{OUTSIDE}: `{word}` cannot be resolved"))
        if not any(real == root or real.startswith(root.rstrip("/") + "/") for root in real_roots):
            shown = f"`{word}`" if real == word else f"`{word}` (that is {real})"
            return Refusal(printable(f"{OUTSIDE}: {shown}"))
    return None
