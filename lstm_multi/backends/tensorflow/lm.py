"""The character language model on TensorFlow (d2l's RNNLMScratch and RNNLM).

``tokens (batch_size, num_steps)`` -> one-hot ``(num_steps, batch_size, vocab)`` (or, with
``embedding_dim``, rows of ``W_e``: ``(num_steps, batch_size, embedding_dim)``) -> the
layer (any forward-only layer of the family) -> ``H_t W_hq + b_q`` ->
``logits (batch_size, num_steps, vocab)``.
"""

from __future__ import annotations

from ...core.checks import check_tokens
from ...core.lm import LanguageModel, check_lm_layer
from ._imports import keras, tf


class RNNLMScratch(LanguageModel, tf.Module):
    """The LM with its own parameters as variables: ``W_hq (h, vocab)``, ``b_q (vocab,)`` and,
    with ``embedding_dim``, ``W_e (vocab, embedding_dim)`` read by ``tf.gather``.

    Initialisation is d2l's, drawn by NumPy (``initial_output_params``).
    """

    backend_name = "tensorflow"

    def __init__(self, rnn, vocab_size: int, lr: float = 0.01, seed: int = 0, embedding_dim: int | None = None):
        tf.Module.__init__(self)
        check_lm_layer(rnn, vocab_size, embedding_dim)
        self.save_hyperparameters()
        self.init_params()

    def init_params(self):
        self.own = {name: tf.Variable(value, name=name) for name, value in self.initial_output_params().items()}

    def own_variables(self):
        """Native name -> variable of the LM's own parameters (:attr:`NATIVE`)."""
        return dict(self.own)

    def named_variables(self):
        """Native name -> variable (what ``get_params`` lists), the layer's behind ``"rnn."``."""
        rnn = {f"rnn.{name}": v for name, v in self.rnn.named_variables().items()}
        return {**rnn, **self.own_variables()}

    def embed(self, tokens):
        """``(B, T)`` ids -> ``(T, B, vocab)`` one-hot vectors, or ``(T, B, e)`` rows of ``W_e``.

        Transposed after the lookup: TensorFlow's oneDNN transpose of int32 logs an error
        line on CPUs it does not support it on, then falls back.
        """
        if self.embedding_dim is None:
            return tf.transpose(tf.one_hot(tokens, self.vocab_size), (1, 0, 2))
        return tf.transpose(tf.gather(self.own["W_e"], tokens), (1, 0, 2))

    def output_layer(self, rnn_outputs):
        """``(T, B, h)`` -> ``(B, T, vocab)`` logits."""
        # tensordot: one (T B, h) @ (h, vocab) matmul, where `@` on a 3-D tensor is a batched
        # one, T small products (their weight gradient a (T, h, vocab) sum): 5% of the
        # training step at h 32 / batch 1024
        logits = tf.tensordot(rnn_outputs, self.own["W_hq"], axes=1) + self.own["b_q"]
        return tf.transpose(logits, (1, 0, 2))  # the small tensor moves

    def forward_with_state(self, tokens, state=None):
        """Logits ``(B, T, vocab)`` and the layer's final state (its API form)."""
        check_tokens(tokens, self.vocab_size)
        rnn_outputs, state = self.rnn(self.embed(tokens), state)
        return self.output_layer(rnn_outputs), state

    def __call__(self, tokens, state=None):
        return self.forward_with_state(tokens, state)[0]

    def forward(self, tokens, training=False):
        """Logits without the shape checks: what the compiled steps trace (see ``ops``);
        ``training=True`` turns on the layer's dropout."""
        return self.output_layer(self.rnn.forward(self.embed(tokens), training=training)[0])


class RNNLM(RNNLMScratch):
    """The concise LM: ``keras.layers.Dense(vocab)`` on top, ``keras.layers.Embedding`` in front.

    Dense's ``kernel (h, vocab)`` is ``W_hq`` and its ``bias (vocab,)`` is ``b_q``, as they
    are (Keras computes ``inputs @ kernel + bias``); Embedding's ``embeddings
    (vocab, embedding_dim)`` is ``W_e``. Initialisation is Keras' own: Glorot-uniform
    kernel and zero bias seeded with ``seed + 1``, embeddings uniform in +-0.05 seeded with
    ``seed + 2``.
    """

    NATIVE = {"W_e": ("embedding.embeddings", False), "W_hq": ("dense.kernel", False), "b_q": ("dense.bias", False)}

    def init_params(self):
        self.dense = keras.layers.Dense(
            self.vocab_size, kernel_initializer=keras.initializers.GlorotUniform(self.seed + 1)
        )
        self.dense.build((None, self.config.num_hiddens))
        if self.embedding_dim is not None:
            self.embedding = keras.layers.Embedding(
                self.vocab_size,
                self.embedding_dim,
                embeddings_initializer=keras.initializers.RandomUniform(seed=self.seed + 2),
            )
            self.embedding.build((None, None))

    def own_variables(self):
        variables = {"dense.kernel": self.dense.kernel, "dense.bias": self.dense.bias}
        if self.embedding_dim is None:
            return variables
        return {"embedding.embeddings": self.embedding.embeddings, **variables}  # canonical order

    def embed(self, tokens):
        if self.embedding_dim is None:
            return super().embed(tokens)
        return tf.transpose(self.embedding(tokens), (1, 0, 2))

    def output_layer(self, rnn_outputs):
        return tf.transpose(self.dense(rnn_outputs), (1, 0, 2))
