"""The character language model on MXNet Gluon (d2l's RNNLMScratch and RNNLM).

``tokens (batch_size, num_steps)`` -> one-hot ``(num_steps, batch_size, vocab)`` (or, with
``embedding_dim``, rows of ``W_e (vocab, embedding_dim)``) -> the recurrent layer ->
``H_t W_hq + b_q`` -> ``logits (batch_size, num_steps, vocab)``.

The model is a plain ``gluon.Block``, as in d2l: the layer inside is the hybridized
part; around it are three operators (one-hot or lookup, output layer, transpose).
"""

from __future__ import annotations

import mxnet as mx
from mxnet import gluon, np, npx

from ...core.checks import check_tokens
from ...core.lm import LanguageModel, check_lm_layer
from .ops import new_parameter, tensor


class RNNLMScratch(LanguageModel, gluon.Block):
    """The LM with its own parameters as arrays: ``W_hq (h, vocab)``, ``b_q (vocab,)`` and, with
    ``embedding_dim``, ``W_e (vocab, embedding_dim)``; d2l's initialisation (NumPy, seeded)."""

    backend_name = "mxnet"

    def __init__(self, rnn, vocab_size: int, lr: float = 0.01, seed: int = 0, embedding_dim: int | None = None):
        gluon.Block.__init__(self)
        check_lm_layer(rnn, vocab_size, embedding_dim)
        self.save_hyperparameters()
        self.init_params()

    def init_params(self):
        for name, value in self.initial_output_params().items():
            setattr(self, name, new_parameter(self, name, value))

    def inputs(self, tokens):
        """``(B, T)`` ids -> ``(T, B, vocab)`` float32 one-hot vectors, or ``(T, B, e)`` rows of ``W_e``."""
        if self.embedding_dim is None:
            return npx.one_hot(tokens.T, self.vocab_size)
        return np.take(self.W_e.data(), tokens.T, axis=0)

    def output_layer(self, rnn_outputs):
        """``(T, B, h)`` -> ``(B, T, vocab)`` logits: ``H W_hq`` on oneDNN's inner product (``np.dot``
        has no AVX in MXNet 1.9.1's wheel: it cost ~8% of a training step at h = 256), then ``+ b_q``
        (the bias inside the inner product rounds otherwise, and d2l's recipe ends at validation
        perplexity 7.37 instead of every framework's 7.35)."""
        W_hq, b_q = self.W_hq.data(), self.b_q.data()
        logits = npx.fully_connected(rnn_outputs, W_hq.T, no_bias=True, num_hidden=self.vocab_size, flatten=False) + b_q
        return logits.swapaxes(0, 1)

    def forward_with_state(self, tokens, state=None):
        """Logits ``(B, T, vocab)`` and the layer's final state."""
        check_tokens(tokens, self.vocab_size)
        rnn_outputs, state = self.rnn(self.inputs(tensor(tokens)), state)  # NumPy or MXNet ids
        return self.output_layer(rnn_outputs), state

    def forward(self, tokens, state=None):
        return self.forward_with_state(tokens, state)[0]


class RNNLM(RNNLMScratch):
    """The concise LM: the output layer is ``gluon.nn.Dense(vocab)`` (``weight`` is ``W_hq.T``),
    the embedding ``gluon.nn.Embedding(vocab, embedding_dim)``.

    Gluon's default initialisation (weights uniform in +-0.07, bias zero), drawn after
    ``mx.random.seed(seed + 1)``.
    """

    NATIVE = {"W_e": ("embedding.weight", False), "W_hq": ("linear.weight", True), "b_q": ("linear.bias", False)}

    def init_params(self):
        mx.random.seed(self.seed + 1)
        if self.embedding_dim is not None:
            self.embedding = gluon.nn.Embedding(self.vocab_size, self.embedding_dim)
            self.embedding.initialize()
        self.linear = gluon.nn.Dense(self.vocab_size, in_units=self.config.num_hiddens, flatten=False)
        self.linear.initialize()

    def inputs(self, tokens):
        if self.embedding_dim is None:
            return super().inputs(tokens)
        return self.embedding(tokens.T)

    def output_layer(self, rnn_outputs):
        return self.linear(rnn_outputs).swapaxes(0, 1)
