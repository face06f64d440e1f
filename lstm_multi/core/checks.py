"""Input checks shared by all backends, so bad shapes fail with one clear message
before any framework sees them (never a traceback from inside a framework)."""

from __future__ import annotations

import numpy as np


def check_sequence(shape, num_inputs: int) -> None:
    """``X`` must be time-major ``(num_steps, batch_size, num_inputs)``."""
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or shape[2] != num_inputs or 0 in shape:
        raise ValueError(f"LSTM input must have shape (num_steps, batch_size, {num_inputs}) "
                         f"(time-major, num_inputs={num_inputs}), got {shape}.")


def check_state(state, batch_size: int, num_hiddens: int) -> None:
    """A state is a pair ``(H, C)``, each ``(batch_size, num_hiddens)``."""
    expected = (batch_size, num_hiddens)
    if (not isinstance(state, (tuple, list)) or len(state) != 2
            or any(tuple(int(s) for s in np.shape(x)) != expected for x in state)):
        shapes = ([tuple(np.shape(x)) for x in state] if isinstance(state, (tuple, list))
                  else type(state).__name__)
        raise ValueError(f"LSTM state must be a pair (H, C) of shape {expected} each, got {shapes}.")


def check_tokens(tokens, vocab_size: int, name: str = "tokens") -> None:
    """Token ids: ``(batch_size, num_steps)`` integers in ``[0, vocab_size)``.

    Values are checked only for NumPy input (checking a framework tensor would
    force a device sync on every step).
    """
    shape = tuple(int(s) for s in np.shape(tokens))
    if len(shape) != 2 or 0 in shape:
        raise ValueError(f"{name} must have shape (batch_size, num_steps), got {shape}.")
    if isinstance(tokens, np.ndarray):
        if not np.issubdtype(tokens.dtype, np.integer):
            raise ValueError(f"{name} must be integers, got dtype {tokens.dtype}.")
        low, high = int(tokens.min()), int(tokens.max())
        if low < 0 or high >= vocab_size:
            raise ValueError(f"{name} must lie in [0, {vocab_size}) (the vocabulary size), "
                             f"got values from {low} to {high}.")


def check_batch(tokens, targets, vocab_size: int):
    """A training batch: ``tokens`` and ``targets`` as NumPy ``(batch_size, num_steps)`` ids."""
    tokens, targets = np.asarray(tokens), np.asarray(targets)
    check_tokens(tokens, vocab_size)
    check_tokens(targets, vocab_size, name="targets")
    if tokens.shape != targets.shape:
        raise ValueError(f"targets must have the shape of tokens {tokens.shape}, got {targets.shape}.")
    return tokens, targets


def check_model_sizes(num_inputs, num_hiddens) -> None:
    for name, value in (("num_inputs", num_inputs), ("num_hiddens", num_hiddens)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")


def check_lm_sizes(rnn, vocab_size) -> None:
    """The LM feeds one-hot characters, so the LSTM's input size is the vocabulary size."""
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)) or vocab_size < 1:
        raise ValueError(f"vocab_size must be a positive integer, got {vocab_size!r}.")
    if rnn.num_inputs != vocab_size:
        raise ValueError(f"The LSTM takes {rnn.num_inputs} inputs but the one-hot characters have "
                         f"vocab_size={vocab_size}: build it with num_inputs={vocab_size}.")
