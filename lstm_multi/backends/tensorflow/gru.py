"""GRUs on TensorFlow: the from-scratch cell (reset after or before) and ``keras.layers.GRU``.

Both take time-major ``X (num_steps, batch_size, num_inputs)`` and an optional state
``H``, ``(batch_size, num_hiddens)`` for one layer in one direction, else
``(num_layers * directions, batch_size, num_hiddens)``; they return
``outputs (num_steps, batch_size, num_hiddens * directions)`` and the final ``H``.
"""

from __future__ import annotations

from ...core.family import LayerConfig
from ._imports import keras, tf
from .layers import NativeLayer, ScratchLayer


def gru_step(config, p, state, XW_t):
    """One step of :class:`GRUScratch`'s equations: ``XW_t = X_t W_x + b (B, 3h)``, ``state = (H,)``,
    ``p`` a unit's fused parameters -> the new state ``(H,)`` and every trace value
    (``CELLS["gru"].traces``: Z, R, H_tilde, H)."""
    (H,) = state
    h = config.num_hiddens
    XW_z, XW_r, XW_h = tf.split(XW_t, 3, axis=-1)
    if config.reset_after:
        HW_z, HW_r, HW_h = tf.split(H @ p["W_h"], 3, axis=-1)
        Z, R = tf.sigmoid(XW_z + HW_z), tf.sigmoid(XW_r + HW_r)
        H_tilde = tf.tanh(XW_h + R * (HW_h + p["b_hh"]))
    else:
        HW_z, HW_r = tf.split(H @ p["W_h"][:, : 2 * h], 2, axis=-1)
        Z, R = tf.sigmoid(XW_z + HW_z), tf.sigmoid(XW_r + HW_r)
        H_tilde = tf.tanh(XW_h + (R * H) @ p["W_h"][:, 2 * h :])
    H = Z * H + (1 - Z) * H_tilde
    return (H,), {"z": Z, "r": R, "h_tilde": H_tilde, "H": H}


class GRUScratch(ScratchLayer):
    """The GRU from scratch, its three gates fused into one matmul for X_t.

    For each step t (``*`` is element-wise)::

        Z = sigmoid(X_t W_xz + H W_hz + b_z)
        R = sigmoid(X_t W_xr + H W_hr + b_r)
        H_tilde = tanh(X_t W_xh + b_h + R * (H W_hh + b_hh))     reset_after=True (cuDNN's form)
        H_tilde = tanh(X_t W_xh + (R * H) W_hh + b_h)            reset_after=False (d2l's)
        H = Z * H + (1 - Z) * H_tilde

    Each unit stores ``W_x (d, 3h)``, ``W_h (h, 3h)``, ``b (3h,)`` in d2l's order z, r, h
    and, reset after, ``b_hh (h,)``. Reset after, one matmul ``H W_h`` serves all three
    gates; reset before, the candidate's ``(R * H) W_hh`` waits for R, so ``H`` meets
    ``W_hz``, ``W_hr`` first. See :class:`~.layers.ScratchLayer` for the loop.
    """

    def __init__(
        self,
        num_inputs: int,
        num_hiddens: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        reset_after: bool = True,
        seed: int = 0,
        init: str | None = None,
        sigma: float | None = None,
        hoist_input: bool = False,
        jit_compile: bool = False,
    ):
        config = LayerConfig(
            "gru", num_inputs, num_hiddens, num_layers, bidirectional, dropout, reset_after=reset_after
        )
        super().__init__(config, init=init, sigma=sigma, seed=seed, hoist_input=hoist_input, jit_compile=jit_compile)

    step = staticmethod(gru_step)


class GRU(NativeLayer):
    """The concise GRU: ``keras.layers.GRU`` per unit, both of Keras' forms.

    Keras' ``GRUCell`` (keras/src/layers/rnn/gru.py) holds ``kernel (d, 3h)`` and
    ``recurrent_kernel (h, 3h)``, the gates as columns in the order z, r, h, and computes
    ``h = z * h_tm1 + (1 - z) * hh``. ``reset_after=True`` (Keras' default, cuDNN's form):
    ``bias (2, 3h)``, row 0 added to ``x @ kernel``, row 1 to ``h_tm1 @ recurrent_kernel``,
    ``hh = tanh(x_h + r * (h_tm1 @ recurrent_kernel_h + bias[1]_h))``; so canonical
    ``b_z = bias[0]_z + bias[1]_z`` (``b_r`` likewise), ``b_h = bias[0]_h`` and
    ``b_hh = bias[1]_h``. The z and r blocks of row 1 are kept at zero, frozen by a mask
    on their gradient (``frozen()``). ``reset_after=False`` (d2l's form): one ``bias (3h,)``,
    ``hh = tanh(x_h + (r * h_tm1) @ recurrent_kernel_h)``. Its state is ``[h]``.
    """

    KERAS = keras.layers.GRU
    step = staticmethod(gru_step)  # the same equations, for trace()

    def __init__(
        self,
        num_inputs: int,
        num_hiddens: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        reset_after: bool = True,
        seed: int = 0,
    ):
        config = LayerConfig(
            "gru", num_inputs, num_hiddens, num_layers, bidirectional, dropout, reset_after=reset_after
        )
        super().__init__(config, seed, reset_after=config.reset_after)

    def bias_layout(self):
        return dict(paired=True, separate=(("h", "b_hh"),)) if self.config.reset_after else {}
