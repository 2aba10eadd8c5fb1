"""Sizes as people and coreutils write them (``100k``, ``655K``, ``2.1T``)."""

from __future__ import annotations

import re

_UNITS = {
    "": 1,
    "b": 512,
    "c": 1,
    "w": 2,
    "k": 1024,
    "m": 1024**2,
    "g": 1024**3,
    "t": 1024**4,
    "p": 1024**5,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]?)(?:i?B)?\s*$")


def parse_size(text: str | int) -> int:
    """Bytes in a size such as ``100k``, ``40G``, ``40GiB`` or ``2048`` (plain numbers are bytes).

    Raises ``ValueError`` with a readable message for anything else.
    """
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"size must not be negative: {text}")
        return text
    match = _SIZE_RE.match(text)
    if not match:
        raise ValueError(f"not a size: {text!r} (use e.g. 100k, 40G, 2T)")
    number, unit = match.groups()
    factor = _UNITS.get(unit.lower())
    if factor is None:
        raise ValueError(f"unknown size unit {unit!r} in {text!r} (use k, M, G, T)")
    return int(float(number) * factor)


def format_size(num_bytes: int | float) -> str:
    """Human size the way ``ls -lh`` / ``du -h`` / ``df -h`` print it (``655K``, ``4.0G``)."""
    value = float(num_bytes)
    for unit in ("", "K", "M", "G", "T", "P"):
        if value < 1024 or unit == "P":
            if unit == "":
                return f"{int(value)}"
            if value < 10:
                # coreutils rounds up and keeps one decimal below 10
                rounded = _ceil_tenth(value)
                if rounded >= 10:
                    return f"{int(-(-value // 1))}{unit}"
                return f"{rounded:.1f}{unit}"
            return f"{int(-(-value // 1))}{unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _ceil_tenth(value: float) -> float:
    tenths = -(-value * 10 // 1)
    return tenths / 10
