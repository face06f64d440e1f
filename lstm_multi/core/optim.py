"""The one optimizer every backend implements: SGD with gradient clipping.

One update, for every parameter ``p`` with gradient ``g``::

    norm = sqrt(sum over all parameters of sum(g ** 2))     # global gradient norm
    g    = g * min(1, clip / norm)                           # d2l's clip_gradients
    p    = p - lr * g

d2l scales only when ``norm > clip``; ``min(1, clip / norm)`` is the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from .checks import check_positive


@dataclass(frozen=True)
class SGD:
    lr: float

    def __post_init__(self):
        check_positive("lr", self.lr)


def clip_scale(norm: float, clip: float | None) -> float:
    """The factor gradients are multiplied by (1.0 when not clipping)."""
    if clip is None or norm <= clip:
        return 1.0
    return clip / norm
