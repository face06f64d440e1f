"""How text becomes tokens: d2l's cleaning (or none) and characters or words.

Shared by the corpus (:mod:`.data`) and generation (:mod:`.sampling`), which prepares a prompt
exactly as the corpus was prepared.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np


def preprocess(text: str) -> str:
    """d2l: every run of non-letters becomes one space; lower case."""
    return re.sub("[^A-Za-z]+", " ", text).lower()


def preprocess_utf8(data: np.ndarray, after_letter: bool = True) -> np.ndarray:
    """:func:`preprocess` on UTF-8 bytes (a uint8 array), vectorised: 4x as fast, same result.

    Every byte of a non-ASCII character is >= 0x80, so it is a non-letter like the character
    itself: runs of non-letter bytes are exactly the runs of non-letter characters. A run
    becomes one space (its first byte is kept, as a space); letters become lower case.
    ``after_letter``: whether the byte before ``data`` was a letter (True at the start of a text,
    whose first run becomes a space too), so that a text read in chunks gives the same result.
    Returns the cleaned ASCII bytes (uint8).
    """
    lower = data | 0x20  # ASCII: 'A' | 0x20 = 'a'; uint8 arithmetic, no lookup table (fast)
    letter = (lower >= ord("a")) & (lower <= ord("z"))
    keep = letter.copy()  # a letter, or the first non-letter after a letter
    keep[1:] |= letter[:-1]
    if len(keep):
        keep[0] |= after_letter
    return np.where(letter, lower, np.uint8(ord(" ")))[keep]


#: How text becomes characters: d2l's cleaning (letters a-z and space), or the text as it is.
PREPROCESSORS: dict[str, Callable[[str], str]] = {"d2l": preprocess, "none": lambda text: text}


def get_preprocessor(name: str) -> Callable[[str], str]:
    if name not in PREPROCESSORS:
        raise ValueError(f"Unknown preprocessing {name!r}. Valid: {', '.join(PREPROCESSORS)}.")
    return PREPROCESSORS[name]


def tokenize(text: str, kind: str = "char") -> list[str]:
    """Character tokens, or word tokens (split on white space; d2l 10.1's exercise)."""
    if kind not in TOKENS:
        raise ValueError(f"Unknown tokens {kind!r}. Valid: {', '.join(TOKENS)}.")
    return list(text) if kind == "char" else text.split()


TOKENS = ("char", "word")
