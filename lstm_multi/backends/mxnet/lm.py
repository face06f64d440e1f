"""The character language model on MXNet Gluon (d2l's RNNLMScratch and RNNLM).

``tokens (batch_size, num_steps)`` -> one-hot ``(num_steps, batch_size, vocab)``
-> LSTM -> ``H_t W_hq + b_q`` -> ``logits (batch_size, num_steps, vocab)``.

The model is a plain ``gluon.Block``, as in d2l: the LSTM inside is the hybridized
part; around it are three operators (one-hot, output layer, transpose).
"""

from __future__ import annotations

import mxnet as mx
from mxnet import gluon, np, npx

from ...core.checks import check_lm_sizes, check_tokens
from ...core.lm import LanguageModel
from .ops import new_parameter


class RNNLMScratch(LanguageModel, gluon.Block):
    """The LM with its output layer as two parameters, ``W_hq (h, vocab)`` and ``b_q (vocab,)``."""

    backend_name = "mxnet"

    def __init__(self, rnn, vocab_size: int, lr: float = 0.01, seed: int = 0):
        gluon.Block.__init__(self)
        check_lm_sizes(rnn, vocab_size)
        self.save_hyperparameters()
        self.init_params()

    def init_params(self):
        params = self.initial_output_params()
        self.W_hq = new_parameter(self, "W_hq", params["W_hq"])
        self.b_q = new_parameter(self, "b_q", params["b_q"])

    def one_hot(self, tokens):
        """``(B, T)`` ids -> ``(T, B, vocab)`` float32 one-hot vectors."""
        return npx.one_hot(tokens.T, self.vocab_size)

    def output_layer(self, rnn_outputs):
        """``(T, B, h)`` -> ``(B, T, vocab)`` logits."""
        return (np.dot(rnn_outputs, self.W_hq.data()) + self.b_q.data()).swapaxes(0, 1)

    def forward_with_state(self, tokens, state=None):
        """Logits ``(B, T, vocab)`` and the final LSTM state ``(H, C)``."""
        check_tokens(tokens, self.vocab_size)
        rnn_outputs, state = self.rnn(self.one_hot(tokens), state)
        return self.output_layer(rnn_outputs), state

    def forward(self, tokens, state=None):
        return self.forward_with_state(tokens, state)[0]


class RNNLM(RNNLMScratch):
    """The concise LM: the output layer is ``gluon.nn.Dense(vocab)`` (``weight`` is ``W_hq.T``).

    Gluon's default initialisation (weight uniform in +-0.07, bias zero), drawn after
    ``mx.random.seed(seed + 1)``.
    """

    def init_params(self):
        mx.random.seed(self.seed + 1)
        self.linear = gluon.nn.Dense(self.vocab_size, in_units=self.rnn.num_hiddens, flatten=False)
        self.linear.initialize()

    def output_layer(self, rnn_outputs):
        return self.linear(rnn_outputs).swapaxes(0, 1)

    def _output_to_canonical(self, native):
        return {"W_hq": native["linear.weight"].T, "b_q": native["linear.bias"]}

    def _output_from_canonical(self, params):
        return {"linear.weight": params["W_hq"].T, "linear.bias": params["b_q"]}
