"""How text becomes tokens: d2l's cleaning (or none) and characters or words.

Shared by the corpus (:mod:`.data`) and generation (:mod:`.sampling`), which prepares a prompt
exactly as the corpus was prepared.
"""

from __future__ import annotations

import re
from collections.abc import Callable


def preprocess(text: str) -> str:
    """d2l: every run of non-letters becomes one space; lower case."""
    return re.sub("[^A-Za-z]+", " ", text).lower()


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
