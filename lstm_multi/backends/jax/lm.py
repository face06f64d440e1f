"""The character language model on JAX / Flax NNX (d2l's RNNLMScratch and RNNLM).

``tokens (batch_size, num_steps)`` -> one-hot ``(num_steps, batch_size, vocab)`` (or,
with ``embedding_dim``, rows of ``W_e (vocab, embedding_dim)``) -> the layer (any cell of
the family, forward only) -> ``H_t W_hq + b_q`` -> ``logits (batch_size, num_steps, vocab)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from flax.core import FrozenDict

from ...core.checks import check_state, check_tokens
from ...core.lm import LanguageModel, check_lm_layer
from .ops import jit_method


class RNNLMScratch(LanguageModel, nnx.Module):
    """The LM with its own parameters as plain arrays: ``W_hq (h, vocab)``, ``b_q (vocab,)`` and,
    with ``embedding_dim``, ``W_e (vocab, embedding_dim)`` (d2l's initialisation, NumPy)."""

    backend_name = "jax"

    def __init__(self, rnn, vocab_size: int, lr: float = 0.01, seed: int = 0, embedding_dim: int | None = None):
        check_lm_layer(rnn, vocab_size, embedding_dim)
        # NNX keeps plain attributes in the graph definition, which jax.jit hashes: so
        # hparams is frozen, and the layer (a submodule, not a hyper-parameter) is left out.
        self.save_hyperparameters(ignore=["rnn"])
        self.hparams = FrozenDict(self.hparams)
        self.rnn = rnn
        self.init_params()

    def init_params(self):
        for name, value in self.initial_output_params().items():
            setattr(self, name, nnx.Param(jnp.asarray(value)))

    def inputs(self, tokens):
        """``(B, T)`` ids -> ``(T, B, vocab)`` float32 one-hot vectors, or ``(T, B, e)`` rows of ``W_e``."""
        if self.embedding_dim is None:
            return jax.nn.one_hot(tokens.T, self.vocab_size, dtype=jnp.float32)
        return jnp.take(self.W_e[...], tokens.T, axis=0)

    def output_layer(self, rnn_outputs):
        """``(T, B, h)`` -> ``(B, T, vocab)`` logits."""
        return (rnn_outputs @ self.W_hq[...] + self.b_q[...]).swapaxes(0, 1)

    def forward_with_state(self, tokens, state=None):
        """Logits ``(B, T, vocab)`` and the layer's final state (``(H, C)`` or ``H``)."""
        check_tokens(tokens, self.vocab_size)
        if state is not None:  # checked here, before jit, so a bad state is a plain ValueError
            check_state(state, self.config, np.shape(tokens)[0])
        return self._forward_with_state(tokens, state)

    @jit_method
    def _forward_with_state(self, tokens, state):
        rnn_outputs, state = self.rnn(self.inputs(tokens), state)
        return self.output_layer(rnn_outputs), state

    def __call__(self, tokens, state=None):
        return self.forward_with_state(tokens, state)[0]


class RNNLM(RNNLMScratch):
    """The concise LM: ``nnx.Linear(h, vocab)`` (``kernel`` is ``W_hq``) and, with
    ``embedding_dim``, ``nnx.Embed(vocab, embedding_dim)`` (``embedding`` is ``W_e``);
    Flax's initialisation, from ``seed + 1`` and ``seed + 2``."""

    NATIVE = {"W_e": ("embedding.embedding", False), "W_hq": ("linear.kernel", False), "b_q": ("linear.bias", False)}

    def init_params(self):
        self.linear = nnx.Linear(self.config.num_hiddens, self.vocab_size, rngs=nnx.Rngs(self.seed + 1))
        if self.embedding_dim is not None:
            self.embedding = nnx.Embed(self.vocab_size, self.embedding_dim, rngs=nnx.Rngs(self.seed + 2))

    def inputs(self, tokens):
        if self.embedding_dim is None:
            return super().inputs(tokens)
        return self.embedding(tokens.T)

    def output_layer(self, rnn_outputs):
        return self.linear(rnn_outputs).swapaxes(0, 1)
