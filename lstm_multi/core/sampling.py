"""Text generation, written once: the backends only run the model forward.

The model's ``forward_with_state(tokens, state) -> (logits, state)`` carries the
LSTM state from one call to the next. The prefix is read in one call (the same
result as d2l's one character at a time), then each new character is chosen in
NumPy from the logits by one seeded generator, so greedy and seeded sampling give the
same text on every backend. (Logits agree across backends to about 1e-6; two
candidates closer than that can swap, which for greedy decoding on random models
happens rarely and for trained models essentially never.)

Sampling, step by step (``z`` the logits of the next character)::

    greedy (temperature 0):  argmax z
    temperature T > 0:       p = softmax(z / T)
    top-k:                   keep the k largest p, renormalise
    top-p (nucleus, Holtzman et al. 2020): keep the smallest set of largest p whose sum
                             reaches top_p, renormalise

Without a temperature: greedy, or temperature 1 when top-k or top-p asks for sampling.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from .text import get_preprocessor, tokenize

if TYPE_CHECKING:
    from .data import Vocab
    from .module import Module


def next_distribution(
    logits: np.ndarray, temperature: float, top_k: int | None = None, top_p: float | None = None
) -> np.ndarray:
    """The probabilities the next character is drawn from (float64, summing to 1)."""
    z = logits.astype(np.float64) / temperature
    p = np.exp(z - z.max())
    p /= p.sum()
    order = np.argsort(-p, kind="stable")  # most likely first; ties keep the lower id first
    keep = np.ones(len(p), dtype=bool)
    if top_k is not None:
        keep[order[top_k:]] = False
    if top_p is not None:
        cumulative = np.cumsum(p[order])
        cut = int(np.searchsorted(cumulative, top_p)) + 1  # the smallest prefix reaching top_p
        keep[order[cut:]] = False
    p = np.where(keep, p, 0.0)
    return p / p.sum()


def choose_next(
    logits: np.ndarray,
    temperature: float,
    rng: np.random.Generator,
    top_k: int | None = None,
    top_p: float | None = None,
) -> int:
    """Greedy (``temperature == 0``) or a draw from :func:`next_distribution` by ``rng``."""
    if temperature == 0:
        return int(np.argmax(logits))
    p = next_distribution(logits, temperature, top_k, top_p)
    return int(rng.choice(len(p), p=p))


def check_sampling(temperature: float, top_k: int | None, top_p: float | None) -> None:
    """A clear ValueError for a bad temperature, top_k or top_p (values of any type are checked)."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature >= 0:
        raise ValueError(f"temperature must be a number >= 0 (0: greedy), got {temperature!r}.")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k must be a positive integer, got {top_k!r}.")
    if top_p is not None and (isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0 < top_p <= 1):
        raise ValueError(f"top_p must be a number in (0, 1], got {top_p!r}.")
    if temperature == 0 and (top_k is not None or top_p is not None):
        raise ValueError(
            "top_k and top_p choose among sampled characters: give a temperature > 0 "
            "(greedy decoding, temperature 0, always takes the most likely one)."
        )


def resolve_temperature(temperature: float | None, top_k: int | None = None, top_p: float | None = None) -> float:
    """``temperature``, or when it is None: 1 if top-k or top-p asks for sampling, else 0 (greedy)."""
    if temperature is not None:
        return temperature
    return 1.0 if top_k is not None or top_p is not None else 0.0


def encode_prefix(prefix: str, vocab: Vocab) -> list[int]:
    """The prefix prepared like the corpus (d2l: lower case, non-letters as one space), as ids;
    characters the vocabulary lacks read as ``<unk>``, with a warning that names them."""
    prepared = tokenize(
        get_preprocessor(getattr(vocab, "preprocessing", "d2l"))(prefix), getattr(vocab, "tokens", "char")
    )
    unknown = sorted({c for c in prepared if c not in vocab.token_to_idx})
    if unknown:
        what = "characters" if getattr(vocab, "tokens", "char") == "char" else "words"
        shown = "".join(unknown) if what == "characters" else " ".join(unknown)
        warnings.warn(f"The prefix has {what} outside the vocabulary, read as <unk>: {shown!r}.", stacklevel=3)
    return [vocab[c] for c in prepared] if prepared else [vocab.unk]


def predict(
    model: Module,
    prefix: str,
    num_preds: int,
    vocab: Vocab,
    temperature: float | None = None,
    seed: int | None = None,
    top_k: int | None = None,
    top_p: float | None = None,
) -> str:
    """d2l's ``predict``: ``prefix`` followed by ``num_preds`` generated characters (or words,
    joined with spaces, for a word vocabulary).

    Args:
        model: a language model of any backend.
        prefix: at least one character, prepared like the corpus (d2l: "Time Traveller" reads
            as "time traveller"); characters outside the vocabulary read as ``<unk>`` (a warning).
        num_preds: how many characters to generate (>= 0).
        temperature: 0 for greedy argmax (d2l), > 0 to sample from softmax(logits / T). Default:
            greedy, or 1 (sampling from the softmax itself) when top_k or top_p is given.
        seed: seeds the sampling generator: the same seed gives the same text on every backend.
        top_k: sample among the k most likely characters only.
        top_p: nucleus sampling: among the most likely characters whose probabilities reach top_p.
    """
    if not isinstance(prefix, str) or not prefix:
        raise ValueError(f"prefix must be a non-empty string, got {prefix!r}.")
    if not isinstance(num_preds, int) or num_preds < 0:
        raise ValueError(f"num_preds must be a non-negative integer, got {num_preds!r}.")
    temperature = resolve_temperature(temperature, top_k, top_p)
    check_sampling(temperature, top_k, top_p)
    ops = model.ops
    rng = np.random.default_rng(seed)
    outputs = encode_prefix(prefix, vocab)
    logits, state = model.forward_with_state(ops.tensor(np.array([outputs], dtype=np.int32)))
    for _ in range(num_preds):
        next_token = choose_next(ops.to_numpy(logits)[0, -1], temperature, rng, top_k, top_p)
        outputs.append(next_token)
        logits, state = model.forward_with_state(ops.tensor(np.array([[next_token]], dtype=np.int32)), state)
    separator = " " if getattr(vocab, "tokens", "char") == "word" else ""
    return separator.join(vocab.idx_to_token[i] for i in outputs)
