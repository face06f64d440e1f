"""The Time Machine corpus, d2l's character vocabulary and its window data module.

Everything here is NumPy, so every backend sees the same batches in the same
order for one seed. It reproduces d2l's preprocessing exactly (chapter
"Converting Raw Text into Sequence Data"): non-letters become one space, text is
lower-cased, tokens are characters, and the vocabulary is sorted with ``<unk>``.
"""

from __future__ import annotations

import collections
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, overload

import numpy as np

from .module import DataModule
from .text import get_preprocessor, preprocess, tokenize

TIME_MACHINE_SHA1 = "090b5e7e70c295757f55df93cb0a180b9691891a"


class CorpusError(ValueError):
    """The text to train on is missing, corrupt or too short."""


def read_time_machine() -> str:
    """The bundled text of H. G. Wells' *The Time Machine* (d2l's file), SHA1-checked."""
    raw = resources.files("lstm_multi").joinpath("data/timemachine.txt").read_bytes()
    digest = hashlib.sha1(raw).hexdigest()
    if digest != TIME_MACHINE_SHA1:
        raise CorpusError(
            f"The bundled timemachine.txt is corrupt: SHA1 {digest}, expected {TIME_MACHINE_SHA1}. "
            "Reinstall lstm-multi."
        )
    return raw.decode("utf-8")


def read_text_file(path: str | Path) -> str:
    """A user's own training text, with clear errors for the usual mistakes."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"Text file {str(path)!r} does not exist or is not a file.")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise CorpusError(f"Text file {str(path)!r} is not UTF-8 text ({err.reason}).") from None


class Vocab:
    """d2l's vocabulary: tokens sorted, ``<unk>`` and reserved tokens included.

    For the Time Machine it has 28 tokens: ``' '``, ``'<unk>'``, ``'a'`` ... ``'z'``.
    ``preprocessing`` names how the corpus was cleaned (see :data:`.text.PREPROCESSORS`).
    """

    preprocessing = "d2l"
    tokens = "char"  # or "word": generation joins words with spaces

    def __init__(self, tokens: Iterable[Any] = (), min_freq: int = 0, reserved_tokens: Iterable[str] = ()) -> None:
        """``tokens``: strings, or lists of strings (lines), counted together."""
        tokens = list(tokens)
        if tokens and isinstance(tokens[0], list):
            tokens = [token for line in tokens for token in line]
        self._from_counts(collections.Counter(tokens), min_freq, reserved_tokens)

    @classmethod
    def from_counts(cls, counts: Mapping[str, int], min_freq: int = 0, reserved_tokens: Iterable[str] = ()) -> Vocab:
        """The vocabulary of tokens counted elsewhere (``{token: count}``), as ``Vocab(tokens)`` builds
        it: a corpus too large for memory is counted in chunks (``core.tokenfile.prepare``)."""
        vocab = cls.__new__(cls)
        vocab._from_counts(counts, min_freq, reserved_tokens)
        return vocab

    def _from_counts(self, counts: Mapping[str, int], min_freq: int, reserved_tokens: Iterable[str]) -> None:
        self.token_freqs = sorted(counts.items(), key=lambda x: x[1], reverse=True)
        self.idx_to_token = sorted(
            set(["<unk>", *reserved_tokens] + [t for t, freq in self.token_freqs if freq >= min_freq])
        )
        self.token_to_idx = {token: idx for idx, token in enumerate(self.idx_to_token)}

    @classmethod
    def from_tokens(cls, idx_to_token: list[str]) -> Vocab:
        """Rebuild a vocabulary from its ordered token list (as stored in checkpoints)."""
        vocab = cls.__new__(cls)
        vocab.token_freqs = []
        vocab.idx_to_token = list(idx_to_token)
        vocab.token_to_idx = {token: idx for idx, token in enumerate(vocab.idx_to_token)}
        if "<unk>" not in vocab.token_to_idx:
            raise CorpusError("A vocabulary needs the token '<unk>'.")
        return vocab

    def __len__(self) -> int:
        return len(self.idx_to_token)

    @overload
    def __getitem__(self, tokens: str) -> int: ...

    @overload
    def __getitem__(self, tokens: list[str] | tuple[str, ...]) -> list[int]: ...

    def __getitem__(self, tokens: str | list[str] | tuple[str, ...]) -> int | list[int]:
        """A token's index (``<unk>``'s for an unknown one), or a list of them."""
        if not isinstance(tokens, (list, tuple)):
            return self.token_to_idx.get(tokens, self.unk)
        return [self[token] for token in tokens]

    def to_tokens(self, indices: int | Sequence[int] | np.ndarray) -> str | list[str]:
        """Several indices -> their tokens; one index -> its token."""
        if hasattr(indices, "__len__") and len(indices) > 1:
            return [self.idx_to_token[int(index)] for index in np.asarray(indices)]
        return self.idx_to_token[int(np.asarray(indices).reshape(-1)[0])]

    @property
    def unk(self) -> int:
        return self.token_to_idx["<unk>"]


def build_corpus(
    raw_text: str, vocab: Vocab | None = None, preprocessing: str = "d2l", tokens: str = "char", min_freq: int = 0
) -> tuple[list[int], Vocab]:
    """d2l's ``TimeMachine.build``: token indices of the whole text and the vocabulary
    (tokens seen fewer than ``min_freq`` times become ``<unk>``)."""
    words = tokenize(get_preprocessor(preprocessing)(raw_text), tokens)  # characters or words
    if vocab is None:
        vocab = Vocab(words, min_freq=min_freq)
        vocab.preprocessing, vocab.tokens = preprocessing, tokens
    return [vocab[token] for token in words], vocab


def check_window_options(batch_size: int, num_steps: int, num_train: int, num_val: int) -> None:
    """Batches of windows: positive sizes (``num_val`` may be 0: no validation)."""
    for name, value in (("batch_size", batch_size), ("num_steps", num_steps), ("num_train", num_train)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if not isinstance(num_val, (int, np.integer)) or num_val < 0:
        raise ValueError(f"num_val must be a non-negative integer, got {num_val!r}.")


def not_latin(source: str, letters: int, characters: int, command: str) -> CorpusError:
    """d2l's preprocessing would drop most of the text (it keeps a-z and spaces): say what to do."""
    return CorpusError(
        f"{source} has {letters} letters a-z among {characters} characters: d2l's preprocessing "
        "keeps only a-z and spaces. To keep the text's own characters (any language), "
        f"use preprocessing='none' ({command})."
    )


