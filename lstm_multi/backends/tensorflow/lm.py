"""The character language model on TensorFlow (d2l's RNNLMScratch and RNNLM).

``tokens (batch_size, num_steps)`` -> one-hot ``(num_steps, batch_size, vocab)``
-> LSTM -> ``H_t W_hq + b_q`` -> ``logits (batch_size, num_steps, vocab)``.
"""

from __future__ import annotations

from ...core.checks import check_lm_sizes, check_tokens
from ...core.lm import LanguageModel
from ._imports import keras, tf


class RNNLMScratch(LanguageModel, tf.Module):
    """The LM with its output layer as two variables, ``W_hq (h, vocab)`` and ``b_q (vocab,)``."""

    backend_name = "tensorflow"

    def __init__(self, rnn, vocab_size: int, lr: float = 0.01, seed: int = 0):
        tf.Module.__init__(self)
        check_lm_sizes(rnn, vocab_size)
        self.save_hyperparameters()
        self.init_params()

    def init_params(self):
        params = self.initial_output_params()
        self.W_hq = tf.Variable(params["W_hq"], name="W_hq")
        self.b_q = tf.Variable(params["b_q"], name="b_q")

    def named_variables(self):
        """Native name -> variable (what ``get_params`` lists), the LSTM's behind ``"rnn."``."""
        rnn = {f"rnn.{name}": v for name, v in self.rnn.named_variables().items()}
        return {**rnn, **self.output_variables()}

    def output_variables(self):
        return {"W_hq": self.W_hq, "b_q": self.b_q}

    def one_hot(self, tokens):
        """``(B, T)`` ids -> ``(T, B, vocab)`` float32 one-hot vectors.

        Transposed after one_hot: TensorFlow's oneDNN transpose of int32 logs an error
        line on CPUs it does not support it on, then falls back.
        """
        return tf.transpose(tf.one_hot(tokens, self.vocab_size), (1, 0, 2))

    def output_layer(self, rnn_outputs):
        """``(T, B, h)`` -> ``(B, T, vocab)`` logits."""
        return tf.transpose(rnn_outputs @ self.W_hq + self.b_q, (1, 0, 2))  # the small tensor moves

    def forward_with_state(self, tokens, state=None):
        """Logits ``(B, T, vocab)`` and the final LSTM state ``(H, C)``."""
        check_tokens(tokens, self.vocab_size)
        rnn_outputs, state = self.rnn(self.one_hot(tokens), state)
        return self.output_layer(rnn_outputs), state

    def __call__(self, tokens, state=None):
        return self.forward_with_state(tokens, state)[0]

    def forward(self, tokens):
        """Logits without the shape checks: what the compiled steps trace (see ``ops``)."""
        return self.output_layer(self.rnn.forward(self.one_hot(tokens))[0])


class RNNLM(RNNLMScratch):
    """The concise LM: the output layer is ``keras.layers.Dense(vocab)``.

    Its ``kernel (h, vocab)`` is ``W_hq`` and its ``bias (vocab,)`` is ``b_q``, as they
    are (Keras computes ``inputs @ kernel + bias``). Initialisation is Keras' own
    (Glorot-uniform kernel, zero bias), seeded with ``seed + 1``.
    """

    def init_params(self):
        self.dense = keras.layers.Dense(
            self.vocab_size, kernel_initializer=keras.initializers.GlorotUniform(self.seed + 1))
        self.dense.build((None, self.rnn.num_hiddens))

    def output_variables(self):
        return {"dense.kernel": self.dense.kernel, "dense.bias": self.dense.bias}

    def output_layer(self, rnn_outputs):
        return tf.transpose(self.dense(rnn_outputs), (1, 0, 2))

    def _output_to_canonical(self, native):
        return {"W_hq": native["dense.kernel"], "b_q": native["dense.bias"]}

    def _output_from_canonical(self, params):
        return {"dense.kernel": params["W_hq"], "dense.bias": params["b_q"]}
