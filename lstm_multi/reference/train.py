"""The reference training loop: an optimizer after global-norm clipping, on its own gradients (float64)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TypeAlias

import numpy as np
from numpy.typing import ArrayLike

from ..core.family import LayerConfig
from ..core.optim import SGD, Optimizer, clip_scale
from ..core.types import Params
from .common import Array
from .lm import lm_loss_and_grads

#: ``loss_and_grads(params, inputs, targets) -> (loss, grads)``: a model's loss and every gradient
LossAndGrads: TypeAlias = Callable[[Params, ArrayLike, ArrayLike], tuple[float, Params]]


def train(
    params: Params,
    batches: Iterable[tuple[ArrayLike, ArrayLike]],
    optimizer: Optimizer,
    clip: float | None,
    config: LayerConfig | None = None,
    loss_and_grads: LossAndGrads | None = None,
) -> tuple[Array, Params]:
    """Train a copy of ``params`` on ``batches`` of ``(inputs, targets)`` with ``optimizer``
    (:class:`~lstm_multi.core.optim.SGD` or ``Adam``), gradients clipped to global norm ``clip``.

    ``loss_and_grads(params, inputs, targets)``: the model's (default: the language
    model's, :func:`~lstm_multi.reference.lm_loss_and_grads` with ``config``).
    Returns the loss of every step (before its update) and the final parameters.
    """
    if loss_and_grads is None:
        loss_and_grads = functools.partial(lm_loss_and_grads, config=config)
    names = list(params)
    values = [np.array(params[name], dtype=np.float64) for name in names]
    slots = {slot: [np.zeros_like(p) for p in values] for slot in optimizer.slots}
    losses = []
    for step, (tokens, targets) in enumerate(batches, start=1):
        loss, grads = loss_and_grads(dict(zip(names, values)), tokens, targets)
        norm = float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))
        scale = clip_scale(norm, clip)
        values, slots = optimizer.update(values, [grads[n] * scale for n in names], slots, step, np.sqrt)
        losses.append(loss)
    return np.array(losses), dict(zip(names, values))


def sgd_train(
    params: Params,
    batches: Iterable[tuple[ArrayLike, ArrayLike]],
    lr: float,
    clip: float | None,
    config: LayerConfig | None = None,
) -> tuple[Array, Params]:
    """:func:`train` with plain SGD: each step ``p -= lr * min(1, clip / ||g||) * g``."""
    return train(params, batches, SGD(lr), clip, config)