class TimeMachine(DataModule):
    """Overlapping windows of ``num_steps`` characters, as in d2l.

    Window ``i`` is ``corpus[i : i + num_steps]`` and its targets are shifted by
    one. The first ``num_train`` windows train, the next ``num_val`` validate.
    ``X``, ``Y``: int32 arrays of shape ``(num_windows, num_steps)``.

    Args:
        batch_size, num_steps, num_train, num_val: as in d2l.
        text: a path to train on instead of the bundled Time Machine.
        preprocessing: ``"d2l"`` (letters a-z and space, lower case: the book's) or ``"none"``
            (the text's own characters, any language; the vocabulary is built from them).
        tokens: ``"char"`` (d2l) or ``"word"``: windows of ``num_steps`` words.
        min_freq: tokens seen fewer times read as ``<unk>`` (default 0 for characters, 2 for words).
        seed: seeds the shuffling of training windows (one NumPy generator,
            so every backend sees the same batches in the same order).
    """

    num_steps: int  # these three are saved by save_hyperparameters
    num_train: int
    num_val: int

    def __init__(
        self,
        batch_size: int,
        num_steps: int,
        num_train: int = 10000,
        num_val: int = 5000,
        text: str | Path | None = None,
        seed: int = 0,
        preprocessing: str = "d2l",
        tokens: str = "char",
        min_freq: int | None = None,
    ) -> None:
        super().__init__()
        check_window_options(batch_size, num_steps, num_train, num_val)
        self.save_hyperparameters()
        raw = read_time_machine() if text is None else read_text_file(text)
        if min_freq is None:
            min_freq = 2 if tokens == "word" else 0
        corpus, self.vocab = build_corpus(raw, preprocessing=preprocessing, tokens=tokens, min_freq=min_freq)
        num_windows = len(corpus) - num_steps
        source = "The Time Machine" if text is None else repr(str(text))
        if preprocessing == "d2l" and len(preprocess(raw)) < len(raw) // 2:
            letters = sum(c.isascii() and c.isalpha() for c in raw)
            raise not_latin(source, letters, len(raw), "lstm-multi train --preprocess none")
        if num_windows < num_train + num_val:
            raise CorpusError(
                f"{source} gives {max(num_windows, 0)} windows of {num_steps} steps, fewer than "
                f"num_train + num_val = {num_train + num_val}. Use a longer text or smaller "
                "num_train / num_val / num_steps."
            )
        ids = np.asarray(corpus, dtype=np.int32)
        # All windows at once (a strided view, copied): row i is corpus[i : i + num_steps + 1].
        windows = np.lib.stride_tricks.sliding_window_view(ids, num_steps + 1)[:num_windows]
        self.X = np.ascontiguousarray(windows[:, :-1])
        self.Y = np.ascontiguousarray(windows[:, 1:])
        self.rng = np.random.default_rng(seed)

    def get_dataloader(self, train: bool) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Batches of ``(X, Y)`` NumPy arrays; training windows are shuffled each call."""
        if train:
            indices = self.rng.permutation(self.num_train)
        else:
            indices = np.arange(self.num_train, self.num_train + self.num_val)
        for start in range(0, len(indices), self.batch_size):
            batch = indices[start : start + self.batch_size]
            yield self.X[batch], self.Y[batch]

    def num_batches(self, train: bool) -> int:
        n = self.num_train if train else self.num_val
        return -(-n // self.batch_size)
