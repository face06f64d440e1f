"""GRUs on the NumPy backend: the reference GRU (equations: ``lstm_multi/reference/gru.py``).

NumPy has no native GRU, so :class:`GRU` (``--impl concise``) is the same reference
layer as :class:`GRUScratch`, in both forms (``reset_after``); both run float64.
"""

from __future__ import annotations

from ...core.family import LayerConfig
from .layers import ReferenceLayer


class GRUScratch(ReferenceLayer):
    """The reference GRU (``lstm_multi/reference/gru.py``), stacked and bidirectional."""

    def __init__(
        self,
        num_inputs: int,
        num_hiddens: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        reset_after: bool = True,
        seed: int = 0,
        init: str | None = None,
        sigma: float | None = None,
    ) -> None:
        config = LayerConfig(
            "gru", num_inputs, num_hiddens, num_layers, bidirectional, dropout, reset_after=reset_after
        )
        super().__init__(config, seed=seed, init=init, sigma=sigma)


class GRU(GRUScratch):
    """NumPy has no native GRU: the same reference layer as :class:`GRUScratch` (same init,
    sigma 0.01), so ``--impl concise`` runs too; ``reset_after=False`` works here as well."""

    def __init__(
        self,
        num_inputs: int,
        num_hiddens: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        reset_after: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__(num_inputs, num_hiddens, num_layers, bidirectional, dropout, reset_after, seed=seed)
