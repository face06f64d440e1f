"""LSTMs on the NumPy backend: the reference LSTM (equations: ``lstm_multi/reference/lstm.py``).

NumPy has no native LSTM, so :class:`LSTM` (``--impl concise``) is the same reference
layer as :class:`LSTMScratch`, peepholes included; both run float64.
"""

from __future__ import annotations

from ...core.family import LayerConfig
from .layers import ReferenceLayer


class LSTMScratch(ReferenceLayer):
    """The reference LSTM (``lstm_multi/reference/lstm.py``), stacked and bidirectional."""

    def __init__(
        self,
        num_inputs: int,
        num_hiddens: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        peephole: bool | str | None = False,
        forget_bias: float = 0.0,
        seed: int = 0,
        init: str | None = None,
        sigma: float | None = None,
    ) -> None:
        config = LayerConfig(
            "lstm",
            num_inputs,
            num_hiddens,
            num_layers,
            bidirectional,
            dropout,
            peephole=peephole,  # type: ignore[arg-type]  # LayerConfig reads True as "diagonal", False as None
            forget_bias=forget_bias,
        )
        super().__init__(config, seed=seed, init=init, sigma=sigma)


class LSTM(LSTMScratch):
    """NumPy has no native LSTM: the same reference layer as :class:`LSTMScratch` (same init,
    sigma 0.01), so ``--impl concise`` runs too; peepholes work here as well."""

    def __init__(
        self,
        num_inputs: int,
        num_hiddens: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        peephole: bool | str | None = False,
        forget_bias: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__(num_inputs, num_hiddens, num_layers, bidirectional, dropout, peephole, forget_bias, seed=seed)
