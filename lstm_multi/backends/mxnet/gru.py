"""GRUs on MXNet Gluon: the from-scratch cell (reset after or before) and ``gluon.rnn.GRU``.

Both take time-major ``X (num_steps, batch_size, num_inputs)`` and an optional state
``H``, ``(batch_size, num_hiddens)`` for one layer in one direction, else
``(num_layers * directions, batch_size, num_hiddens)``; they return
``outputs (num_steps, batch_size, num_hiddens * directions)`` and the final ``H``.
"""

from __future__ import annotations

from functools import partial

from mxnet import gluon

from ...core.family import LayerConfig
from .layers import NativeLayer, ScratchLayer, matmul, split, with_dropout_between_layers


def gru_step(config, p, state, XW_t, api):
    """One step of :class:`GRUScratch`'s equations, from ``XW_t = X_t W_x + b`` and
    ``state = (H,)``: the new ``(H,)`` and every gate and state, as ``CELLS["gru"].traces``
    names them."""
    h = config.num_hiddens
    sigmoid = partial(api.npx.activation, act_type="sigmoid")
    tanh = partial(api.npx.activation, act_type="tanh")
    dot = partial(matmul, api)  # A W on oneDNN (np.dot has no AVX in the 1.9.1 wheel)
    (H,) = state
    if config.reset_after:
        HW = dot(H, p["W_h"])  # (B, 3h): blocks z, r, h
        A_z, A_r, _ = split(api, XW_t + HW, 3, h)
        Z, R = sigmoid(A_z), sigmoid(A_r)  # one each: each keeps only its (B, h) for the backward
        XW_h, HW_h = split(api, XW_t, 3, h)[2], split(api, HW, 3, h)[2]
        H_tilde = tanh(XW_h + R * (HW_h + p["b_hh"]))
    else:
        Z, R = map(sigmoid, split(api, XW_t[:, : 2 * h] + dot(H, p["W_h"][:, : 2 * h]), 2, h))
        H_tilde = tanh(XW_t[:, 2 * h :] + dot(R * H, p["W_h"][:, 2 * h :]))
    # Z * H + (1 - Z) * H_tilde, written so that the static graph keeps one (B, h) product
    # for the backward (H - H_tilde) where the textbook form keeps two (1 - Z and H).
    H = H_tilde + Z * (H - H_tilde)
    return (H,), {"z": Z, "r": R, "h_tilde": H_tilde, "H": H}


class GRUScratch(ScratchLayer):
    """The GRU from scratch, its three gates fused into one matmul.

    For each step t (``*`` is element-wise)::

        Z = sigmoid(X_t W_xz + H W_hz + b_z)
        R = sigmoid(X_t W_xr + H W_hr + b_r)
        H_tilde = tanh(X_t W_xh + b_h + R * (H W_hh + b_hh))     reset_after=True (cuDNN's form)
        H_tilde = tanh(X_t W_xh + (R * H) W_hh + b_h)            reset_after=False (d2l's)
        H = Z * H + (1 - Z) * H_tilde

    Each unit stores ``W_x (d, 3h)``, ``W_h (h, 3h)``, ``b (3h,)`` in d2l's order z, r, h
    and, reset after, ``b_hh (h,)``. ``X_t W_x + b`` starts each step of
    :func:`gru_step`. Reset after, one matmul ``H W_h`` serves all three gates; reset
    before, the candidate's ``(R * H) W_hh`` waits for R, so ``H`` meets ``W_hz``, ``W_hr``
    first.
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

    step = staticmethod(gru_step)


class GRU(NativeLayer):
    """The concise GRU: ``gluon.rnn.GRU`` (layout "TNC"), stacked and bidirectional.

    Gluon stacks the gates in the order r, z, n as rows (python/mxnet/gluon/rnn/rnn_cell.py
    GRUCell slices ``i2h_r, i2h_z, i2h``; the fused operator, src/operator/rnn_impl.h, reads
    the same blocks; the tests confirm it) and computes
    ``n = tanh(x W_in + b_in + r * (h W_hn + b_hn))``, ``h = (1 - z) * n + z * h``, with two
    biases: canonical ``b_r = i2h_r + h2h_r``, ``b_z`` likewise, ``b_h = i2h_n`` and
    ``b_hh = h2h_n``. The r and z blocks of ``h2h_bias`` are frozen at zero by a gradient
    mask (``grad_req`` is per parameter). Gluon has only the reset-after form: a ValueError
    for ``reset_after=False``.
    """

    GLUON = with_dropout_between_layers(gluon.rnn.GRU)

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
                "Gluon's GRU has only the reset-after form (cuDNN's); use GRUScratch(reset_after=False) for d2l's."
            )
        super().__init__(config, seed=seed)

    step = staticmethod(gru_step)  # the same equations, for trace() (Gluon's layer returns no gates)
