"""The character language model on JAX / Flax NNX (d2l's RNNLMScratch and RNNLM).

``tokens (batch_size, num_steps)`` -> one-hot ``(num_steps, batch_size, vocab)``
-> LSTM -> ``H_t W_hq + b_q`` -> ``logits (batch_size, num_steps, vocab)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx
from flax.core import FrozenDict

from ...core.checks import check_lm_sizes, check_state, check_tokens
from ...core.lm import LanguageModel
from .ops import jit_method


class RNNLMScratch(LanguageModel, nnx.Module):
    """The LM with its output layer as two parameters, ``W_hq (h, vocab)`` and ``b_q (vocab,)``."""

    backend_name = "jax"

    def __init__(self, rnn, vocab_size: int, lr: float = 0.01, seed: int = 0):
        check_lm_sizes(rnn, vocab_size)
        # NNX keeps plain attributes in the graph definition, which jax.jit hashes: so
        # hparams is frozen, and the LSTM (a submodule, not a hyper-parameter) is left out.
        self.save_hyperparameters(ignore=["rnn"])
        self.hparams = FrozenDict(self.hparams)
        self.rnn = rnn
        self.init_params()

    def init_params(self):
        params = self.initial_output_params()
        self.W_hq = nnx.Param(jnp.asarray(params["W_hq"]))
        self.b_q = nnx.Param(jnp.asarray(params["b_q"]))

    def one_hot(self, tokens):
        """``(B, T)`` ids -> ``(T, B, vocab)`` float32 one-hot vectors."""
        return jax.nn.one_hot(tokens.T, self.vocab_size, dtype=jnp.float32)

    def output_layer(self, rnn_outputs):
        """``(T, B, h)`` -> ``(B, T, vocab)`` logits."""
        return (rnn_outputs @ self.W_hq[...] + self.b_q[...]).swapaxes(0, 1)

    def forward_with_state(self, tokens, state=None):
        """Logits ``(B, T, vocab)`` and the final LSTM state ``(H, C)``."""
        check_tokens(tokens, self.vocab_size)
        if state is not None:  # checked here, before jit, so a bad state is a plain ValueError
            check_state(state, tokens.shape[0], self.rnn.num_hiddens)
        return self._forward_with_state(tokens, state)

    @jit_method
    def _forward_with_state(self, tokens, state):
        rnn_outputs, state = self.rnn(self.one_hot(tokens), state)
        return self.output_layer(rnn_outputs), state

    def __call__(self, tokens, state=None):
        return self.forward_with_state(tokens, state)[0]


class RNNLM(RNNLMScratch):
    """The concise LM: the output layer is ``nnx.Linear(h, vocab)`` (``kernel`` is ``W_hq``)."""

    def init_params(self):
        self.linear = nnx.Linear(self.rnn.num_hiddens, self.vocab_size, rngs=nnx.Rngs(self.seed + 1))

    def output_layer(self, rnn_outputs):
        return self.linear(rnn_outputs).swapaxes(0, 1)

    def _output_to_canonical(self, native):
        return {"W_hq": native["linear.kernel"], "b_q": native["linear.bias"]}

    def _output_from_canonical(self, params):
        return {"linear.kernel": params["W_hq"], "linear.bias": params["b_q"]}
