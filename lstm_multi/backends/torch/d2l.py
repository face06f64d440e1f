"""The d2l chapter's LSTM loop, kept as the benchmark baseline (not for training).

The same parameters as :class:`~.lstm.LSTMScratch`, used as the book writes the
equations: eight separate matmuls per step and no hoisting of the input half.
``lstm-multi bench`` measures the fused, hoisted cell against this.
"""

from __future__ import annotations

import torch

from .lstm import LSTMScratch


class D2LLSTMScratch(LSTMScratch):
    def forward(self, inputs, H_C=None):
        h = self.num_hiddens
        W_xi, W_xf, W_xo, W_xc = self.W_x.split(h, dim=1)
        W_hi, W_hf, W_ho, W_hc = self.W_h.split(h, dim=1)
        b_i, b_f, b_o, b_c = self.b.split(h)
        H, C = H_C if H_C is not None else (inputs.new_zeros((inputs.shape[1], h)),) * 2
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
