"""The d2l chapter's LSTM loop, kept as the benchmark baseline (not for training).

The same parameters as :class:`~.lstm.LSTMScratch` (one layer), used as the book writes
the equations: eight separate matmuls per step, no hoisting of the input half, autograd
recording every op. ``lstm-multi bench`` measures the fused, hoisted cell against this.
"""

from __future__ import annotations

import torch

from .lstm import LSTMScratch


class D2LLSTMScratch(LSTMScratch):
    def __init__(self, num_inputs: int, num_hiddens: int, sigma: float = 0.01, seed: int = 0):
        super().__init__(num_inputs, num_hiddens, sigma=sigma, seed=seed, fused=False)

    def run_unit(self, index, inputs, H_C):
        h = self.num_hiddens
        W_xi, W_xf, W_xo, W_xc = self.W_x.split(h, dim=1)
        W_hi, W_hf, W_ho, W_hc = self.W_h.split(h, dim=1)
        b_i, b_f, b_o, b_c = self.b.split(h)
        H, C = H_C
        outputs = []
        for X in inputs:
            I = torch.sigmoid(X @ W_xi + H @ W_hi + b_i)
            F = torch.sigmoid(X @ W_xf + H @ W_hf + b_f)
            O = torch.sigmoid(X @ W_xo + H @ W_ho + b_o)
            C_tilde = torch.tanh(X @ W_xc + H @ W_hc + b_c)
            C = F * C + I * C_tilde
            H = O * torch.tanh(C)
            outputs.append(H)
        return torch.stack(outputs), (H, C)
