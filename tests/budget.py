"""A smaller hypothesis budget for the properties whose one example is costly (a whole log,
a subprocess, a file of many blocks): the loaded profile's, capped."""

from __future__ import annotations

from hypothesis import settings


def at_most(examples: int) -> settings:
    """The loaded profile (``ci``: 3,000 examples; ``dev``: 300) with at most ``examples``."""
    return settings(max_examples=min(examples, settings.default.max_examples))
