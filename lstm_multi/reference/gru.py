"""The NumPy GRU step, forward and backward (float64): part of the parity oracle.

Shapes: ``X (B, d)`` one step, ``H (B, h)``; ``p`` is one unit's canonical parameters::

    Z  = sigmoid(X W_xz + H W_hz + b_z)
    R  = sigmoid(X W_xr + H W_hr + b_r)
    H~ = tanh(X W_xh + b_h + R * (H W_hh + b_hh))     reset after (cuDNN, torch, Keras, Flax, Gluon)
    H~ = tanh(X W_xh + (R * H) W_hh + b_h)             reset before (d2l)
    H  = Z * H_prev + (1 - Z) * H~

Backward, given dH::

    dZ = dH * (H_prev - H~);   dA_h = dH * (1 - Z) * (1 - H~^2);   dH_prev = dH * Z + ...
    after:  dU = dA_h * R (U = H W_hh + b_hh);  dR = dA_h * U;  dH_prev += dU W_hh^T
    before: dRH = dA_h W_hh^T;  dR = dRH * H;  dH_prev += dRH * R
    dA_z = dZ * Z (1 - Z);  dA_r = dR * R (1 - R)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..core.types import Params
from .common import Array, Cache, StepResult, UnitState, gate_grads, sigmoid

if TYPE_CHECKING:
    from ..core.family import LayerConfig


def step(p: Params, X: Array, state: UnitState, config: LayerConfig) -> StepResult:
    (H_prev,) = state
    Z = sigmoid(X @ p["W_xz"] + H_prev @ p["W_hz"] + p["b_z"])
    R = sigmoid(X @ p["W_xr"] + H_prev @ p["W_hr"] + p["b_r"])
    if config.reset_after:
        U = H_prev @ p["W_hh"] + p["b_hh"]
        H_tilde = np.tanh(X @ p["W_xh"] + p["b_h"] + R * U)
    else:
        U = None
        H_tilde = np.tanh(X @ p["W_xh"] + (R * H_prev) @ p["W_hh"] + p["b_h"])
    H = Z * H_prev + (1 - Z) * H_tilde
    cache = dict(X=X, H_prev=H_prev, Z=Z, R=R, U=U, H_tilde=H_tilde)
    return H, (H,), cache, {"z": Z, "r": R, "h_tilde": H_tilde, "H": H}


def step_backward(
    p: Params, cache: Cache, d_state: UnitState, config: LayerConfig, grads: Params
) -> tuple[Array, UnitState]:
    (dH,) = d_state
    X, H_prev, Z, R, U, H_tilde = (cache[k] for k in ("X", "H_prev", "Z", "R", "U", "H_tilde"))
    dZ = dH * (H_prev - H_tilde)
    dA_h = dH * (1 - Z) * (1 - H_tilde**2)
    dH_prev = dH * Z
    if config.reset_after:
        dU = dA_h * R
        dR = dA_h * U
        grads["W_hh"] += H_prev.T @ dU
        grads["b_hh"] += dU.sum(0)
        dH_prev = dH_prev + dU @ p["W_hh"].T
    else:
        grads["W_hh"] += (R * H_prev).T @ dA_h
        dRH = dA_h @ p["W_hh"].T
        dR = dRH * H_prev
        dH_prev = dH_prev + dRH * R
    dA = {"z": dZ * Z * (1 - Z), "r": dR * R * (1 - R), "h": dA_h}
    # W_hh's gradient is done above (it multiplies R * H or sits inside R * (...)).
    dX, dH_rec = gate_grads(p, cache, dA, grads, recurrent="zr")
    return dX, (dH_prev + dH_rec,)
