"""Vanilla (Elman) RNNs on MXNet Gluon: from scratch and ``gluon.rnn.RNN(activation="tanh")``.

Both take time-major ``X (num_steps, batch_size, num_inputs)`` and an optional state
``H``, ``(batch_size, num_hiddens)`` for one layer in one direction, else
``(num_layers * directions, batch_size, num_hiddens)``; they return
``outputs (num_steps, batch_size, num_hiddens * directions)`` and the final ``H``.
"""

from __future__ import annotations

from mxnet import gluon

from ...core.family import LayerConfig
from .layers import NativeLayer, ScratchLayer, matmul, with_dropout_between_layers


def rnn_step(config, p, state, XW_t, api):
    """One step, ``H = tanh(X_t W_xh + b_h + H W_hh)`` from ``XW_t = X_t W_x + b``: the
    new ``(H,)`` and its trace ``{"H": H}``."""
    (H,) = state
    H = api.npx.activation(XW_t + matmul(api, H, p["W_h"]), act_type="tanh")
    return (H,), {"H": H}


class RNNScratch(ScratchLayer):
    """d2l's RNN from scratch: for each step t, ``H = tanh(X_t W_xh + H W_hh + b_h)``.

    Each unit stores ``W_x (d, h)``, ``W_h (h, h)``, ``b (h,)``; ``X_t W_x + b`` starts each step.
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

    step = staticmethod(rnn_step)


class RNN(NativeLayer):
    """The concise RNN: ``gluon.rnn.RNN(activation="tanh")`` (layout "TNC"), stacked and bidirectional.

    ``l0_i2h_weight (h, d)``, ``l0_h2h_weight (h, h)`` and two biases; canonical
    ``b_h = i2h_bias + h2h_bias``, ``h2h_bias`` frozen at zero (``grad_req = "null"``).
    """

    GLUON = with_dropout_between_layers(gluon.rnn.RNN)
    GLUON_ARGS = {"activation": "tanh"}

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

    step = staticmethod(rnn_step)  # the same equations, for trace() (Gluon's layer returns no gates)
