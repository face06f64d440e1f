"""The character language model on PyTorch (d2l's RNNLMScratch and RNNLM).

``tokens (batch_size, num_steps)`` -> one-hot ``(num_steps, batch_size, vocab)`` (or, with
``embedding_dim``, rows of ``W_e (vocab, embedding_dim)``) -> the recurrent layer (any cell
of the family, forward only) -> ``H_t W_hq + b_q`` -> ``logits (batch_size, num_steps, vocab)``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ...core.checks import check_tokens
from ...core.lm import LanguageModel, check_lm_layer
from .device import current_device
from .ops import tensor


class RNNLMScratch(LanguageModel, nn.Module):
    """The LM with its own parameters as tensors: ``W_hq (h, vocab)``, ``b_q (vocab,)`` and, with
    ``embedding_dim``, ``W_e (vocab, embedding_dim)``; d2l's initialisation (NumPy, seeded).

    Built in evaluation mode, as its layer (see :mod:`.layers`): the training step turns
    dropout on for its own forward pass.
    """

    backend_name = "torch"

    def __init__(self, rnn, vocab_size: int, lr: float = 0.01, seed: int = 0, embedding_dim: int | None = None):
        nn.Module.__init__(self)
        check_lm_layer(rnn, vocab_size, embedding_dim)
        self.save_hyperparameters()
        self.init_params()
        self.eval().to(current_device())  # built on the CPU from NumPy, then moved once

    def init_params(self):
        for name, value in self.initial_output_params().items():
            setattr(self, name, nn.Parameter(torch.from_numpy(value)))

    def inputs(self, tokens):
        """``(B, T)`` ids -> ``(T, B, vocab)`` float32 one-hot vectors, or ``(T, B, e)`` rows of ``W_e``."""
        if self.embedding_dim is None:
            return F.one_hot(tokens.T.long(), self.vocab_size).float()
        return F.embedding(tokens.T.long(), self.W_e)

    def output_layer(self, rnn_outputs):
        """``(T, B, h)`` -> ``(B, T, vocab)`` logits."""
        return (rnn_outputs @ self.W_hq + self.b_q).transpose(0, 1)

    def forward_with_state(self, tokens, state=None):
        """Logits ``(B, T, vocab)`` and the layer's final state (``(H, C)`` or ``H``)."""
        check_tokens(tokens, self.vocab_size)
        if not isinstance(tokens, torch.Tensor):
            tokens = tensor(tokens)
        rnn_outputs, state = self.rnn(self.inputs(tokens), state)
        return self.output_layer(rnn_outputs), state

    def forward(self, tokens, state=None):
        return self.forward_with_state(tokens, state)[0]


class RNNLM(RNNLMScratch):
    """The concise LM: the output layer is ``nn.Linear(h, vocab)`` (``weight`` is ``W_hq.T``), the
    embedding ``nn.Embedding(vocab, embedding_dim)`` (``weight`` is ``W_e``); torch's
    initialisation, seeded from ``seed + 1`` and ``seed + 2`` (the global RNG left as it was)."""

    NATIVE = {"W_e": ("embedding.weight", False), "W_hq": ("linear.weight", True), "b_q": ("linear.bias", False)}

    def init_params(self):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed + 1)
            self.linear = nn.Linear(self.config.num_hiddens, self.vocab_size)
            if self.embedding_dim is not None:
                torch.manual_seed(self.seed + 2)
                self.embedding = nn.Embedding(self.vocab_size, self.embedding_dim)

    def inputs(self, tokens):
        if self.embedding_dim is None:
            return super().inputs(tokens)
        return self.embedding(tokens.T.long())

    def output_layer(self, rnn_outputs):
        return self.linear(rnn_outputs).transpose(0, 1)
