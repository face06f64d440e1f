"""LSTMs on PyTorch: the from-scratch cell (fused, or plain autograd; peepholes) and ``torch.nn.LSTM``.

Both take time-major ``X (num_steps, batch_size, num_inputs)`` and an optional state
``(H, C)``, each ``(batch_size, num_hiddens)`` for one layer in one direction, else
``(num_layers * directions, batch_size, num_hiddens)``; they return
``outputs (num_steps, batch_size, num_hiddens * directions)`` and the final ``(H, C)``
(see :mod:`.layers`).

The scratch LSTM has two paths over the same parameters: the fused one
(:class:`LSTMFunction`: a forward loop without autograd and the backward written out,
the speed path, the default without peepholes) and a plain autograd cell that reads like
its equations (:meth:`LSTMScratch.step`; ``fused=False``, and every peephole LSTM).
"""

from __future__ import annotations

import torch
from torch import nn

from ...core.family import LayerConfig
from .layers import NativeLayer, ScratchLayer

NO_PEEPHOLE = "No framework's native LSTM has peephole connections; use LSTMScratch(peephole=...)."


def lstm_forward(X, W_x, b, W_h, H, C):
    """All steps, without autograd: results go straight into preallocated tensors.

    ``X (T, B, d)``; the gates in order i, f, o, c. The input half of every step,
    ``X_t W_x + b``, does not depend on H, so it is one matmul for all steps, before
    the loop, written where the gates of each step are then completed in place.
    Returns ``outputs (T, B, h)``, the cells ``Cs``, the activated ``gates (T, B, 4h)``
    and ``tanh_Cs``: what the backward pass needs. The views of every step's slices
    are made before the loop (``unbind``), since each indexing is one more dispatched op.
    """
    T, B, h = X.shape[0], X.shape[1], W_h.shape[0]
    gates = torch.addmm(b, X.reshape(T * B, -1), W_x).view(T, B, 4 * h)  # X W_x + b, hoisted
    outputs, Cs, tanh_Cs = (X.new_empty((T, B, h)) for _ in range(3))
    A, I_F_O = gates.unbind(0), gates[..., : 3 * h].unbind(0)
    I, F, O, C_tilde = (gate.unbind(0) for gate in gates.split(h, dim=-1))
    Cs_, tanh_Cs_, outputs_ = Cs.unbind(0), tanh_Cs.unbind(0), outputs.unbind(0)
    for t in range(T):
        A[t].addmm_(H, W_h)  # + H W_h: the four gates' pre-activations
        I_F_O[t].sigmoid_()  # I, F, O in one call (d2l's gate order keeps them together)
        C_tilde[t].tanh_()
        C = torch.mul(F[t], C, out=Cs_[t]).addcmul_(I[t], C_tilde[t])  # C = F * C + I * C_tilde
        H = torch.mul(O[t], torch.tanh(C, out=tanh_Cs_[t]), out=outputs_[t])  # H = O * tanh(C)
    return outputs, Cs, gates, tanh_Cs


