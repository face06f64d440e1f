"""What the reference cells share: the sigmoid and the gradients of the gates' matmuls."""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

from ..core.types import Params

#: the reference computes in float64
Array: TypeAlias = NDArray[np.float64]
#: one unit's state at one step: ``(H, C)`` for an LSTM, ``(H,)`` otherwise, each ``(B, h)``
UnitState: TypeAlias = tuple[Array, ...]
#: what a backward pass needs from its forward pass (arrays, and the layer's configuration)
Cache: TypeAlias = dict[str, Any]
#: what a cell's ``step`` returns: the output H, the new state, the step's cache and its traces
StepResult: TypeAlias = tuple[Array, UnitState, Cache, dict[str, Array]]


def sigmoid(x: Array) -> Array:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free form


def gate_grads(
    p: Params, cache: Cache, dA: dict[str, Array], grads: Params, recurrent: str | None = None
) -> tuple[Array, Array]:
    """For each gate g with pre-activation gradient ``dA[g] (B, h)`` of ``X W_xg + H W_hg + b_g``:
    add ``X^T dA_g``, ``H_prev^T dA_g`` and ``sum dA_g`` to ``grads``; return ``dX`` and
    ``dH_prev``. ``recurrent`` lists the gates whose ``H W_hg`` term is a plain product
    (default: all)."""
    X, H_prev = cache["X"], cache["H_prev"]
    dX, dH_prev = np.zeros_like(X), np.zeros_like(H_prev)
    for g, dA_g in dA.items():
        grads[f"W_x{g}"] += X.T @ dA_g
        grads[f"b_{g}"] += dA_g.sum(0)
        dX = dX + dA_g @ p[f"W_x{g}"].T
        if recurrent is None or g in recurrent:
            grads[f"W_h{g}"] += H_prev.T @ dA_g
            dH_prev = dH_prev + dA_g @ p[f"W_h{g}"].T
    return dX, dH_prev
