"""LSTMs on MXNet Gluon: the from-scratch cell (plain or with peepholes) and ``gluon.rnn.LSTM``.

Both take time-major ``X (num_steps, batch_size, num_inputs)`` and an optional state
``(H, C)``, each ``(batch_size, num_hiddens)`` for one layer in one direction, else
``(num_layers * directions, batch_size, num_hiddens)``; they return
``outputs (num_steps, batch_size, num_hiddens * directions)`` and the final ``(H, C)``.

Both are hybridized when built (see :mod:`.layers`); ``lstm.hybridize(False)`` runs the
same code op by op, as d2l does.
"""

from __future__ import annotations

from functools import partial

from mxnet import gluon

from ...core.family import LayerConfig
from .layers import NativeLayer, ScratchLayer, matmul, split, with_dropout_between_layers

NO_PEEPHOLE = "No framework's native LSTM has peephole connections; use LSTMScratch(peephole=...)."


def lstm_step(config, p, state, XW_t, api):
    """One step of :class:`LSTMScratch`'s equations, from ``XW_t = X_t W_x + b`` and
    ``state = (H, C)``: the new ``(H, C)`` and every gate and state, as ``CELLS["lstm"].traces``
    names them.

    ``api`` is Gluon's ``F`` (``mxnet.ndarray`` op by op, ``mxnet.symbol`` when tracing);
    ``p`` the unit's fused parameters (gate blocks i, f, o, c).
    """
    h, peephole = config.num_hiddens, config.peephole
    sigmoid = partial(api.npx.activation, act_type="sigmoid")
    tanh = partial(api.npx.activation, act_type="tanh")
    dot = partial(matmul, api)  # A W on oneDNN (np.dot has no AVX in the 1.9.1 wheel)
    H, C = state
    gates = XW_t + dot(H, p["W_h"])  # (B, 4h): one fused matmul, blocks i, f, o, c
    A_i, A_f, A_o, A_c = split(api, gates, 4, h)
    if peephole == "diagonal":
        A_i, A_f = A_i + p["w_ci"] * C, A_f + p["w_cf"] * C
    elif peephole == "full":
        A_i, A_f, A_o = A_i + dot(C, p["W_ci"]), A_f + dot(C, p["W_cf"]), A_o + dot(C, p["W_co"])
    # One activation per block: each keeps only its (B, h) output for the backward pass.
    I, F, C_tilde = sigmoid(A_i), sigmoid(A_f), tanh(A_c)
    C = F * C + I * C_tilde
    if peephole == "diagonal":
        A_o = A_o + p["w_co"] * C  # the output gate reads the new cell
    O = sigmoid(A_o)
    H = O * tanh(C)
    return (H, C), {"i": I, "f": F, "o": O, "c_tilde": C_tilde, "C": C, "H": H}


class LSTMScratch(ScratchLayer):
    """d2l's LSTM from scratch, with the four gates fused into one matmul.

    For each step t (``*`` is element-wise; peepholes in brackets)::

        I = sigmoid(X_t W_xi + H W_hi + b_i  [+ w_ci * C | + C W_ci])
        F = sigmoid(X_t W_xf + H W_hf + b_f  [+ w_cf * C | + C W_cf])
        C_tilde = tanh(X_t W_xc + H W_hc + b_c)
        C_new = F * C + I * C_tilde
        O = sigmoid(X_t W_xo + H W_ho + b_o  [+ w_co * C_new | + C W_co])
        H, C = O * tanh(C_new), C_new

    ``peephole="diagonal"`` (Gers et al. 2002): vectors ``w_c* (h,)``, the output gate reads the
    new cell; ``"full"``: matrices ``W_c* (h, h)``, all three read the previous cell.

    Each unit's gates are stored side by side, in d2l's order i, f, o, c:
    ``W_x (d, 4h)``, ``W_h (h, 4h)``, ``b (4h,)``. The loop
    (:meth:`~.layers.ScratchLayer.recurrence`, which says why the input half ``X_t W_x + b``
    stays in the step) runs :func:`lstm_step` once per step, unrolled into the cached graph
    (one per number of steps). Its matmuls are oneDNN inner products (:mod:`.layers` says
    why). Measured on 2 CPU cores (AMD EPYC, AVX-512), 32
    steps, training tokens/s of the LM against ``gluon.rnn.LSTM``'s: 0.9-0.97 at h = 256,
    batch 1024 (the ~12 unfused element-wise passes a step are memory-bound), about 0.5 at
    h = 32, batch 32 (~30 operators a step forward and backward, a few us each, are the
    bound); the ``contrib.foreach`` loop over ``np.dot`` ran at 0.42 and 0.17.
    """

    def __init__(
        self,
        num_inputs: int,
        num_hiddens: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        peephole=False,
        forget_bias: float = 0.0,
        seed: int = 0,
        init: str | None = None,
        sigma: float | None = None,
    ):
        config = LayerConfig("lstm", num_inputs, num_hiddens, num_layers, bidirectional, dropout, peephole, forget_bias)
        super().__init__(config, init=init, sigma=sigma, seed=seed)

    step = staticmethod(lstm_step)


class LSTM(NativeLayer):
    """The concise LSTM: ``gluon.rnn.LSTM`` (layout "TNC", time-major), stacked and bidirectional.

    Gluon stacks the gates in the order i, f, g, o (g is d2l's C_tilde, "c" here) as
    rows: ``l0_i2h_weight (4h, d)``, ``l0_h2h_weight (4h, h)``, and adds two biases
    (python/mxnet/gluon/rnn/rnn_cell.py LSTMCell slices i, f, c, o; the fused operator,
    src/operator/rnn_impl.h, reads the blocks 0..3 as i, f, g, o; the tests confirm it on
    the oneDNN kernel the pip wheel runs). The whole ``h2h_bias`` of every unit is frozen
    at zero (``grad_req = "null"``). Initialisation: Gluon's default (weights uniform in
    +-0.07; biases zero: the code's default, not the "lstmbias" the class docstring names)
    drawn after ``mx.random.seed(seed)``; ``forget_bias`` then sets ``b_f``. Gluon has no
    peephole connections: a ValueError.
    """

    GLUON = with_dropout_between_layers(gluon.rnn.LSTM)

    def __init__(
        self,
        num_inputs: int,
        num_hiddens: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        peephole=False,
        forget_bias: float = 0.0,
        seed: int = 0,
    ):
        config = LayerConfig("lstm", num_inputs, num_hiddens, num_layers, bidirectional, dropout, peephole, forget_bias)
        if config.peephole:
            raise ValueError(NO_PEEPHOLE)
        super().__init__(config, seed=seed)

    step = staticmethod(lstm_step)  # the same equations, for trace() (Gluon's layer returns no gates)
