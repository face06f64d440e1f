"""The NumPy LSTM and character language model: forward and hand-written BPTT.

This is the oracle every backend is checked against. It computes in float64 and
is itself checked against central finite differences (tests/test_reference.py).
Shapes: ``X (T, B, d)`` time-major, ``tokens (B, T)``, state ``H, C (B, h)``.

Forward, for t = 1..T, with canonical parameters (gates i, f, o and node c)::

    I_t = sigmoid(X_t W_xi + H_{t-1} W_hi + b_i)
    F_t = sigmoid(X_t W_xf + H_{t-1} W_hf + b_f)
    O_t = sigmoid(X_t W_xo + H_{t-1} W_ho + b_o)
    C~_t = tanh(X_t W_xc + H_{t-1} W_hc + b_c)
    C_t = F_t * C_{t-1} + I_t * C~_t
    H_t = O_t * tanh(C_t)

Backward, given dL/dH_t from above (dH) and from step t+1 (dH_next, dC_next)::

    dH  = dH_t + dH_next
    dC  = dC_next + dH * O_t * (1 - tanh(C_t)^2)
    dO  = dH * tanh(C_t);   dI = dC * C~_t;   dF = dC * C_{t-1};   dC~ = dC * I_t
    dA  = [dI I(1-I), dF F(1-F), dO O(1-O), dC~ (1-C~^2)]     # pre-activations
    dW_x += X_t^T dA;  dW_h += H_{t-1}^T dA;  db += sum_batch dA
    dH_next = dA W_h^T;  dC_next = dC * F_t;  dX_t = dA W_x^T
"""

from __future__ import annotations

import numpy as np

from ..core.params import GATES, fuse_gates, split_gates


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free form


def _f64(params):
    return {name: np.asarray(value, dtype=np.float64) for name, value in params.items()}


def lstm_forward(params, X, state=None):
    """Run the LSTM over ``X (T, B, d)``.

    Returns ``outputs (T, B, h)``, ``(H, C)`` and a cache for :func:`lstm_backward`.
    """
    params = _f64(params)
    X = np.asarray(X, dtype=np.float64)
    W_x, W_h, b = fuse_gates(params, GATES)
    T, B, _ = X.shape
    h = W_h.shape[0]
    H, C = ((np.zeros((B, h)), np.zeros((B, h))) if state is None
            else (np.asarray(state[0], np.float64), np.asarray(state[1], np.float64)))
    H0, C0 = H, C
    XW = X @ W_x + b  # input projection for all steps at once
    outputs, gates, cells = [], [], []
    for t in range(T):
        A = XW[t] + H @ W_h
        I, F, O = _sigmoid(A[:, :h]), _sigmoid(A[:, h:2 * h]), _sigmoid(A[:, 2 * h:3 * h])
        C_tilde = np.tanh(A[:, 3 * h:])
        C = F * C + I * C_tilde
        H = O * np.tanh(C)
        outputs.append(H)
        gates.append((I, F, O, C_tilde))
        cells.append(C)
    cache = dict(X=X, W_x=W_x, W_h=W_h, H0=H0, C0=C0, outputs=outputs, gates=gates, cells=cells)
    return np.stack(outputs), (H, C), cache


def lstm_backward(cache, d_outputs, d_state=None):
    """Back-propagate through time.

    Args:
        cache: from :func:`lstm_forward`.
        d_outputs: dL/d outputs, ``(T, B, h)``.
        d_state: optional ``(dL/dH_T, dL/dC_T)`` for the final state.

    Returns:
        ``grads`` (canonical names), ``dX (T, B, d)`` and ``(dH_0, dC_0)``.
    """
    X, W_x, W_h = cache["X"], cache["W_x"], cache["W_h"]
    T, B, _ = X.shape
    h = W_h.shape[0]
    dW_x, dW_h, db = np.zeros_like(W_x), np.zeros_like(W_h), np.zeros(4 * h)
    dX = np.zeros_like(X)
    dH_next, dC_next = ((np.zeros((B, h)), np.zeros((B, h))) if d_state is None
                        else (np.asarray(d_state[0], np.float64), np.asarray(d_state[1], np.float64)))
    for t in reversed(range(T)):
        I, F, O, C_tilde = cache["gates"][t]
        C = cache["cells"][t]
        C_prev = cache["cells"][t - 1] if t > 0 else cache["C0"]
        H_prev = cache["outputs"][t - 1] if t > 0 else cache["H0"]
        tanh_C = np.tanh(C)
        dH = d_outputs[t] + dH_next
        dC = dC_next + dH * O * (1.0 - tanh_C ** 2)
        dA = np.concatenate([
            dC * C_tilde * I * (1.0 - I),
            dC * C_prev * F * (1.0 - F),
            dH * tanh_C * O * (1.0 - O),
            dC * I * (1.0 - C_tilde ** 2),
        ], axis=1)
        dW_x += X[t].T @ dA
        dW_h += H_prev.T @ dA
        db += dA.sum(axis=0)
        dX[t] = dA @ W_x.T
        dH_next = dA @ W_h.T
        dC_next = dC * F
    return split_gates(dW_x, dW_h, db, GATES), dX, (dH_next, dC_next)


def one_hot(tokens, vocab_size):
    """``tokens (B, T)`` -> time-major one-hot ``(T, B, vocab_size)``, float64."""
    return np.eye(vocab_size)[np.asarray(tokens).T]


def lm_forward(params, tokens, state=None):
    """The character LM: one-hot -> LSTM -> output layer.

    Returns ``logits (B, T, vocab)``, the final ``(H, C)`` and a cache.
    """
    params = _f64(params)
    vocab_size = params["b_q"].shape[0]
    outputs, state, cache = lstm_forward(params, one_hot(tokens, vocab_size), state)
    logits = outputs @ params["W_hq"] + params["b_q"]  # (T, B, V)
    cache.update(params=params, lstm_outputs=outputs)
    return logits.transpose(1, 0, 2), state, cache


def cross_entropy(logits, targets):
    """Mean cross-entropy of ``logits (..., V)`` against integer ``targets (...)``; also softmax."""
    z = logits - logits.max(axis=-1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, np.asarray(targets)[..., None], axis=-1)
    return -picked.mean(), np.exp(log_probs)


def lm_loss_and_grads(params, tokens, targets, state=None):
    """Mean cross-entropy of the LM on ``tokens (B, T)`` and its gradient for every parameter.

    Returns ``(loss: float, grads: dict)``, gradients float64 in canonical names.
    """
    logits, _, cache = lm_forward(params, tokens, state)
    loss, probs = cross_entropy(logits, targets)
    B, T, V = logits.shape
    d_logits = probs
    d_logits[np.arange(B)[:, None], np.arange(T)[None, :], np.asarray(targets)] -= 1.0
    d_logits = d_logits.transpose(1, 0, 2) / (B * T)  # (T, B, V), mean over tokens
    W_hq = cache["params"]["W_hq"]
    H_all = cache["lstm_outputs"]
    grads, _, _ = lstm_backward(cache, d_logits @ W_hq.T)
    grads["W_hq"] = np.einsum("tbh,tbv->hv", H_all, d_logits)
    grads["b_q"] = d_logits.sum(axis=(0, 1))
    return float(loss), grads
