"""Parentheses matching: is every bracket of a string closed in the right order?

The task the course uses to motivate LSTMs: strings of ``length`` symbols over a-z,
``(`` and ``)`` (28 symbols, one-hot), label 1 if the brackets are balanced, else 0;
half of each. Every unbalanced string has as many ``(`` as ``)`` (a balanced string
with one bracket moved, or with one ``(`` and one ``)`` swapped), so counting cannot
tell the classes apart: the model has to track the nesting depth along the sequence,
a long-range dependency.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
from numpy.typing import ArrayLike

from ..module import DataModule

ALPHABET = "abcdefghijklmnopqrstuvwxyz()"
OPEN, CLOSE = ALPHABET.index("("), ALPHABET.index(")")


def is_balanced(tokens: ArrayLike) -> bool:
    depths = np.cumsum((np.asarray(tokens) == OPEN).astype(int) - (np.asarray(tokens) == CLOSE))
    return bool(depths.min(initial=0) >= 0 and depths[-1] == 0)


def balanced_string(length: int, rng: np.random.Generator) -> np.ndarray:
    """Letters with 1 .. length // 4 bracket pairs, nested and in sequence at random."""
    pairs = int(rng.integers(1, max(length // 4, 1) + 1))
    brackets, depth, left = [], 0, pairs  # a random Dyck word of `pairs` pairs
    while left or depth:
        if left and (depth == 0 or rng.random() < 0.5):
            brackets.append(OPEN)
            depth, left = depth + 1, left - 1
        else:
            brackets.append(CLOSE)
            depth -= 1
    tokens = rng.integers(0, 26, length)
    positions = np.sort(rng.choice(length, size=len(brackets), replace=False))
    tokens[positions] = brackets
    return tokens


def unbalanced_string(length: int, rng: np.random.Generator) -> np.ndarray:
    """A balanced string made unbalanced with equal counts: one bracket moved, or a pair swapped."""
    while True:
        tokens = balanced_string(length, rng)
        brackets = np.flatnonzero((tokens == OPEN) | (tokens == CLOSE))
        if rng.random() < 0.5:  # move one bracket to another place
            i = rng.choice(brackets)
            symbol, rest = tokens[i], np.delete(tokens, i)
            tokens = np.insert(rest, rng.integers(0, length), symbol)
        else:  # swap one "(" with one ")" (each flipped)
            opens, closes = brackets[tokens[brackets] == OPEN], brackets[tokens[brackets] == CLOSE]
            i, j = rng.choice(opens), rng.choice(closes)
            tokens[i], tokens[j] = CLOSE, OPEN
        if not is_balanced(tokens):
            return tokens


def make_parentheses(num: int, length: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``num`` strings ``(num, length)`` of symbol ids and labels ``(num,)``, half balanced, shuffled."""
    rng = np.random.default_rng(seed)
    labels = np.arange(num) % 2
    X = np.stack([balanced_string(length, rng) if y else unbalanced_string(length, rng) for y in labels])
    order = rng.permutation(num)
    return X[order].astype(np.int32), labels[order].astype(np.int32)


def decode(tokens: Iterable[int]) -> str:
    return "".join(ALPHABET[t] for t in tokens)


class Parentheses(DataModule):
    """Balanced-parentheses classification data.

    Args:
        batch_size: strings per batch.
        length: symbols per string (the course: 25; 100 is the hard exercise).
        num_train, num_val: strings in each split (disjoint draws).
        seed: seeds the strings and the shuffling of training batches.

    Batches are ``(X (B, length) int32 symbol ids, y (B,) int32 labels)``.
    """

    vocab_size = len(ALPHABET)
    num_classes = 2
    num_train: int  # saved by save_hyperparameters
    num_val: int

    def __init__(
        self, batch_size: int = 100, length: int = 25, num_train: int = 10000, num_val: int = 2000, seed: int = 0
    ) -> None:
        super().__init__()
        for name, value in (("batch_size", batch_size), ("num_train", num_train), ("num_val", num_val)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 4:
            raise ValueError(f"length must be an integer >= 4 (room for brackets), got {length!r}.")
        self.save_hyperparameters()
        X, y = make_parentheses(num_train + num_val, length, seed)
        self.X, self.y = X, y
        self.rng = np.random.default_rng(seed + 1)

    def get_dataloader(self, train: bool) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if train:
            indices = self.rng.permutation(self.num_train)
        else:
            indices = np.arange(self.num_train, self.num_train + self.num_val)
        for start in range(0, len(indices), self.batch_size):
            batch = indices[start : start + self.batch_size]
            yield self.X[batch], self.y[batch]

    def num_batches(self, train: bool) -> int:
        return -(-(self.num_train if train else self.num_val) // self.batch_size)
