"""Vanilla (tanh) RNNs on JAX with Flax NNX: the from-scratch cell and ``nnx.SimpleCell``.

Time-major ``X (T, B, d)`` and an optional state ``H`` (``(B, h)``, or stacked
``(layers * directions, B, h)``) -> ``outputs (T, B, h * directions)``, the final ``H``;
see :mod:`.layers`.
"""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from ...core.family import LayerConfig
from ...core.params import FusedLayout
from .layers import NativeLayer, ScratchLayer


class RNNScratch(ScratchLayer):
    """d2l's RNN from scratch: for each step t, ``H = tanh(X_t W_xh + H W_hh + b_h)``.

    Stored as ``W_x (d, h)``, ``W_h (h, h)``, ``b (h,)``.
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
    H = jnp.tanh(XW_t + H @ p["W_h"])
    return (H,), {"H": H}


class RNN(NativeLayer):
    """The concise RNN: ``nnx.RNN`` scanning Flax's ``nnx.SimpleCell`` (tanh), one per unit.

    The cell computes ``h' = tanh(dense_i(x) + dense_h(h))`` with ``dense_i.kernel (d, h)``,
    ``dense_i.bias (h,)`` and ``dense_h.kernel (h, h)`` without bias: exactly the canonical
    parameters. Initialisation is Flax's, from ``seed``.
    """

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

    step = staticmethod(rnn_step)  # the same equation, for trace()

    def make_cell(self, num_inputs, rngs):
        return nnx.SimpleCell(num_inputs, self.config.num_hiddens, rngs=rngs)

    def unit_layout(self, index, prefix, layer, reverse) -> FusedLayout:
        p = self.cell_name(index)
        return FusedLayout(p + "dense_i.kernel", p + "dense_h.kernel", p + "dense_i.bias", "h")
