"""The d2l chapter's LSTM loop, kept as the benchmark baseline (not for training).

The same parameters as a one-layer :class:`~.lstm.LSTMScratch`, used as the book writes
the equations: eight separate matmuls per step and no hoisting of the input half, in a
plain Python ``for`` loop over time. Autograph (``tf.autograph.to_graph``: the compiled
steps themselves trace without it) turns that loop into a ``While`` op over a
``TensorArray`` (the book's list of outputs).
``lstm-multi bench`` measures the fused cell against this.
"""

from __future__ import annotations

from ._imports import tf
from .lstm import LSTMScratch


class D2LLSTMScratch(LSTMScratch):
    @tf.autograph.to_graph
    def forward(self, inputs, state=None, training=False):
        if state is None:
            H = C = tf.zeros((tf.shape(inputs)[1], self.num_hiddens))
        else:
            H, C = state
        p = self.units[0]
        W_xi, W_xf, W_xo, W_xc = tf.split(p["W_x"], 4, axis=1)
        W_hi, W_hf, W_ho, W_hc = tf.split(p["W_h"], 4, axis=1)
        b_i, b_f, b_o, b_c = tf.split(p["b"], 4)
        outputs = tf.TensorArray(tf.float32, size=tf.shape(inputs)[0])
        for t in tf.range(tf.shape(inputs)[0]):
            X = inputs[t]
            I = tf.sigmoid(X @ W_xi + H @ W_hi + b_i)
            F = tf.sigmoid(X @ W_xf + H @ W_hf + b_f)
            O = tf.sigmoid(X @ W_xo + H @ W_ho + b_o)
            C_tilde = tf.tanh(X @ W_xc + H @ W_hc + b_c)
            C = F * C + I * C_tilde
            H = O * tf.tanh(C)
            outputs = outputs.write(t, H)
        return outputs.stack(), (H, C)
