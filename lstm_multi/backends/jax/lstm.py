"""LSTMs on JAX with Flax NNX: the from-scratch cell (with peepholes) and ``nnx.OptimizedLSTMCell``.

Both take time-major ``X (num_steps, batch_size, num_inputs)`` and an optional state
``(H, C)``, each ``(batch_size, num_hiddens)`` (stacked ``(layers * directions, B, h)``
for several layers or both directions), and return ``outputs (T, B, h * directions)``
and the final ``(H, C)``; see :mod:`.layers`.

An NNX module holds its parameters (``nnx.Param``), so ``lstm(X)`` works as in
PyTorch. The loop over time is ``jax.lax.scan`` (traced once, not unrolled), and
the whole layer is one jitted function (:func:`.ops.jit_method`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from ...core.family import CELLS, LayerConfig
from ...core.params import FusedLayout
from .layers import NativeLayer, ScratchLayer

NO_PEEPHOLE = "No framework's native LSTM has peephole connections; use LSTMScratch(peephole=...)."


class LSTMScratch(ScratchLayer):
    """d2l's LSTM from scratch, with the four gates fused: one matmul each for X_t and H.

    For each step t (``*`` is element-wise)::

        I = sigmoid(X_t W_xi + H W_hi + b_i [+ w_ci * C | + C W_ci])
        F = sigmoid(X_t W_xf + H W_hf + b_f [+ w_cf * C | + C W_cf])
        C_tilde = tanh(X_t W_xc + H W_hc + b_c)
        C_new = F * C + I * C_tilde
        O = sigmoid(X_t W_xo + H W_ho + b_o [+ w_co * C_new | + C W_co])
        H = O * tanh(C_new)

    with ``peephole="diagonal"`` (vectors ``w_c* (h,)``; the output gate reads the new
    cell) or ``"full"`` (matrices ``W_c* (h, h)``, all reading the previous cell). The
    gates' weights are stored side by side, in d2l's order i, f, o, c: ``W_x (d, 4h)``,
    ``W_h (h, 4h)``, ``b (4h,)``; ``jax.lax.scan`` runs the step over the time axis,
    carrying ``(H, C)``.

    ``hoist_input=True`` computes ``X W_x + b`` for all steps before the loop, one large
    matmul (torch and MXNet always do). Under XLA on CPU that is slower: the
    ``(T, B, 4h)`` tensor is written, sliced step by step and its gradient stacked,
    while in the step XLA fuses the small matmul with the rest. Measured for the LM's
    training step (2 cores, batch 1024, 32 steps), hoisted vs in the step: 67 vs 52 ms
    at h 32, 0.72 vs 0.50 s at h 256. So by default it stays in the step, as in Flax's
    ``OptimizedLSTMCell``.
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
    ):
        config = LayerConfig(
            "lstm",
            num_inputs,
            num_hiddens,
            num_layers,
            bidirectional,
            dropout,
            peephole=peephole,
            forget_bias=forget_bias,
        )
        self.hoist_input = hoist_input
        super().__init__(config, init=init, sigma=sigma, seed=seed)

    @staticmethod
    def step(config, p, state, XW_t):
        return lstm_step(config, p, state, XW_t)


def lstm_step(config: LayerConfig, p: dict, state: tuple, XW_t):
    """One LSTM step (the equations of :class:`LSTMScratch`): ``p`` one unit's fused arrays,
    ``state`` ``(H, C)``, ``XW_t = X_t W_x + b (B, 4h)``. Returns the new ``(H, C)`` and the
    gates and states it computed (``CELLS["lstm"].traces``), for :func:`.layers.trace`."""
    H, C = state
    I, F, O, C_tilde = jnp.split(XW_t + H @ p["W_h"], 4, axis=-1)
    if config.peephole == "diagonal":
        I, F = I + p["w_ci"] * C, F + p["w_cf"] * C
    elif config.peephole == "full":
        I, F, O = I + C @ p["W_ci"], F + C @ p["W_cf"], O + C @ p["W_co"]
    I, F, C_tilde = jax.nn.sigmoid(I), jax.nn.sigmoid(F), jnp.tanh(C_tilde)
    C = F * C + I * C_tilde
    if config.peephole == "diagonal":
        O = O + p["w_co"] * C  # the new cell
    O = jax.nn.sigmoid(O)
    H = O * jnp.tanh(C)
    return (H, C), {"i": I, "f": F, "o": O, "c_tilde": C_tilde, "C": C, "H": H}


class LSTM(NativeLayer):
    """The concise LSTM: ``nnx.RNN`` scanning Flax's ``nnx.OptimizedLSTMCell``, one per unit.

    The cell (flax/nnx/nn/recurrent.py, https://github.com/google/flax) computes
    ``y = dense_i(x) + dense_h(h)`` and splits it into the gates i, f, g, o (g is
    d2l's C_tilde, "c" here), in columns: ``dense_i.kernel (d, 4h)`` has no bias,
    ``dense_h.kernel (h, 4h)`` and ``dense_h.bias (4h,)`` carry the one bias, so the
    native layer has exactly the canonical parameters. Its carry is ``(c, h)``, the
    reverse of d2l's ``(H, C)``. Initialisation is Flax's (lecun_normal input kernel,
    orthogonal recurrent kernel, zero bias), drawn from ``seed``; ``forget_bias`` then
    sets ``b_f``. No peepholes (a ValueError: use :class:`LSTMScratch`).
    """

    GATE_ORDER = CELLS["lstm"].native_gate_order["jax"]  # "ifco"
    step = staticmethod(lstm_step)  # the same equations, for trace() (Flax's cell returns no gates)

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
        config = LayerConfig(
            "lstm",
            num_inputs,
            num_hiddens,
            num_layers,
            bidirectional,
            dropout,
            peephole=peephole,
            forget_bias=forget_bias,
        )
        if config.peephole:
            raise ValueError(NO_PEEPHOLE)
        super().__init__(config, seed=seed)

    def make_cell(self, num_inputs, rngs):
        cell = nnx.OptimizedLSTMCell(num_inputs, self.config.num_hiddens, rngs=rngs)
        if self.config.forget_bias:
            h, f = self.config.num_hiddens, self.GATE_ORDER.index("f")
            cell.dense_h.bias[...] = cell.dense_h.bias[...].at[f * h : (f + 1) * h].set(self.config.forget_bias)
        return cell

    def to_carry(self, state):
        H, C = state
        return C, H  # Flax's carry is (c, h)

    def from_carry(self, carry):
        C, H = carry
        return H, C

    def unit_layout(self, index, prefix, layer, reverse) -> FusedLayout:
        p = self.cell_name(index)
        return FusedLayout(p + "dense_i.kernel", p + "dense_h.kernel", p + "dense_h.bias", self.GATE_ORDER)
