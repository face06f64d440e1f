"""LSTMs on TensorFlow: the from-scratch cell (with optional peepholes) and ``keras.layers.LSTM``.

Both take time-major ``X (num_steps, batch_size, num_inputs)`` and an optional state
``(H, C)``, each ``(batch_size, num_hiddens)`` for one layer in one direction, else
``(num_layers * directions, batch_size, num_hiddens)``; they return
``outputs (num_steps, batch_size, num_hiddens * directions)`` and the final ``(H, C)``.
"""

from __future__ import annotations

from ...core.family import LayerConfig
from ._imports import keras, tf
from .layers import NativeLayer, ScratchLayer

NO_PEEPHOLE = "No framework's native LSTM has peephole connections; use LSTMScratch(peephole=...)."


def lstm_step(config, p, state, XW_t):
    """One step of :class:`LSTMScratch`'s equations: ``XW_t = X_t W_x + b (B, 4h)``, ``state = (H, C_prev)``,
    ``p`` a unit's fused parameters -> the new state ``(H, C)`` and every trace value
    (``CELLS["lstm"].traces``: the gates after their nonlinearity, C_tilde, C, H)."""
    H, C_prev = state
    peephole = config.peephole
    I, F, O, C_tilde = tf.split(XW_t + H @ p["W_h"], 4, axis=-1)
    if peephole == "diagonal":
        I, F = I + p["w_ci"] * C_prev, F + p["w_cf"] * C_prev
    elif peephole == "full":
        I, F, O = I + C_prev @ p["W_ci"], F + C_prev @ p["W_cf"], O + C_prev @ p["W_co"]
    I, F, C_tilde = tf.sigmoid(I), tf.sigmoid(F), tf.tanh(C_tilde)
    C = F * C_prev + I * C_tilde
    if peephole == "diagonal":
        O = O + p["w_co"] * C  # the new cell
    O = tf.sigmoid(O)
    H = O * tf.tanh(C)
    return (H, C), {"i": I, "f": F, "o": O, "c_tilde": C_tilde, "C": C, "H": H}


class LSTMScratch(ScratchLayer):
    """d2l's LSTM from scratch, the four gates fused: one matmul each for X_t and H.

    For each step t (``*`` is element-wise; the peephole terms in brackets, diagonal
    ``w_c*`` vectors or ``peephole="full"`` matrices ``W_c*``)::

        I = sigmoid(X_t W_xi + H W_hi + b_i  [+ w_ci * C_prev | + C_prev W_ci])
        F = sigmoid(X_t W_xf + H W_hf + b_f  [+ w_cf * C_prev | + C_prev W_cf])
        C_tilde = tanh(X_t W_xc + H W_hc + b_c)
        C = F * C_prev + I * C_tilde
        O = sigmoid(X_t W_xo + H W_ho + b_o  [+ w_co * C      | + C_prev W_co])
        H = O * tanh(C)

    Each unit stores ``W_x (d, 4h)``, ``W_h (h, 4h)``, ``b (4h,)`` in d2l's order i, f, o, c
    (see :class:`~.layers.ScratchLayer` for the loop, ``hoist_input``, ``jit_compile`` and initialisation;
    ``b_f`` starts at ``forget_bias``).
    """

    def __init__(
        self,
        num_inputs: int,
        num_hiddens: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        peephole=False,
        forget_bias: float = 0.0,
        seed: int = 0,
        init: str | None = None,
        sigma: float | None = None,
        hoist_input: bool = False,
        jit_compile: bool = False,
    ):
        config = LayerConfig("lstm", num_inputs, num_hiddens, num_layers, bidirectional, dropout, peephole, forget_bias)
        super().__init__(config, init=init, sigma=sigma, seed=seed, hoist_input=hoist_input, jit_compile=jit_compile)

    step = staticmethod(lstm_step)


class LSTM(NativeLayer):
    """The concise LSTM: ``keras.layers.LSTM`` per unit (Keras 3 on TensorFlow; cuDNN on a GPU).

    Keras' ``LSTMCell`` (keras/src/layers/rnn/lstm.py) holds ``kernel (d, 4h)``,
    ``recurrent_kernel (h, 4h)`` and one ``bias (4h,)``, the gates as columns in the order
    i, f, c, o (``c`` is d2l's C_tilde): its step is
    ``z = x @ kernel + h @ recurrent_kernel + bias``, ``z0, z1, z2, z3 = split(z, 4)``,
    ``i = sigmoid(z0)``, ``f = sigmoid(z1)``, ``c = f * c + i * tanh(z2)``,
    ``o = sigmoid(z3)``, ``h = o * tanh(c)``: the canonical parameters, fused. Its state
    is the list ``[h, c]``. Keras' ``unit_forget_bias`` is off: after Keras' init (zero
    bias) ``b_f`` is set to ``forget_bias``, as on every backend. Keras has no peephole
    connections: a ValueError. See :class:`~.layers.NativeLayer` for stacking.
    """

    KERAS = keras.layers.LSTM
    step = staticmethod(lstm_step)  # the same equations, for trace()

    def __init__(
        self,
        num_inputs: int,
        num_hiddens: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        peephole=False,
        forget_bias: float = 0.0,
        seed: int = 0,
    ):
        config = LayerConfig("lstm", num_inputs, num_hiddens, num_layers, bidirectional, dropout, peephole, forget_bias)
        if config.peephole:
            raise ValueError(NO_PEEPHOLE)
        super().__init__(config, seed, unit_forget_bias=False)
        self.set_bias_block("f", forget_bias)
