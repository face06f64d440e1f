"""Vanilla (tanh) RNNs on the NumPy backend: the reference RNN (equations:
``lstm_multi/reference/rnn.py``).

NumPy has no native RNN, so :class:`RNN` (``--impl concise``) is the same reference
layer as :class:`RNNScratch`; both run float64.
"""

from __future__ import annotations

from ...core.family import LayerConfig
from .layers import ReferenceLayer


class RNNScratch(ReferenceLayer):
    """The reference tanh RNN (``lstm_multi/reference/rnn.py``), stacked and bidirectional."""

    def __init__(
        self,
        num_inputs: int,
        num_hiddens: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        seed: int = 0,
        init: str | None = None,
        sigma: float | None = None,
    ) -> None:
        config = LayerConfig("rnn", num_inputs, num_hiddens, num_layers, bidirectional, dropout)
        super().__init__(config, seed=seed, init=init, sigma=sigma)


class RNN(RNNScratch):
    """NumPy has no native RNN: the same reference layer as :class:`RNNScratch` (same init,
    sigma 0.01), so ``--impl concise`` runs too."""

    def __init__(
        self,
        num_inputs: int,
        num_hiddens: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__(num_inputs, num_hiddens, num_layers, bidirectional, dropout, seed=seed)
