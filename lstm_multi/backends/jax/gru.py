"""GRUs on JAX with Flax NNX: the from-scratch cell (both forms) and ``nnx.GRUCell``.

Time-major ``X (T, B, d)`` and an optional state ``H`` (``(B, h)``, or stacked
``(layers * directions, B, h)``) -> ``outputs (T, B, h * directions)``, the final ``H``;
see :mod:`.layers`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from ...core.family import CELLS, LayerConfig
from ...core.params import FusedLayout
from .layers import NativeLayer, ScratchLayer


class GRUScratch(ScratchLayer):
    """d2l's GRU from scratch, the three blocks fused: one matmul each for X_t and H.

    For each step t (``*`` is element-wise)::

        Z = sigmoid(X_t W_xz + H W_hz + b_z)
        R = sigmoid(X_t W_xr + H W_hr + b_r)
        H_tilde = tanh(X_t W_xh + b_h + R * (H W_hh + b_hh))   reset_after (cuDNN's form)
        H_tilde = tanh(X_t W_xh + (R * H) W_hh + b_h)          reset_after=False (d2l's)
        H = Z * H + (1 - Z) * H_tilde

    Stored in d2l's order z, r, h: ``W_x (d, 3h)``, ``W_h (h, 3h)``, ``b (3h,)``, and
    ``b_hh (h,)`` for the reset-after form.
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
    ):
        config = LayerConfig(
            "gru", num_inputs, num_hiddens, num_layers, bidirectional, dropout, reset_after=reset_after
        )
        super().__init__(config, init=init, sigma=sigma, seed=seed)

    @staticmethod
    def step(config, p, state, XW_t):
        return gru_step(config, p, state, XW_t)


def gru_step(config: LayerConfig, p: dict, state: tuple, XW_t):
    """One GRU step (the equations of :class:`GRUScratch`): ``p`` one unit's fused arrays,
    ``state`` ``(H,)``, ``XW_t = X_t W_x + b (B, 3h)``. Returns the new ``(H,)`` and the gates
    and states it computed (``CELLS["gru"].traces``), for :func:`.layers.trace`."""
    (H,) = state
    h = config.num_hiddens
    X_z, X_r, X_h = jnp.split(XW_t, 3, axis=-1)  # X_t W_x + b, b_h included
    if config.reset_after:
        H_z, H_r, H_h = jnp.split(H @ p["W_h"], 3, axis=-1)
        Z, R = jax.nn.sigmoid(X_z + H_z), jax.nn.sigmoid(X_r + H_r)
        H_tilde = jnp.tanh(X_h + R * (H_h + p["b_hh"]))
    else:
        H_z, H_r = jnp.split(H @ p["W_h"][:, : 2 * h], 2, axis=-1)
        Z, R = jax.nn.sigmoid(X_z + H_z), jax.nn.sigmoid(X_r + H_r)
        H_tilde = jnp.tanh(X_h + (R * H) @ p["W_h"][:, 2 * h :])
    H = Z * H + (1 - Z) * H_tilde
    return (H,), {"z": Z, "r": R, "h_tilde": H_tilde, "H": H}


class GRU(NativeLayer):
    """The concise GRU: ``nnx.RNN`` scanning Flax's ``nnx.GRUCell``, one per unit.

    The cell (flax/nnx/nn/recurrent.py) splits ``dense_i(x)`` and ``dense_h(h)`` into
    blocks r, z, n (columns, ``(d, 3h)`` and ``(h, 3h)``) and computes
    ``r = sigmoid(x_r + h_r)``, ``z = sigmoid(x_z + h_z)``, ``n = tanh(x_n + r * h_n)``,
    ``h' = (1 - z) * n + z * h``: the reset-after form, canonical ``H = Z * H + (1 - Z) * H~``.
    Flax's ``dense_h`` has no bias, cuDNN's (torch's) has one; so it is replaced by an
    ``nnx.Linear(h, 3h, use_bias=True)`` keeping Flax's recurrent kernel: its n block is
    canonical ``b_hh``, its r and z blocks duplicate ``dense_i.bias`` and are kept at zero,
    frozen (:meth:`frozen`; the training step masks their gradient). Initialisation is
    Flax's, from ``seed``. Flax has no reset-before form: ``reset_after=False`` is a
    ValueError (use :class:`GRUScratch`).
    """

    GATE_ORDER = CELLS["gru"].native_gate_order["jax"]  # "rzh"
    step = staticmethod(gru_step)  # the same equations, for trace() (Flax's cell returns no gates)

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
        if not config.reset_after:
            raise ValueError(
                "Flax's nnx.GRUCell has only the reset-after form (cuDNN's); use "
                "GRUScratch(reset_after=False) for d2l's."
            )
        super().__init__(config, seed=seed)

    def make_cell(self, num_inputs, rngs):
        h = self.config.num_hiddens
        cell = nnx.GRUCell(num_inputs, h, rngs=rngs)
        dense_h = nnx.Linear(h, 3 * h, use_bias=True, rngs=rngs)  # bias: zeros
        dense_h.kernel[...] = cell.dense_h.kernel[...]  # Flax's orthogonal recurrent kernel
        cell.dense_h = dense_h
        return cell

    def unit_layout(self, index, prefix, layer, reverse) -> FusedLayout:
        p = self.cell_name(index)
        return FusedLayout(
            p + "dense_i.kernel",
            p + "dense_h.kernel",
            p + "dense_i.bias",
            self.GATE_ORDER,
            b_h=p + "dense_h.bias",
            separate=(("h", "b_hh"),),
        )
