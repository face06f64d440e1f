"""The character language model on PyTorch (d2l's RNNLMScratch and RNNLM).

``tokens (batch_size, num_steps)`` -> one-hot ``(num_steps, batch_size, vocab)``
-> LSTM -> ``H_t W_hq + b_q`` -> ``logits (batch_size, num_steps, vocab)``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ...core.checks import check_lm_sizes, check_tokens
from ...core.lm import LanguageModel


class RNNLMScratch(LanguageModel, nn.Module):
    """The LM with its output layer as two parameters, ``W_hq (h, vocab)`` and ``b_q (vocab,)``."""

    backend_name = "torch"

    def __init__(self, rnn, vocab_size: int, lr: float = 0.01, seed: int = 0):
        nn.Module.__init__(self)
        check_lm_sizes(rnn, vocab_size)
        self.save_hyperparameters()
        self.init_params()

    def init_params(self):
        params = self.initial_output_params()
        self.W_hq = nn.Parameter(torch.from_numpy(params["W_hq"]))
        self.b_q = nn.Parameter(torch.from_numpy(params["b_q"]))

    def one_hot(self, tokens):
        """``(B, T)`` ids -> ``(T, B, vocab)`` float32 one-hot vectors."""
        return F.one_hot(tokens.T.long(), self.vocab_size).float()

    def output_layer(self, rnn_outputs):
        """``(T, B, h)`` -> ``(B, T, vocab)`` logits."""
        return (rnn_outputs @ self.W_hq + self.b_q).transpose(0, 1)

    def forward_with_state(self, tokens, state=None):
        """Logits ``(B, T, vocab)`` and the final LSTM state ``(H, C)``."""
        check_tokens(tokens, self.vocab_size)
        rnn_outputs, state = self.rnn(self.one_hot(tokens), state)
        return self.output_layer(rnn_outputs), state

    def forward(self, tokens, state=None):
        return self.forward_with_state(tokens, state)[0]


class RNNLM(RNNLMScratch):
    """The concise LM: the output layer is ``nn.Linear(h, vocab)`` (``weight`` is ``W_hq.T``)."""

    def init_params(self):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed + 1)
            self.linear = nn.Linear(self.rnn.num_hiddens, self.vocab_size)

    def output_layer(self, rnn_outputs):
        return self.linear(rnn_outputs).transpose(0, 1)

    def _output_to_canonical(self, native):
        return {"W_hq": native["linear.weight"].T, "b_q": native["linear.bias"]}

    def _output_from_canonical(self, params):
        return {"linear.weight": params["W_hq"].T, "linear.bias": params["b_q"]}
