"""The NumPy LSTM step, forward and backward (float64): part of the parity oracle.

Shapes: ``X (B, d)`` one step, state ``H, C (B, h)``; ``p`` is one unit's canonical
parameters. Forward, with the optional peepholes in brackets::

    I  = sigmoid(X W_xi + H W_hi + b_i  [+ w_ci * C_prev | + C_prev W_ci])
    F  = sigmoid(X W_xf + H W_hf + b_f  [+ w_cf * C_prev | + C_prev W_cf])
    C~ = tanh(X W_xc + H W_hc + b_c)
    C  = F * C_prev + I * C~
    O  = sigmoid(X W_xo + H W_ho + b_o  [+ w_co * C      | + C_prev W_co])
    H  = O * tanh(C)

The diagonal peephole (Gers et al. 2002) lets the output gate read the new cell; the
full form (the tutorial's) reads C_prev in all three gates. Backward, given dH and the
dC carried back from step t+1::

    dA_o = dH * tanh(C) * O (1 - O)
    dC   = dC + dH * O * (1 - tanh(C)^2)  [+ dA_o * w_co]
    dA_i = dC * C~ * I (1 - I);   dA_f = dC * C_prev * F (1 - F);   dA_c = dC * I * (1 - C~^2)
    dC_prev = dC * F  [+ dA_i * w_ci + dA_f * w_cf | + dA_i W_ci^T + dA_f W_cf^T + dA_o W_co^T]
    dX = sum_g dA_g W_xg^T;   dH_prev = sum_g dA_g W_hg^T
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..core.types import Params
from .common import Array, Cache, StepResult, UnitState, gate_grads, sigmoid

if TYPE_CHECKING:
    from ..core.family import LayerConfig


def step(p: Params, X: Array, state: UnitState, config: LayerConfig) -> StepResult:
    """One step: returns the output H, the new state ``(H, C)`` and what backward needs."""
    H_prev, C_prev = state

    def peep(g: str, C: Array) -> Array | float:
        """Gate g's peephole term: diagonal reads ``C``, full reads C_prev; 0 without peepholes."""
        if config.peephole == "diagonal":
            return p[f"w_c{g}"] * C
        if config.peephole == "full":
            return C_prev @ p[f"W_c{g}"]
        return 0.0

    pre = lambda g: X @ p[f"W_x{g}"] + H_prev @ p[f"W_h{g}"] + p[f"b_{g}"]
    I = sigmoid(pre("i") + peep("i", C_prev))
    F = sigmoid(pre("f") + peep("f", C_prev))
    C_tilde = np.tanh(pre("c"))
    C = F * C_prev + I * C_tilde
    O = sigmoid(pre("o") + peep("o", C))
    H = O * np.tanh(C)
    cache = dict(X=X, H_prev=H_prev, C_prev=C_prev, I=I, F=F, O=O, C_tilde=C_tilde, C=C)
    traces = {"i": I, "f": F, "o": O, "c_tilde": C_tilde, "C": C, "H": H}
    return H, (H, C), cache, traces


def step_backward(
    p: Params, cache: Cache, d_state: UnitState, config: LayerConfig, grads: Params
) -> tuple[Array, UnitState]:
    """Back through one step: adds to ``grads``; returns ``dX`` and ``(dH_prev, dC_prev)``."""
    dH, dC = d_state
    X, C_prev, I, F, O, C_tilde, C = (cache[k] for k in ("X", "C_prev", "I", "F", "O", "C_tilde", "C"))
    tanh_C = np.tanh(C)
    dA = {"o": dH * tanh_C * O * (1 - O)}
    dC = dC + dH * O * (1 - tanh_C**2)
    if config.peephole == "diagonal":
        dC = dC + dA["o"] * p["w_co"]
    dA["i"] = dC * C_tilde * I * (1 - I)
    dA["f"] = dC * C_prev * F * (1 - F)
    dA["c"] = dC * I * (1 - C_tilde**2)
    dC_prev = dC * F
    if config.peephole == "diagonal":
        dC_prev = dC_prev + dA["i"] * p["w_ci"] + dA["f"] * p["w_cf"]
        grads["w_ci"] += (dA["i"] * C_prev).sum(0)
        grads["w_cf"] += (dA["f"] * C_prev).sum(0)
        grads["w_co"] += (dA["o"] * C).sum(0)
    elif config.peephole == "full":
        for g in "ifo":
            dC_prev = dC_prev + dA[g] @ p[f"W_c{g}"].T
            grads[f"W_c{g}"] += C_prev.T @ dA[g]
    dX, dH_prev = gate_grads(p, cache, dA, grads)
    return dX, (dH_prev, dC_prev)
