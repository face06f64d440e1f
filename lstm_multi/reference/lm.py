"""The reference character language model: one-hot characters (or an embedding) -> layer
-> output layer, its mean cross-entropy and every gradient (float64).

``tokens (B, T)`` ints; logits ``(B, T, V)``; ``params`` holds the layer's canonical
parameters, ``W_hq (h, V)``, ``b_q (V,)`` and, for an embedding, ``W_e (V, e)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from ..core.family import LayerConfig
from ..core.types import Params, State
from .common import Array, Cache
from .layer import f64, infer_config, layer_backward, layer_forward

OWN = ("W_e", "W_hq", "b_q")


def one_hot(tokens: ArrayLike, vocab_size: int) -> Array:
    """``tokens (B, T)`` -> time-major one-hot ``(T, B, vocab_size)``, float64."""
    return np.eye(vocab_size)[np.asarray(tokens).T]


def layer_config(params: Mapping[str, ArrayLike], config: LayerConfig | None) -> LayerConfig:
    return config if config is not None else infer_config({k: v for k, v in params.items() if k not in OWN})


def lm_forward(
    params: Params,
    tokens: ArrayLike,
    state: State | None = None,
    config: LayerConfig | None = None,
    masks: Sequence[Array] | None = None,
) -> tuple[Array, State, Cache]:
    """Returns ``logits (B, T, V)``, the layer's final state and a cache.

    ``config`` is the layer's :class:`~lstm_multi.core.family.LayerConfig` (``None``: inferred
    for a single layer in one direction); ``masks``: dropout between layers (see layer.py).
    """
    params = f64(params)
    config = layer_config(params, config)
    tokens = np.asarray(tokens)
    vocab_size = params["b_q"].shape[0]
    X = params["W_e"][tokens.T] if "W_e" in params else one_hot(tokens, vocab_size)
    outputs, state, cache = layer_forward(config, params, X, state, masks)
    logits = outputs @ params["W_hq"] + params["b_q"]  # (T, B, V)
    cache.update(params=params, layer_outputs=outputs, tokens=tokens)
    return logits.transpose(1, 0, 2), state, cache


def cross_entropy(logits: Array, targets: ArrayLike) -> tuple[float, Array]:
    """Mean cross-entropy of ``logits (..., V)`` against integer ``targets (...)``; also softmax."""
    z = logits - logits.max(axis=-1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, np.asarray(targets)[..., None], axis=-1)
    return -picked.mean(), np.exp(log_probs)


def lm_loss_and_grads(
    params: Params,
    tokens: ArrayLike,
    targets: ArrayLike,
    state: State | None = None,
    config: LayerConfig | None = None,
    masks: Sequence[Array] | None = None,
) -> tuple[float, Params]:
    """Mean cross-entropy of the LM on ``tokens (B, T)`` and its gradient for every parameter.

    Returns ``(loss: float, grads: dict)``, gradients float64 in canonical names and order.
    """
    logits, _, cache = lm_forward(params, tokens, state, config, masks)
    loss, probs = cross_entropy(logits, targets)
    B, T, V = logits.shape
    d_logits = probs
    d_logits[np.arange(B)[:, None], np.arange(T)[None, :], np.asarray(targets)] -= 1.0
    d_logits = d_logits.transpose(1, 0, 2) / (B * T)  # (T, B, V), mean over tokens
    params = cache["params"]
    layer_grads, dX, _ = layer_backward(cache, d_logits @ params["W_hq"].T)
    grads: Params = {}
    if "W_e" in params:
        grads["W_e"] = np.zeros_like(params["W_e"])
        np.add.at(grads["W_e"], cache["tokens"].T, dX)  # each token's row gets its steps' dX
    grads.update(layer_grads)
    grads["W_hq"] = np.einsum("tbh,tbv->hv", cache["layer_outputs"], d_logits)
    grads["b_q"] = d_logits.sum(axis=(0, 1))
    return float(loss), grads
