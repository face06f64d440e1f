"""Vanilla (Elman) RNNs on PyTorch: from scratch and ``torch.nn.RNN`` (tanh).

Both take time-major ``X (num_steps, batch_size, num_inputs)`` and an optional state
``H``, ``(batch_size, num_hiddens)`` for one layer in one direction, else
``(num_layers * directions, batch_size, num_hiddens)``; they return
``outputs (num_steps, batch_size, num_hiddens * directions)`` and the final ``H``
(see :mod:`.layers`).
"""

from __future__ import annotations

import torch
from torch import nn

from ...core.family import LayerConfig
from .layers import NativeLayer, ScratchLayer


class RNNScratch(ScratchLayer):
    """d2l's RNN from scratch: for each step t, ``H = tanh(X_t W_xh + H W_hh + b_h)``.

    Each unit stores ``W_x (d, h)``, ``W_h (h, h)``, ``b (h,)``; ``X_t W_x + b`` is hoisted.
    """

    def __init__(
        self,
        num_inputs: int,
        num_hiddens: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        seed: int = 0,
        init: str | None = None,
        sigma: float | None = None,
    ):
        config = LayerConfig("rnn", num_inputs, num_hiddens, num_layers, bidirectional, dropout)
        super().__init__(config, init=init, sigma=sigma, seed=seed)

    @staticmethod
    def step(config, p, state, XW_t):
        return rnn_step(config, p, state, XW_t)


def rnn_step(config: LayerConfig, p: dict, state: tuple, XW_t):
    """One RNN step: the new ``(H,)`` and its trace ``{"H": H}`` (``XW_t = X_t W_x + b``)."""
    (H,) = state
    H = torch.tanh(XW_t + H @ p["W_h"])
    return (H,), {"H": H}


class RNN(NativeLayer):
    """The concise RNN: ``torch.nn.RNN(nonlinearity="tanh")``, stacked and bidirectional.

    ``weight_ih_l0 (h, d)``, ``weight_hh_l0 (h, h)`` and two biases; canonical
    ``b_h = bias_ih_l0 + bias_hh_l0``, ``bias_hh`` frozen at zero (no gradient).
    """

    TORCH = nn.RNN
    TORCH_ARGS = {"nonlinearity": "tanh"}
    step = staticmethod(rnn_step)  # the same equation, for trace()

    def __init__(
        self,
        num_inputs: int,
        num_hiddens: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        seed: int = 0,
    ):
        config = LayerConfig("rnn", num_inputs, num_hiddens, num_layers, bidirectional, dropout)
        super().__init__(config, seed=seed)
