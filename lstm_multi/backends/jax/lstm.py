"""LSTMs on JAX with Flax NNX: the from-scratch cell and ``flax.nnx.OptimizedLSTMCell``.

Both take time-major ``X (num_steps, batch_size, num_inputs)`` and an optional
state ``(H, C)``, each ``(batch_size, num_hiddens)``, and return
``outputs (num_steps, batch_size, num_hiddens)`` and the final ``(H, C)``.

An NNX module holds its parameters (``nnx.Param``), so ``lstm(X)`` works as in
PyTorch. The loop over time is ``jax.lax.scan`` (traced once, not unrolled), and
the whole recurrence is one jitted function (:func:`.ops.jit_method`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from ...core.checks import check_model_sizes, check_sequence, check_state
from ...core.params import FusedGates, GATES, fuse_gates, init_params
from .ops import jit_method


def initial_state(inputs, num_hiddens: int, H_C=None):
    """The state to start from: ``H_C`` checked, or zeros ``(batch_size, num_hiddens)``."""
    batch_size = inputs.shape[1]
    if H_C is None:
        zeros = jnp.zeros((batch_size, num_hiddens), jnp.float32)
        return zeros, zeros
    check_state(H_C, batch_size, num_hiddens)
    return tuple(H_C)


class LSTMScratch(FusedGates, nnx.Module):
    """d2l's LSTM from scratch, with the four gates fused: one matmul each for X_t and H.

    For each step t (``*`` is element-wise)::

        I, F, O = sigmoid(X_t W_xi + H W_hi + b_i), sigmoid(... f ...), sigmoid(... o ...)
        C_tilde = tanh(X_t W_xc + H W_hc + b_c)
        C = F * C + I * C_tilde
        H = O * tanh(C)

    The gates' weights are stored side by side, in d2l's order i, f, o, c:
    ``W_x (num_inputs, 4h)``, ``W_h (h, 4h)``, ``b (4h,)``; ``jax.lax.scan`` runs
    ``step`` over the time axis, carrying ``(H, C)``. Initialisation is d2l's
    (N(0, sigma^2) weights, zero biases) drawn by NumPy from ``seed``, so every backend
    starts from the same model.

    The input half ``X_t W_x + b`` does not depend on H, so it can be computed for all
    steps before the loop, one large matmul (``hoist_input=True``; torch and MXNet always
    do). Under XLA on CPU that is slower: the ``(T, B, 4h)`` tensor is written, sliced
    step by step and its gradient stacked, while in the step XLA fuses the small matmul
    with the rest. Measured for the LM's training step (2 cores, batch 1024, 32 steps),
    hoisted vs in the step: 67 vs 52 ms at h 32, 0.72 vs 0.50 s at h 256. So by default
    it stays in the step, as in Flax's ``OptimizedLSTMCell``.
    """

    def __init__(self, num_inputs: int, num_hiddens: int, sigma: float = 0.01, seed: int = 0,
                 hoist_input: bool = False):
        check_model_sizes(num_inputs, num_hiddens)
        self.num_inputs, self.num_hiddens, self.sigma = num_inputs, num_hiddens, sigma
        self.hoist_input = hoist_input
        W_x, W_h, b = fuse_gates(init_params(num_inputs, num_hiddens, sigma=sigma, seed=seed), GATES)
        self.W_x = nnx.Param(jnp.asarray(W_x))
        self.W_h = nnx.Param(jnp.asarray(W_h))
        self.b = nnx.Param(jnp.asarray(b))

    def __call__(self, inputs, H_C=None):
        check_sequence(inputs.shape, self.num_inputs)
        return self.scan(inputs, initial_state(inputs, self.num_hiddens, H_C))

    @jit_method
    def scan(self, inputs, H_C):
        """The recurrence, compiled: ``inputs (T, B, d)``, ``H_C`` -> outputs, final ``(H, C)``."""
        W_x, W_h, b = self.W_x[...], self.W_h[...], self.b[...]
        if self.hoist_input:
            xs, input_half = inputs @ W_x + b, lambda XW_t: XW_t  # (T, B, 4h) before the loop
        else:
            xs, input_half = inputs, lambda X_t: X_t @ W_x + b

        def step(H_C, x_t):
            H, C = H_C
            I, F, O, C_tilde = jnp.split(input_half(x_t) + H @ W_h, 4, axis=-1)
            I, F, O, C_tilde = jax.nn.sigmoid(I), jax.nn.sigmoid(F), jax.nn.sigmoid(O), jnp.tanh(C_tilde)
            C = F * C + I * C_tilde
            H = O * jnp.tanh(C)
            return (H, C), H  # (carry to step t+1, output of step t)

        (H, C), outputs = jax.lax.scan(step, H_C, xs)
        return outputs, (H, C)


class LSTM(FusedGates, nnx.Module):
    """The concise LSTM: ``nnx.RNN`` scanning Flax's ``nnx.OptimizedLSTMCell`` (time-major).

    The cell (flax/nnx/nn/recurrent.py, https://github.com/google/flax) computes
    ``y = dense_i(x) + dense_h(h)`` and splits it into the gates i, f, g, o (g is
    d2l's C_tilde, "c" here), in columns: ``dense_i.kernel (num_inputs, 4h)`` has
    no bias, ``dense_h.kernel (h, 4h)`` and ``dense_h.bias (4h,)`` carry the one
    bias, so the native layer has exactly the canonical parameters. Its carry is
    ``(c, h)``, the reverse of d2l's ``(H, C)``. Initialisation is Flax's
    (lecun_normal input kernel, orthogonal recurrent kernel, zero bias), drawn from
    ``seed``.
    """

    NATIVE = ("rnn.cell.dense_i.kernel", "rnn.cell.dense_h.kernel", "rnn.cell.dense_h.bias")
    GATE_ORDER = "ifco"

    def __init__(self, num_inputs: int, num_hiddens: int, seed: int = 0):
        check_model_sizes(num_inputs, num_hiddens)
        self.num_inputs, self.num_hiddens = num_inputs, num_hiddens
        cell = nnx.OptimizedLSTMCell(num_inputs, num_hiddens, rngs=nnx.Rngs(seed))
        # rngs=False: the carry always comes from us, so the RNN needs no random state.
        self.rnn = nnx.RNN(cell, time_major=True, return_carry=True, rngs=False)

    def __call__(self, inputs, H_C=None):
        check_sequence(inputs.shape, self.num_inputs)
        return self.scan(inputs, initial_state(inputs, self.num_hiddens, H_C))

    @jit_method
    def scan(self, inputs, H_C):
        H, C = H_C
        (C, H), outputs = self.rnn(inputs, initial_carry=(C, H))  # Flax's carry is (c, h)
        return outputs, (H, C)