def lstm_backward(d_outputs, dH, dC, X, W_x, W_h, H0, C0, outputs, Cs, gates, tanh_Cs):
    """Backpropagation through time by hand (the equations of ``reference/lstm.py``).

    With ``I, F, O, C_tilde`` the activated gates and ``dA`` the gradient of their
    pre-activations, from the last step to the first::

        dC += dH * O * (1 - tanh(C)^2)
        dA_i = dC * C_tilde * I (1 - I)     dA_f = dC * C_prev * F (1 - F)
        dA_o = dH * tanh(C) * O (1 - O)     dA_c = dC * I * (1 - C_tilde^2)
        dH_prev = dA W_h^T + d_outputs_prev (one addmm)
        dC_prev = dC * F

    The factors that multiply dC go into one ``(B, 4h)`` buffer ``G``, so that all four
    ``dA`` come from one broadcast product (and one more for the o gate, which takes dH).
    These factors are made step by step on ``(B, 4h)`` blocks that stay in cache: made for
    all steps at once before the loop (fewer, larger operations) they were 3-25% slower at
    batch 1024 on 2 cores, passes over ``(T, B, 4h)`` in memory (benchmarks/README.md).
    The weight gradients are then sums over all steps, one matmul each. Returns
    ``dA (T, B, 4h)``, ``dW_x``, ``db``, ``dW_h``, ``dH0``, ``dC0``.
    """
    T, B, h = gates.shape[0], gates.shape[1], W_h.shape[0]
    dA = torch.empty_like(gates)
    G = gates.new_empty((B, 4 * h))
    G_i, G_f, G_o, G_c = G.split(h, dim=-1)
    A, (I, F, O, C_tilde) = gates.unbind(0), (gate.unbind(0) for gate in gates.split(h, dim=-1))
    C_prev, tanh_C, d_out = (C0,) + Cs.unbind(0)[:-1], tanh_Cs.unbind(0), d_outputs.unbind(0)
    dA_, dA_by_gate, dA_o = dA.unbind(0), dA.view(T, B, 4, h).unbind(0), dA[..., 2 * h : 3 * h].unbind(0)
    W_h_T = W_h.t()
    dH = dH + d_out[T - 1]
    for t in range(T - 1, -1, -1):
        torch.addcmul(A[t], A[t], A[t], value=-1, out=G)  # sigmoid' = S - S^2 (c is overwritten)
        G_i.mul_(C_tilde[t])
        G_f.mul_(C_prev[t])
        G_o.mul_(tanh_C[t])
        torch.addcmul(I[t], I[t] * C_tilde[t], C_tilde[t], value=-1, out=G_c)  # I * tanh'
        dC = torch.addcmul(dC, dH, torch.addcmul(O[t], O[t] * tanh_C[t], tanh_C[t], value=-1))
        torch.mul(G.view(B, 4, h), dC.unsqueeze(1), out=dA_by_gate[t])
        torch.mul(G_o, dH, out=dA_o[t])  # o takes dH, not dC
        dH = torch.addmm(d_out[t - 1], dA_[t], W_h_T) if t else dA_[0] @ W_h_T  # + the output's gradient
        dC = dC.mul_(F[t])
    dA_flat = dA.view(T * B, 4 * h)
    dW_x = X.reshape(T * B, -1).t() @ dA_flat
    # H_{t-1} for every step is H0, then outputs[:-1]: two matmuls, no concatenated copy.
    dW_h = torch.addmm(H0.t() @ dA[0], outputs[:-1].reshape(-1, h).t(), dA_flat[B:])
    return dA, dW_x, dA_flat.sum(0), dW_h, dH, dC


