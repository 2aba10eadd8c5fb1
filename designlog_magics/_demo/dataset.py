"""The demo's dataset: made-up words and their capitalized forms, split 80/10/10.

Why: the design verifies a dataset (its splits and their sizes) and the plan's step counts come
from its size; pronounceable made-up words give a dataset of any size, the same on every build.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

DATASET_RELATIVE = Path("data/green/capitalization/words_8L_80P_10000.json")
_ONSETS = ("b", "c", "d", "f", "g", "h", "l", "m", "n", "p", "r", "s", "t", "v", "br", "st", "tr")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "ou")
_CODAS = ("", "n", "r", "l", "s", "t", "m", "nd", "rt", "st")


def demo_words(count: int = 10_000, length: int = 8, seed: int = 8) -> list[str]:
    """``count`` distinct pronounceable made-up words of ``length`` letters."""
    rng = random.Random(seed)
    seen: set[str] = set()
    words: list[str] = []
    while len(words) < count:
        word = ""
        while len(word) < length:
            word += rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)
        word = word[:length]
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def split_dataset(words: Sequence[str]) -> dict[str, list[dict[str, str]]]:
    """80% train, 10% validation, 10% test: each record a word and its capitalized form."""
    records = [
        {"instruction": "Capitalize", "input": word, "output": word.upper()} for word in words
    ]
    train, validation = len(records) * 8 // 10, len(records) * 9 // 10
    return {
        "train": records[:train],
        "validation": records[train:validation],
        "test": records[validation:],
    }
