"""Input checks shared by all backends, so bad shapes fail with one clear message
before any framework sees them (never a traceback from inside a framework)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .types import State, Tensor

if TYPE_CHECKING:
    from .family import LayerConfig


def check_positive(name: str, value: float, integer: bool = False) -> float:
    """Raise a clear ``ValueError`` unless ``value`` is a positive (integer) number."""
    kind = "integer" if integer else "number"
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive {kind}, got {value!r}.")
    return value


def check_sequence(shape: Sequence[int], config: LayerConfig) -> None:
    """``X`` must be time-major ``(num_steps, batch_size, num_inputs)``."""
    shape = tuple(int(s) for s in shape)
    d = config.num_inputs
    if len(shape) != 3 or shape[2] != d or 0 in shape:
        raise ValueError(
            f"{config.spec.title} input must have shape (num_steps, batch_size, {d}) "
            f"(time-major, num_inputs={d}), got {shape}."
        )


def check_state(state: State, config: LayerConfig, batch_size: int) -> None:
    """An LSTM's state is a pair ``(H, C)``, a GRU's or RNN's one tensor ``H``; each
    ``(batch_size, h)``, or ``(layers * directions, batch_size, h)`` for stacked or
    bidirectional layers."""
    expected = config.state_shape(batch_size)
    names = config.spec.state
    shape_of = lambda x: tuple(int(s) for s in np.shape(x))
    if len(names) == 1:
        if isinstance(state, (tuple, list)) or shape_of(state) != expected:
            got = [shape_of(x) for x in state] if isinstance(state, (tuple, list)) else shape_of(state)
            raise ValueError(f"{config.spec.title} state must be H of shape {expected}, got {got}.")
        return
    if not isinstance(state, (tuple, list)) or len(state) != len(names) or any(shape_of(x) != expected for x in state):
        found = [shape_of(x) for x in state] if isinstance(state, (tuple, list)) else type(state).__name__
        raise ValueError(
            f"{config.spec.title} state must be a pair ({', '.join(names)}) of shape {expected} each, got {found}."
        )


def check_tokens(tokens: Tensor, vocab_size: int, name: str = "tokens") -> None:
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
            raise ValueError(
                f"{name} must lie in [0, {vocab_size}) (the vocabulary size), got values from {low} to {high}."
            )


def as_numpy(array: Tensor) -> np.ndarray:
    """NumPy input as it is, or any backend's tensor as NumPy."""
    if hasattr(array, "asnumpy"):  # MXNet
        return array.asnumpy()
    if hasattr(array, "detach"):  # torch
        array = array.detach().cpu()
    return np.asarray(array)


def check_batch(tokens: Tensor, targets: Tensor, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """A training batch: ``tokens`` and ``targets`` as NumPy ``(batch_size, num_steps)`` ids
    (NumPy arrays or the backend's own tensors)."""
    tokens, targets = as_numpy(tokens), as_numpy(targets)
    check_tokens(tokens, vocab_size)
    check_tokens(targets, vocab_size, name="targets")
    if tokens.shape != targets.shape:
        raise ValueError(f"targets must have the shape of tokens {tokens.shape}, got {targets.shape}.")
    return tokens, targets
