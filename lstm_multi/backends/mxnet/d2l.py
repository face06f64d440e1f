"""The d2l chapter's LSTM loop, kept as the benchmark baseline (not for training).

The same parameters as :class:`~.lstm.LSTMScratch`, used as the book writes the
equations (its MXNet edition): eight separate matmuls per step, no hoisting of the
input half, op by op (not hybridized). ``lstm-multi bench`` measures the fused,
hybridized cell against this.
"""

from __future__ import annotations

from mxnet import np, npx

from .lstm import LSTMScratch


class D2LLSTMScratch(LSTMScratch):
    def __init__(self, num_inputs: int, num_hiddens: int, sigma: float = 0.01, seed: int = 0):
        super().__init__(num_inputs, num_hiddens, sigma=sigma, seed=seed)
        self.hybridize(False)

    def forward(self, inputs, H_C=None):
        H, C = self.checked_state(inputs, H_C)
        W_xi, W_xf, W_xo, W_xc = np.split(self.W_x.data(), 4, axis=1)
        W_hi, W_hf, W_ho, W_hc = np.split(self.W_h.data(), 4, axis=1)
        b_i, b_f, b_o, b_c = np.split(self.b.data(), 4)
        outputs = []
        for X in inputs:
            I = npx.sigmoid(np.dot(X, W_xi) + np.dot(H, W_hi) + b_i)
            F = npx.sigmoid(np.dot(X, W_xf) + np.dot(H, W_hf) + b_f)
            O = npx.sigmoid(np.dot(X, W_xo) + np.dot(H, W_ho) + b_o)
            C_tilde = np.tanh(np.dot(X, W_xc) + np.dot(H, W_hc) + b_c)
            C = F * C + I * C_tilde
            H = O * np.tanh(C)
            outputs.append(H)
        return np.stack(outputs), (H, C)
