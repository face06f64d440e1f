"""The exercises solved in NumPy (float64), as a student could write them."""

import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def lstm_step(X_t, state, params):
    H, C = state
    p = params
    I = sigmoid(X_t @ p["W_xi"] + H @ p["W_hi"] + p["b_i"])
    F = sigmoid(X_t @ p["W_xf"] + H @ p["W_hf"] + p["b_f"])
    O = sigmoid(X_t @ p["W_xo"] + H @ p["W_ho"] + p["b_o"])
    C_tilde = np.tanh(X_t @ p["W_xc"] + H @ p["W_hc"] + p["b_c"])
    C = F * C + I * C_tilde
    H = O * np.tanh(C)
    return H, C


def gru_step(X_t, H, params):
    p = params
    Z = sigmoid(X_t @ p["W_xz"] + H @ p["W_hz"] + p["b_z"])
    R = sigmoid(X_t @ p["W_xr"] + H @ p["W_hr"] + p["b_r"])
    H_tilde = np.tanh(X_t @ p["W_xh"] + (R * H) @ p["W_hh"] + p["b_h"])
    return Z * H + (1 - Z) * H_tilde


def rnn_step(X_t, H, params):
    return np.tanh(X_t @ params["W_xh"] + H @ params["W_hh"] + params["b_h"])


def peephole_lstm_step(X_t, state, params):
    H, C_prev = state
    p = params
    I = sigmoid(X_t @ p["W_xi"] + H @ p["W_hi"] + p["b_i"] + C_prev @ p["W_ci"])
    F = sigmoid(X_t @ p["W_xf"] + H @ p["W_hf"] + p["b_f"] + C_prev @ p["W_cf"])
    C_tilde = np.tanh(X_t @ p["W_xc"] + H @ p["W_hc"] + p["b_c"])
    C = F * C_prev + I * C_tilde
    O = sigmoid(X_t @ p["W_xo"] + H @ p["W_ho"] + p["b_o"] + C_prev @ p["W_co"])
    return O * np.tanh(C), C


def diagonal_peephole_lstm_step(X_t, state, params):
    H, C_prev = state
    p = params
    I = sigmoid(X_t @ p["W_xi"] + H @ p["W_hi"] + p["b_i"] + p["w_ci"] * C_prev)
    F = sigmoid(X_t @ p["W_xf"] + H @ p["W_hf"] + p["b_f"] + p["w_cf"] * C_prev)
    C_tilde = np.tanh(X_t @ p["W_xc"] + H @ p["W_hc"] + p["b_c"])
    C = F * C_prev + I * C_tilde
    O = sigmoid(X_t @ p["W_xo"] + H @ p["W_ho"] + p["b_o"] + p["w_co"] * C)  # the new cell
    return O * np.tanh(C), C


def lstm_layer(step, X, state, params):
    outputs = []
    for X_t in X:
        state = step(X_t, state, params)
        outputs.append(state[0])
    return np.stack(outputs), state


def bidirectional(step, X, params_fwd, params_rev):
    zeros = np.zeros((X.shape[1], params_fwd["W_hi"].shape[0]))
    forward, _ = lstm_layer(step, X, (zeros, zeros), params_fwd)
    reverse, _ = lstm_layer(step, np.flip(X, axis=0), (zeros, zeros), params_rev)
    return np.concatenate([forward, np.flip(reverse, axis=0)], axis=-1)


def lstm_step_forward(X_t, state, params):
    H_prev, C_prev = state
    p = params
    I = sigmoid(X_t @ p["W_xi"] + H_prev @ p["W_hi"] + p["b_i"])
    F = sigmoid(X_t @ p["W_xf"] + H_prev @ p["W_hf"] + p["b_f"])
    O = sigmoid(X_t @ p["W_xo"] + H_prev @ p["W_ho"] + p["b_o"])
    C_tilde = np.tanh(X_t @ p["W_xc"] + H_prev @ p["W_hc"] + p["b_c"])
    C = F * C_prev + I * C_tilde
    H = O * np.tanh(C)
    cache = dict(X_t=X_t, H_prev=H_prev, C_prev=C_prev, I=I, F=F, O=O, C_tilde=C_tilde, C=C, params=params)
    return (H, C), cache


def lstm_step_backward(dH, dC, cache):
    X_t, H_prev, C_prev, p = cache["X_t"], cache["H_prev"], cache["C_prev"], cache["params"]
    I, F, O, C_tilde, tanh_C = cache["I"], cache["F"], cache["O"], cache["C_tilde"], np.tanh(cache["C"])
    dC = dC + dH * O * (1 - tanh_C**2)  # H = O * tanh(C), plus what comes back from the next step
    dA = {  # the gradients of the gates' pre-activations
        "i": dC * C_tilde * I * (1 - I),
        "f": dC * C_prev * F * (1 - F),
        "o": dH * tanh_C * O * (1 - O),
        "c": dC * I * (1 - C_tilde**2),
    }
    grads = {"X_t": 0, "H": 0, "C": dC * F}
    for g, dA_g in dA.items():
        grads[f"W_x{g}"] = X_t.T @ dA_g
        grads[f"W_h{g}"] = H_prev.T @ dA_g
        grads[f"b_{g}"] = dA_g.sum(axis=0)
        grads["X_t"] = grads["X_t"] + dA_g @ p[f"W_x{g}"].T
        grads["H"] = grads["H"] + dA_g @ p[f"W_h{g}"].T
    return grads


def clip_gradients(grads, max_norm):
    global_norm = np.sqrt(sum((g**2).sum() for g in grads.values()))
    scale = min(1.0, max_norm / global_norm)
    return {name: g * scale for name, g in grads.items()}


def top_k_top_p(logits, k, p):
    probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs = probs / probs.sum(axis=-1, keepdims=True)
    # before[b, i, j]: token i comes before token j in the sampling order (more likely; ties: lower id first)
    ids = np.arange(logits.shape[-1])
    a, b = logits[:, :, None], logits[:, None, :]
    before = (a > b) | ((a == b) & (ids[:, None] < ids[None, :]))
    keep = np.ones(logits.shape, dtype=bool)
    if k:
        keep &= before.sum(axis=1) < k  # fewer than k tokens before it
    if p is not None and p < 1:
        keep &= (before * probs[:, :, None]).sum(axis=1) < p  # the tokens before it do not reach p yet
    return np.where(keep, logits, -np.inf)


def balanced(s):
    depth = 0
    for char in s:
        depth += (char == "(") - (char == ")")
        if depth < 0:
            return False
    return depth == 0
