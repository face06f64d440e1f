"""The reference task models: a recurrent layer and a head on its last hidden state (float64).

Features: the last layer's output at the last step, ``(B, h)``; for a bidirectional
layer the forward half at the last step and the reverse half at the first (each
direction's summary of the whole sequence), ``(B, 2h)``. Heads::

    linear:  y = F W_out + b_out
    mlp:     y = relu(F W_mlp + b_mlp) W_out + b_out

Classification: logits ``(B, C)``, mean cross-entropy; regression: ``y (B,)``, mean
squared error. Inputs: symbol ids ``(B, T)`` one-hot, or real values ``(B, T)`` as
one feature per step.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from ..core.family import LayerConfig
from ..core.types import Params
from .common import Array, Cache
from .layer import f64, layer_backward, layer_forward
from .lm import cross_entropy

HEAD = ("W_mlp", "b_mlp", "W_out", "b_out")


def encode(inputs: ArrayLike, num_inputs: int) -> Array:
    """``(B, T)`` ids -> one-hot ``(T, B, d)``; ``(B, T)`` reals -> ``(T, B, 1)``."""
    inputs = np.asarray(inputs)
    if np.issubdtype(inputs.dtype, np.integer):
        return np.eye(num_inputs)[inputs.T]
    return inputs.T[..., None].astype(np.float64)


def features(config: LayerConfig, outputs: Array) -> Array:
    h = config.num_hiddens
    if config.bidirectional:
        return np.concatenate([outputs[-1, :, :h], outputs[0, :, h:]], axis=-1)
    return outputs[-1]


def head_forward(params: Params, F: Array) -> tuple[Array, Array | None]:
    hidden = None
    if "W_mlp" in params:
        hidden = np.maximum(F @ params["W_mlp"] + params["b_mlp"], 0.0)
        F = hidden
    return F @ params["W_out"] + params["b_out"], hidden


def task_forward(
    config: LayerConfig, params: Params, inputs: ArrayLike, masks: Sequence[Array] | None = None
) -> tuple[Array, Cache]:
    """``(B, C)`` logits (or ``(B, 1)`` predictions) and a cache (``masks``: dropout, see layer.py)."""
    params = f64(params)
    outputs, _, cache = layer_forward(config, params, encode(inputs, config.num_inputs), masks=masks)
    F = features(config, outputs)
    y, hidden = head_forward(params, F)
    cache.update(params=params, F=F, hidden=hidden, outputs=outputs)
    return y, cache


def task_loss_and_grads(
    config: LayerConfig,
    params: Params,
    inputs: ArrayLike,
    targets: ArrayLike,
    kind: str,
    masks: Sequence[Array] | None = None,
) -> tuple[float, Params]:
    """Mean loss (``kind`` "classification": cross-entropy, "regression": MSE) and every gradient."""
    y, cache = task_forward(config, params, inputs, masks)
    params, F, hidden, B = cache["params"], cache["F"], cache["hidden"], len(y)
    if kind == "classification":
        loss, probs = cross_entropy(y, targets)
        d_y = probs
        d_y[np.arange(B), np.asarray(targets)] -= 1.0
        d_y /= B
    else:
        diff = y[:, 0] - np.asarray(targets, np.float64)
        loss, d_y = float(np.mean(diff**2)), (2 * diff / B)[:, None]
    head_in = hidden if hidden is not None else F
    grads = {"W_out": head_in.T @ d_y, "b_out": d_y.sum(0)}
    d_F = d_y @ params["W_out"].T
    if hidden is not None:
        d_pre = d_F * (hidden > 0)
        grads.update(W_mlp=F.T @ d_pre, b_mlp=d_pre.sum(0))
        d_F = d_pre @ params["W_mlp"].T
    d_outputs = np.zeros_like(cache["outputs"])
    h = config.num_hiddens
    d_outputs[-1, :, :h] = d_F[:, :h]
    if config.bidirectional:
        d_outputs[0, :, h:] = d_F[:, h:]
    layer_grads, _, _ = layer_backward(cache, d_outputs)
    grads = {**layer_grads, **{name: grads[name] for name in HEAD if name in grads}}
    return float(loss), grads
