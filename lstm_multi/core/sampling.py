"""Text generation, written once: the backends only run the model forward.

The model's ``forward_with_state(tokens, state) -> (logits, state)`` carries the
LSTM state from one call to the next. The prefix is read in one call (the same
result as d2l's one character at a time), then each new character is chosen in
NumPy, so greedy and seeded sampling give the same text on every backend.
"""

from __future__ import annotations

import numpy as np


def choose_next(logits: np.ndarray, temperature: float, rng: np.random.Generator | None) -> int:
    """Greedy (``temperature == 0``) or softmax sampling at ``temperature``."""
    if temperature == 0:
        return int(np.argmax(logits))
    z = logits.astype(np.float64) / temperature
    p = np.exp(z - z.max())
    return int(rng.choice(len(p), p=p / p.sum()))


def predict(model, prefix: str, num_preds: int, vocab, temperature: float = 0.0,
            seed: int | None = None) -> str:
    """d2l's ``predict``: ``prefix`` followed by ``num_preds`` generated characters.

    Args:
        model: a language model of any backend.
        prefix: at least one character; characters outside the vocabulary read as ``<unk>``.
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
    outputs = list(vocab[list(prefix)])
    logits, state = model.forward_with_state(ops.tensor(np.array([outputs], dtype=np.int32)))
    for _ in range(num_preds):
        next_token = choose_next(ops.to_numpy(logits)[0, -1], temperature, rng)
        outputs.append(next_token)
        logits, state = model.forward_with_state(
            ops.tensor(np.array([[next_token]], dtype=np.int32)), state)
    return "".join(vocab.idx_to_token[i] for i in outputs)
