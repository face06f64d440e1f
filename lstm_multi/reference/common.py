"""What the reference cells share: the sigmoid and the gradients of the gates' matmuls."""

from __future__ import annotations

import numpy as np


def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free form


def gate_grads(p, cache, dA, grads, recurrent=None):
    """For each gate g with pre-activation gradient ``dA[g] (B, h)`` of ``X W_xg + H W_hg + b_g``:
    add ``X^T dA_g``, ``H_prev^T dA_g`` and ``sum dA_g`` to ``grads``; return ``dX`` and
    ``dH_prev``. ``recurrent`` lists the gates whose ``H W_hg`` term is a plain product
    (default: all)."""
    X, H_prev = cache["X"], cache["H_prev"]
    dX, dH_prev = 0.0, 0.0
    for g, dA_g in dA.items():
        grads[f"W_x{g}"] += X.T @ dA_g
        grads[f"b_{g}"] += dA_g.sum(0)
        dX = dX + dA_g @ p[f"W_x{g}"].T
        if recurrent is None or g in recurrent:
            grads[f"W_h{g}"] += H_prev.T @ dA_g
            dH_prev = dH_prev + dA_g @ p[f"W_h{g}"].T
    return dX, dH_prev
