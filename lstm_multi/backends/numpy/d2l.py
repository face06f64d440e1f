"""The d2l chapter's LSTM loop, kept as the benchmark baseline (not for training).

The reference LSTM already runs d2l's step (eight separate matmuls a step, no hoisting),
so here the baseline is the same layer: its forward written as the book writes it, in
NumPy (float64); gradients and training steps are the reference's, as for
:class:`~.lstm.LSTMScratch`.
"""

from __future__ import annotations

import numpy as np

from ...core.types import State, Tensor
from ...reference.common import sigmoid
from .lstm import LSTMScratch


class D2LLSTMScratch(LSTMScratch):
    """One layer, one direction, no peepholes: the book's step."""

    def __init__(self, num_inputs: int, num_hiddens: int, sigma: float = 0.01, seed: int = 0) -> None:
        super().__init__(num_inputs, num_hiddens, seed=seed, sigma=sigma)

    def __call__(self, X: Tensor, state: State | None = None) -> tuple[np.ndarray, State]:
        X, state = self.check_input(X, state)
        p = self.params
        B = X.shape[1]
        H, C = state if state is not None else (np.zeros((B, self.num_hiddens)),) * 2
        outputs = []
        for X_t in X:
            I = sigmoid(X_t @ p["W_xi"] + H @ p["W_hi"] + p["b_i"])
            F = sigmoid(X_t @ p["W_xf"] + H @ p["W_hf"] + p["b_f"])
            O = sigmoid(X_t @ p["W_xo"] + H @ p["W_ho"] + p["b_o"])
            C_tilde = np.tanh(X_t @ p["W_xc"] + H @ p["W_hc"] + p["b_c"])
            C = F * C + I * C_tilde
            H = O * np.tanh(C)
            outputs.append(H)
        return np.stack(outputs), (H, C)
