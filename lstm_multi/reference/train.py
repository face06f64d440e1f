"""The reference training loop: SGD with global-norm clipping on its own gradients (float64)."""

from __future__ import annotations

import numpy as np

from ..core.optim import clip_scale
from .lm import lm_loss_and_grads


def sgd_train(params, batches, lr: float, clip: float | None, config=None):
    """Train a copy of ``params`` on ``batches`` of ``(tokens, targets)``.

    Each step: ``p -= lr * min(1, clip / ||g||) * g`` with ``||g||`` the global norm.
    Returns the loss of every step (before its update) and the final parameters.
    """
    params = {name: np.array(value, dtype=np.float64) for name, value in params.items()}
    losses = []
    for tokens, targets in batches:
        loss, grads = lm_loss_and_grads(params, tokens, targets, config=config)
        norm = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
        scale = clip_scale(norm, clip)
        for name in params:
            params[name] -= lr * scale * grads[name]
        losses.append(loss)
    return np.array(losses), params
