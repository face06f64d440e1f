"""The character language model on the NumPy backend: :func:`lstm_multi.reference.lm_forward`.

``tokens (batch_size, num_steps)`` -> one-hot ``(num_steps, batch_size, vocab)`` (or rows of
``W_e``) -> the layer -> ``H_t W_hq + b_q`` -> ``logits (batch_size, num_steps, vocab)``,
all float64. Parameters are stored under their canonical names: ``W_e``, ``W_hq``, ``b_q``
in :attr:`RNNLMScratch.own`, the layer's behind the native prefix ``"rnn."``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...core.checks import as_numpy, check_state, check_tokens
from ...core.lm import LanguageModel, check_lm_layer
from ...core.types import NativeParams, Params, State, Tensor
from ...reference import lm_forward, lm_loss_and_grads
from .layers import ReferenceLayer


class RNNLMScratch(LanguageModel):
    """d2l's RNN language model on the reference (float64): the output layer is ``W_hq (h, vocab)``
    and ``b_q (vocab,)``, initialised like every backend's (``initial_output_params``)."""

    backend_name = "numpy"
    # saved by save_hyperparameters:
    rnn: ReferenceLayer
    vocab_size: int

    def __init__(
        self, rnn: ReferenceLayer, vocab_size: int, lr: float = 0.01, seed: int = 0, embedding_dim: int | None = None
    ) -> None:
        check_lm_layer(rnn, vocab_size, embedding_dim)
        self.save_hyperparameters()
        self.own = {name: value.astype(np.float64) for name, value in self.initial_output_params().items()}

    def native_params(self) -> dict[str, np.ndarray]:
        """The stored arrays themselves, by native name (``rnn.`` + the layer's canonical names)."""
        return {**self.own, **{f"rnn.{name}": value for name, value in self.rnn.native_params().items()}}

    def load_native(self, native: NativeParams) -> None:
        self.own = {name: np.array(native[name], dtype=np.float64) for name in self._own_names()}
        self.rnn.load_native({name[len("rnn.") :]: value for name, value in native.items() if name.startswith("rnn.")})

    def reference_params(self) -> dict[str, np.ndarray]:
        """Every canonical parameter (the stored arrays), as :func:`lm_forward` takes them."""
        return {**self.own, **self.rnn.params}

    def reference_loss_and_grads(
        self, tokens: np.ndarray, targets: np.ndarray, masks: Sequence[np.ndarray] | None = None
    ) -> tuple[float, Params]:
        """The reference's loss and gradients (``masks``: dropout between layers, training only)."""
        return lm_loss_and_grads(self.reference_params(), tokens, targets, config=self.config, masks=masks)

    def forward_with_state(self, tokens: Tensor, state: State | None = None) -> tuple[np.ndarray, State]:
        """Logits ``(B, T, vocab)`` and the layer's final state (its API form), float64."""
        tokens = as_numpy(tokens)
        check_tokens(tokens, self.vocab_size)
        if state is not None:
            check_state(state, self.config, tokens.shape[0])
        logits, state, _ = lm_forward(self.reference_params(), tokens, state, config=self.config)
        return logits, state

    def __call__(self, tokens: Tensor, state: State | None = None) -> np.ndarray:
        return self.forward_with_state(tokens, state)[0]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.rnn!r}, vocab_size={self.vocab_size})"


class RNNLM(RNNLMScratch):
    """NumPy has no native layers: the concise LM is the same reference LM as
    :class:`RNNLMScratch` (around ``LSTM``/``GRU``/``RNN``, themselves the reference layers)."""
