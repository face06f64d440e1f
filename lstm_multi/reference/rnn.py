"""The NumPy vanilla RNN step, forward and backward (float64): part of the parity oracle.

``H = tanh(X W_xh + H_prev W_hh + b_h)``; backward: ``dA = dH (1 - H^2)``,
``dX = dA W_xh^T``, ``dH_prev = dA W_hh^T``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..core.types import Params
from .common import Array, Cache, StepResult, UnitState, gate_grads

if TYPE_CHECKING:
    from ..core.family import LayerConfig


def step(p: Params, X: Array, state: UnitState, config: LayerConfig) -> StepResult:
    (H_prev,) = state
    H = np.tanh(X @ p["W_xh"] + H_prev @ p["W_hh"] + p["b_h"])
    return H, (H,), dict(X=X, H_prev=H_prev, H=H), {"H": H}


def step_backward(
    p: Params, cache: Cache, d_state: UnitState, config: LayerConfig, grads: Params
) -> tuple[Array, UnitState]:
    (dH,) = d_state
    dA = {"h": dH * (1 - cache["H"] ** 2)}
    dX, dH_prev = gate_grads(p, cache, dA, grads)
    return dX, (dH_prev,)
