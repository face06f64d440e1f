"""The NumPy reference (float64, hand-written BPTT): the parity oracle for the whole family.

One file per equation set (``lstm.py``, ``gru.py``, ``rnn.py``: one step forward and
backward), ``layer.py`` (stacking, both directions, BPTT), ``lm.py`` (the language model)
and ``train.py`` (SGD with clipping on its own gradients).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .heads import task_forward, task_loss_and_grads
from .layer import layer_backward, layer_forward, trace
from .lm import cross_entropy, lm_forward, lm_loss_and_grads, one_hot
from .train import sgd_train, train

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ..core.types import Params, State
    from .common import Array, Cache


def lstm_forward(params: Params, X: ArrayLike, state: State | None = None) -> tuple[Array, State, Cache]:
    """A one-layer LSTM (the configuration inferred from ``params``): see :func:`layer_forward`."""
    from .layer import infer_config

    return layer_forward(infer_config(params), params, X, state)


lstm_backward = layer_backward

__all__ = [
    "cross_entropy",
    "layer_backward",
    "layer_forward",
    "lm_forward",
    "lm_loss_and_grads",
    "lstm_backward",
    "lstm_forward",
    "one_hot",
    "sgd_train",
    "task_forward",
    "task_loss_and_grads",
    "trace",
    "train",
]
