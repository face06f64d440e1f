"""Text generation, written once: the backends only run the model forward.

The model's ``forward_with_state(tokens, state) -> (logits, state)`` carries the
LSTM state from one call to the next. The prefix is read in one call (the same
result as d2l's one character at a time), then each new character is chosen in
NumPy, so greedy and seeded sampling give the same text on every backend.
"""

from __future__ import annotations

import warnings

import numpy as np

from .data import get_preprocessor


def choose_next(logits: np.ndarray, temperature: float, rng: np.random.Generator | None) -> int:
    """Greedy (``temperature == 0``) or softmax sampling at ``temperature``."""
    if temperature == 0:
        return int(np.argmax(logits))
    z = logits.astype(np.float64) / temperature
    p = np.exp(z - z.max())
    return int(rng.choice(len(p), p=p / p.sum()))


def encode_prefix(prefix: str, vocab) -> list[int]:
    """The prefix prepared like the corpus (d2l: lower case, non-letters as one space), as ids;
    characters the vocabulary lacks read as ``<unk>``, with a warning that names them."""
    prepared = get_preprocessor(getattr(vocab, "preprocessing", "d2l"))(prefix)
    unknown = sorted({c for c in prepared if c not in vocab.token_to_idx})
    if unknown:
        warnings.warn(f"The prefix has characters outside the vocabulary, read as <unk>: "
                      f"{''.join(unknown)!r}.", stacklevel=3)
    return [vocab[c] for c in prepared] if prepared else [vocab.unk]


def predict(model, prefix: str, num_preds: int, vocab, temperature: float = 0.0,
            seed: int | None = None) -> str:
    """d2l's ``predict``: ``prefix`` followed by ``num_preds`` generated characters.

    Args:
        model: a language model of any backend.
        prefix: at least one character, prepared like the corpus (d2l: "Time Traveller" reads
            as "time traveller"); characters outside the vocabulary read as ``<unk>`` (a warning).
        num_preds: how many characters to generate (>= 0).
        temperature: 0 for greedy argmax (d2l), > 0 to sample from softmax(logits / T).
        seed: seeds the sampling generator.
    """
    if not isinstance(prefix, str) or not prefix:
        raise ValueError(f"prefix must be a non-empty string, got {prefix!r}.")
    if not isinstance(num_preds, int) or num_preds < 0:
        raise ValueError(f"num_preds must be a non-negative integer, got {num_preds!r}.")
    if not temperature >= 0:
        raise ValueError(f"temperature must be >= 0, got {temperature!r}.")
    ops = model.ops
    rng = np.random.default_rng(seed)
    outputs = encode_prefix(prefix, vocab)
    logits, state = model.forward_with_state(ops.tensor(np.array([outputs], dtype=np.int32)))
    for _ in range(num_preds):
        next_token = choose_next(ops.to_numpy(logits)[0, -1], temperature, rng)
        outputs.append(next_token)
        logits, state = model.forward_with_state(
            ops.tensor(np.array([[next_token]], dtype=np.int32)), state)
    return "".join(vocab.idx_to_token[i] for i in outputs)
