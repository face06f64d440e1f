"""Vanilla RNNs on TensorFlow: the from-scratch cell and ``keras.layers.SimpleRNN`` (tanh).

Both take time-major ``X (num_steps, batch_size, num_inputs)`` and an optional state
``H``, ``(batch_size, num_hiddens)`` for one layer in one direction, else
``(num_layers * directions, batch_size, num_hiddens)``; they return
``outputs (num_steps, batch_size, num_hiddens * directions)`` and the final ``H``.
"""

from __future__ import annotations

from ...core.family import LayerConfig
from ._imports import keras, tf
from .layers import NativeLayer, ScratchLayer


def rnn_step(config, p, state, XW_t):
    """One step of :class:`RNNScratch`'s equation: ``XW_t = X_t W_x + b (B, h)``, ``state = (H,)`` ->
    the new state ``(H,)`` and its trace (``CELLS["rnn"].traces``: H)."""
    (H,) = state
    H = tf.tanh(XW_t + H @ p["W_h"])
    return (H,), {"H": H}


class RNNScratch(ScratchLayer):
    """d2l's RNN from scratch: for each step t, ``H = tanh(X_t W_xh + H W_hh + b_h)``.

    Each unit stores ``W_x (d, h)``, ``W_h (h, h)``, ``b (h,)`` (one "gate", h). See
    :class:`~.layers.ScratchLayer` for the loop.
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
        hoist_input: bool = False,
        jit_compile: bool = False,
    ):
        config = LayerConfig("rnn", num_inputs, num_hiddens, num_layers, bidirectional, dropout)
        super().__init__(config, init=init, sigma=sigma, seed=seed, hoist_input=hoist_input, jit_compile=jit_compile)

    step = staticmethod(rnn_step)


class RNN(NativeLayer):
    """The concise RNN: ``keras.layers.SimpleRNN`` per unit (activation tanh).

    Keras' ``SimpleRNNCell`` (keras/src/layers/rnn/simple_rnn.py) holds ``kernel (d, h)``,
    ``recurrent_kernel (h, h)`` and ``bias (h,)`` and computes
    ``h = tanh(x @ kernel + bias + h_tm1 @ recurrent_kernel)``: ``W_xh``, ``W_hh``, ``b_h``.
    """

    KERAS = keras.layers.SimpleRNN
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
        super().__init__(config, seed)
