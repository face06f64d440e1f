"""The d2l chapter's LSTM loop, kept as the benchmark baseline (not for training).

The same parameters as :class:`~.lstm.LSTMScratch`, used as the book's JAX edition
writes the equations: ``lax.scan`` over steps with eight separate matmuls each and
no hoisting of the input half. ``lstm-multi bench`` measures the fused cell against it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .lstm import LSTMScratch


class D2LLSTMScratch(LSTMScratch):
    """One layer, one direction, no peepholes: the book's step."""

    def run_unit(self, index, inputs, H_C):
        p = self.units[index].arrays()
        W_xi, W_xf, W_xo, W_xc = jnp.split(p["W_x"], 4, axis=1)
        W_hi, W_hf, W_ho, W_hc = jnp.split(p["W_h"], 4, axis=1)
        b_i, b_f, b_o, b_c = jnp.split(p["b"], 4)

        def step(H_C, X):
            H, C = H_C
            I = jax.nn.sigmoid(X @ W_xi + H @ W_hi + b_i)
            F = jax.nn.sigmoid(X @ W_xf + H @ W_hf + b_f)
            O = jax.nn.sigmoid(X @ W_xo + H @ W_ho + b_o)
            C_tilde = jnp.tanh(X @ W_xc + H @ W_hc + b_c)
            C = F * C + I * C_tilde
            H = O * jnp.tanh(C)
            return (H, C), H

        (H, C), outputs = jax.lax.scan(step, tuple(H_C), inputs)
        return outputs, (H, C)