class LSTMFunction(torch.autograd.Function):
    """``outputs, H_T, C_T = LSTMFunction.apply(X, W_x, b, W_h, H0, C0)``, the backward written out.

    Recording autograd's graph for 32 steps of small ops, and replaying it, costs
    more than the arithmetic at h = 32 (the plain autograd loop is 2-3x slower);
    a forward loop without autograd and the backward written out do not.
    """

    @staticmethod
    def forward(ctx, X, W_x, b, W_h, H0, C0):
        outputs, Cs, gates, tanh_Cs = lstm_forward(X, W_x, b, W_h, H0, C0)
        ctx.save_for_backward(X, W_x, W_h, H0, C0, outputs, Cs, gates, tanh_Cs)
        return outputs, outputs[-1], Cs[-1]

    @staticmethod
    def backward(ctx, d_outputs, dH, dC):
        X, W_x, *rest = ctx.saved_tensors
        dA, dW_x, db, dW_h, dH0, dC0 = lstm_backward(d_outputs.contiguous(), dH, dC, X, W_x, *rest)
        dX = dA @ W_x.t() if ctx.needs_input_grad[0] else None  # one-hot inputs need none
        return dX, dW_x, db, dW_h, dH0, dC0


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
    ``W_x (d, 4h)``, ``W_h (h, 4h)``, ``b (4h,)``. The input half of every step,
    ``X_t W_x + b``, does not depend on H, so it is computed for all steps at once
    before the loop.

    ``fused``: None (the default) takes :class:`LSTMFunction` without peepholes and the
    autograd cell with them; True asks for the fused path (a ValueError with peepholes,
    which it does not have); False takes the autograd cell, :meth:`step`. Both compute
    the same function (tests/test_torch.py); the fused one is faster because recording
    autograd's graph for every small op of every step, and replaying it, costs more than
    the arithmetic at small h.
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
        fused: bool | None = None,
    ):
        config = LayerConfig("lstm", num_inputs, num_hiddens, num_layers, bidirectional, dropout, peephole, forget_bias)
        if fused not in (None, True, False):
            raise ValueError(f"fused must be None, True or False, got {fused!r}.")
        if fused and config.peephole:
            raise ValueError(
                "The fused LSTM (LSTMFunction) has no peephole connections; use "
                "fused=False or None for a peephole LSTM."
            )
        super().__init__(config, init=init, sigma=sigma, seed=seed)
        self.fused = not config.peephole if fused is None else fused

    @staticmethod
    def step(config, p, state, XW_t):
        return lstm_step(config, p, state, XW_t)

    def run_unit(self, index, X, state):
        if not self.fused:
            return super().run_unit(index, X, state)
        p = self.unit_params(index)
        outputs, H, C = LSTMFunction.apply(X, p["W_x"], p["b"], p["W_h"], *state)
        return outputs, (H, C)


def lstm_step(config: LayerConfig, p: dict, state: tuple, XW_t):
    """One LSTM step (the equations of :class:`LSTMScratch`) under autograd: ``p`` one unit's
    fused tensors, ``state`` ``(H, C)``, ``XW_t = X_t W_x + b (B, 4h)``. Returns the new
    ``(H, C)`` and the gates and states it computed (``CELLS["lstm"].traces``), for
    :func:`.layers.trace`."""
    H, C = state
    I, F, O, C_tilde = (XW_t + H @ p["W_h"]).chunk(4, dim=-1)  # pre-activations, blocks i, f, o, c
    if config.peephole == "diagonal":
        I, F = I + p["w_ci"] * C, F + p["w_cf"] * C
    elif config.peephole == "full":
        I, F, O = I + C @ p["W_ci"], F + C @ p["W_cf"], O + C @ p["W_co"]
    I, F, C_tilde = torch.sigmoid(I), torch.sigmoid(F), torch.tanh(C_tilde)
    C = F * C + I * C_tilde
    if config.peephole == "diagonal":
        O = O + p["w_co"] * C  # the new cell
    O = torch.sigmoid(O)
    H = O * torch.tanh(C)
    return (H, C), {"i": I, "f": F, "o": O, "c_tilde": C_tilde, "C": C, "H": H}


class LSTM(NativeLayer):
    """The concise LSTM: ``torch.nn.LSTM`` (time-major, cuDNN on GPU), stacked and bidirectional.

    torch stacks the gates in the order i, f, g, o (g is d2l's C_tilde, "c" here) as rows
    (torch/nn/modules/rnn.py: ``weight_ih_l[k]`` is "(W_ii|W_if|W_ig|W_io)"):
    ``weight_ih_l0 (4h, d)``, ``weight_hh_l0 (4h, h)``, and adds two biases,
    ``bias_ih_l0 + bias_hh_l0``. Canonical ``b_*`` is their sum; every ``bias_hh`` is kept
    at zero and frozen, so training updates one bias per gate as every other
    implementation does (see :class:`~.layers.NativeLayer`). Initialisation is torch's
    (uniform in +-1/sqrt(h)), drawn from ``seed``; a nonzero ``forget_bias`` then sets
    ``b_f``. torch has no peephole connections: a ValueError.
    """

    TORCH = nn.LSTM
    step = staticmethod(lstm_step)  # the same equations, for trace() (nn.LSTM returns no gates)

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
