"""The NumPy side of the backend API: arrays, parameters, gradients, the SGD step (float64).

Gradients come from the reference's hand-written BPTT
(:func:`lstm_multi.reference.lm_loss_and_grads`); a training step clips them by global
norm with :func:`~lstm_multi.core.optim.clip_scale` and applies SGD exactly as
:func:`lstm_multi.reference.sgd_train` does, so without dropout a training run here IS
the reference's. With ``dropout > 0`` a training step runs the stack layer by layer with
inverted-dropout masks (see ``layers.py``); evaluation never drops.
"""

from __future__ import annotations

import numpy as np

from ...core.checks import as_numpy
from ...core.optim import clip_scale
from ...core.params import check_params
from ...reference import cross_entropy as reference_cross_entropy
from ...reference import lm_loss_and_grads, one_hot
from .layers import backward_layers, forward_layers


def tensor(array):
    """NumPy (or another backend's tensor) -> NumPy: floats become float64, integers int64."""
    array = as_numpy(array)
    if np.issubdtype(array.dtype, np.floating):
        return np.asarray(array, dtype=np.float64)
    return np.asarray(array, dtype=np.int64)


def to_numpy(t):
    """A copy as a NumPy array."""
    return np.array(as_numpy(t))


def cross_entropy(logits, targets):
    """Mean cross-entropy of ``logits (B, T, V)`` against ``targets (B, T)`` (a float)."""
    return float(reference_cross_entropy(np.asarray(logits, np.float64), as_numpy(targets))[0])


def get_params(obj) -> dict[str, np.ndarray]:
    """Canonical parameters of a layer or LM, as float32 NumPy arrays (copies)."""
    return obj.to_canonical({name: value.astype(np.float32) for name, value in obj.native_params().items()})


def set_params(obj, params: dict) -> None:
    """Load canonical parameters (shapes checked first, with a clear error), stored as float64."""
    check_params(params, obj.canonical_shapes(), what=type(obj).__name__)
    obj.load_native(obj.from_canonical({k: np.asarray(v, dtype=np.float64) for k, v in params.items()}))


def _canonical(model, grads):
    return {name: grads[name] for name in model.canonical_shapes()}


def loss_and_grads(model, tokens, targets):
    """Mean cross-entropy (float) and its gradient (float64) for every canonical parameter,
    in evaluation mode (no dropout): the reference's own."""
    tokens, targets = model.check_batch(tokens, targets)
    loss, grads = lm_loss_and_grads(model.reference_params(), tokens, targets, config=model.config)
    return loss, _canonical(model, grads)


def _training_loss_and_grads(model, tokens, targets):
    """Loss and gradients of one training step: the reference's without dropout; with it, the
    stack layer by layer through fresh masks (the output layer and embedding as the reference's)."""
    masks = model.rnn.dropout_masks(tokens.shape[1], tokens.shape[0])
    if masks is None:
        return lm_loss_and_grads(model.reference_params(), tokens, targets, config=model.config)
    params = model.reference_params()
    X = params["W_e"][tokens.T] if "W_e" in params else one_hot(tokens, model.vocab_size)
    outputs, _, cache = forward_layers(model.config, params, X, masks=masks)
    logits = (outputs @ params["W_hq"] + params["b_q"]).transpose(1, 0, 2)
    loss, probs = reference_cross_entropy(logits, targets)
    B, T, _ = logits.shape
    d_logits = probs
    d_logits[np.arange(B)[:, None], np.arange(T)[None, :], targets] -= 1.0
    d_logits = d_logits.transpose(1, 0, 2) / (B * T)
    layer_grads, dX = backward_layers(cache, d_logits @ params["W_hq"].T)
    grads = dict(layer_grads)
    if "W_e" in params:
        grads["W_e"] = np.zeros_like(params["W_e"])
        np.add.at(grads["W_e"], tokens.T, dX)
    grads["W_hq"] = np.einsum("tbh,tbv->hv", outputs, d_logits)
    grads["b_q"] = d_logits.sum(axis=(0, 1))
    return float(loss), grads


def train_step(model, tokens, targets, lr: float, clip: float | None) -> float:
    """One SGD step, gradients clipped to global norm ``clip`` (``p - lr * g * min(1, clip / ||g||)``,
    as :func:`lstm_multi.reference.sgd_train`); dropout on. Returns the loss before the update."""
    tokens, targets = model.check_batch(tokens, targets)
    loss, grads = _training_loss_and_grads(model, tokens, targets)
    grads = _canonical(model, grads)
    norm = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
    scale = clip_scale(norm, clip)
    native_grads = model.from_canonical(grads)
    for name, p in model.native_params().items():  # the stored arrays, updated in place
        p[...] = p - lr * (native_grads[name] * scale)
    return loss


def evaluate_loss(model, tokens, targets) -> float:
    """Mean cross-entropy without any update (no dropout)."""
    tokens, targets = model.check_batch(tokens, targets)
    return cross_entropy(model(tokens), targets)
