"""GRUs on PyTorch: the from-scratch cell (both forms) and ``torch.nn.GRU``.

Both take time-major ``X (num_steps, batch_size, num_inputs)`` and an optional state
``H``, ``(batch_size, num_hiddens)`` for one layer in one direction, else
``(num_layers * directions, batch_size, num_hiddens)``; they return
``outputs (num_steps, batch_size, num_hiddens * directions)`` and the final ``H``
(see :mod:`.layers`).
"""

from __future__ import annotations

import torch
from torch import nn

from ...core.family import LayerConfig
from .layers import NativeLayer, ScratchLayer


class GRUScratch(ScratchLayer):
    """d2l's GRU from scratch, the three blocks fused: one matmul each for X and H.

    For each step t (``*`` is element-wise)::

        Z = sigmoid(X_t W_xz + H W_hz + b_z)
        R = sigmoid(X_t W_xr + H W_hr + b_r)
        H_tilde = tanh(X_t W_xh + b_h + R * (H W_hh + b_hh))   reset_after (cuDNN's form)
        H_tilde = tanh(X_t W_xh + (R * H) W_hh + b_h)          reset_after=False (d2l's)
        H = Z * H + (1 - Z) * H_tilde

    Stored in d2l's order z, r, h: ``W_x (d, 3h)``, ``W_h (h, 3h)``, ``b (3h,)``, and
    ``b_hh (h,)`` for the reset-after form. ``X_t W_x + b`` is computed for all steps
    before the loop; autograd differentiates the step.
    """

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
    ):
        config = LayerConfig(
            "gru", num_inputs, num_hiddens, num_layers, bidirectional, dropout, reset_after=reset_after
        )
        super().__init__(config, init=init, sigma=sigma, seed=seed)

    @staticmethod
    def step(config, p, state, XW_t):
        return gru_step(config, p, state, XW_t)


def gru_step(config: LayerConfig, p: dict, state: tuple, XW_t):
    """One GRU step (the equations of :class:`GRUScratch`): ``p`` one unit's fused tensors,
    ``state`` ``(H,)``, ``XW_t = X_t W_x + b (B, 3h)``. Returns the new ``(H,)`` and the gates
    and states it computed (``CELLS["gru"].traces``), for :func:`.layers.trace`."""
    (H,) = state
    h = config.num_hiddens
    X_z, X_r, X_h = XW_t.chunk(3, dim=-1)  # X_t W_x + b, b_h included
    if config.reset_after:
        H_z, H_r, H_h = (H @ p["W_h"]).chunk(3, dim=-1)
        Z, R = torch.sigmoid(X_z + H_z), torch.sigmoid(X_r + H_r)
        H_tilde = torch.tanh(X_h + R * (H_h + p["b_hh"]))
    else:  # R multiplies H before the candidate's matmul: two matmuls of H
        H_z, H_r = (H @ p["W_h"][:, : 2 * h]).chunk(2, dim=-1)
        Z, R = torch.sigmoid(X_z + H_z), torch.sigmoid(X_r + H_r)
        H_tilde = torch.tanh(X_h + (R * H) @ p["W_h"][:, 2 * h :])
    H = Z * H + (1 - Z) * H_tilde
    return (H,), {"z": Z, "r": R, "h_tilde": H_tilde, "H": H}


class GRU(NativeLayer):
    """The concise GRU: ``torch.nn.GRU`` (time-major, cuDNN on GPU), stacked and bidirectional.

    torch stacks the gates in the order r, z, n as rows (torch/nn/modules/rnn.py:
    ``weight_ih_l[k]`` is "(W_ir|W_iz|W_in)") and computes
    ``n = tanh(x W_in + b_in + r * (h W_hn + b_hn))``, ``h' = (1 - z) * n + z * h``, with
    two biases: canonical ``b_r = bias_ih_r + bias_hh_r``, ``b_z`` likewise, ``b_h = bias_ih_n``
    and ``b_hh = bias_hh_n``. The r and z blocks of ``bias_hh`` are kept at zero by a
    gradient mask (:meth:`frozen`). torch has only the reset-after form: a ValueError for
    ``reset_after=False``.
    """

    TORCH = nn.GRU
    step = staticmethod(gru_step)  # the same equations, for trace()

    def __init__(
        self,
        num_inputs: int,
        num_hiddens: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        reset_after: bool = True,
        seed: int = 0,
    ):
        config = LayerConfig(
            "gru", num_inputs, num_hiddens, num_layers, bidirectional, dropout, reset_after=reset_after
        )
        if not config.reset_after:
            raise ValueError(
                "torch's nn.GRU has only the reset-after form (cuDNN's); use GRUScratch(reset_after=False) for d2l's."
            )
        super().__init__(config, seed=seed)
