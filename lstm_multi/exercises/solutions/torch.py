"""The exercises solved on PyTorch, as a student could write them."""

import torch


def lstm_step(X_t, state, params):
    H, C = state
    p = params
    I = torch.sigmoid(X_t @ p["W_xi"] + H @ p["W_hi"] + p["b_i"])
    F = torch.sigmoid(X_t @ p["W_xf"] + H @ p["W_hf"] + p["b_f"])
    O = torch.sigmoid(X_t @ p["W_xo"] + H @ p["W_ho"] + p["b_o"])
    C_tilde = torch.tanh(X_t @ p["W_xc"] + H @ p["W_hc"] + p["b_c"])
    C = F * C + I * C_tilde
    H = O * torch.tanh(C)
    return H, C


def gru_step(X_t, H, params):
    p = params
    Z = torch.sigmoid(X_t @ p["W_xz"] + H @ p["W_hz"] + p["b_z"])
    R = torch.sigmoid(X_t @ p["W_xr"] + H @ p["W_hr"] + p["b_r"])
    H_tilde = torch.tanh(X_t @ p["W_xh"] + (R * H) @ p["W_hh"] + p["b_h"])
    return Z * H + (1 - Z) * H_tilde


def rnn_step(X_t, H, params):
    return torch.tanh(X_t @ params["W_xh"] + H @ params["W_hh"] + params["b_h"])


def peephole_lstm_step(X_t, state, params):
    H, C_prev = state
    p = params
    I = torch.sigmoid(X_t @ p["W_xi"] + H @ p["W_hi"] + p["b_i"] + C_prev @ p["W_ci"])
    F = torch.sigmoid(X_t @ p["W_xf"] + H @ p["W_hf"] + p["b_f"] + C_prev @ p["W_cf"])
    C_tilde = torch.tanh(X_t @ p["W_xc"] + H @ p["W_hc"] + p["b_c"])
    C = F * C_prev + I * C_tilde
    O = torch.sigmoid(X_t @ p["W_xo"] + H @ p["W_ho"] + p["b_o"] + C_prev @ p["W_co"])
    return O * torch.tanh(C), C


def diagonal_peephole_lstm_step(X_t, state, params):
    H, C_prev = state
    p = params
    I = torch.sigmoid(X_t @ p["W_xi"] + H @ p["W_hi"] + p["b_i"] + p["w_ci"] * C_prev)
    F = torch.sigmoid(X_t @ p["W_xf"] + H @ p["W_hf"] + p["b_f"] + p["w_cf"] * C_prev)
    C_tilde = torch.tanh(X_t @ p["W_xc"] + H @ p["W_hc"] + p["b_c"])
    C = F * C_prev + I * C_tilde
    O = torch.sigmoid(X_t @ p["W_xo"] + H @ p["W_ho"] + p["b_o"] + p["w_co"] * C)  # the new cell
    return O * torch.tanh(C), C


def lstm_layer(step, X, state, params):
    outputs = []
    for X_t in X:
        state = step(X_t, state, params)
        outputs.append(state[0])
    return torch.stack(outputs), state


def bidirectional(step, X, params_fwd, params_rev):
    zeros = X.new_zeros((X.shape[1], params_fwd["W_hi"].shape[0]))
    forward, _ = lstm_layer(step, X, (zeros, zeros), params_fwd)
    reverse, _ = lstm_layer(step, torch.flip(X, dims=[0]), (zeros, zeros), params_rev)
    return torch.cat([forward, torch.flip(reverse, dims=[0])], dim=-1)


def clip_gradients(grads, max_norm):
    global_norm = torch.sqrt(sum((g**2).sum() for g in grads.values()))
    scale = min(1.0, max_norm / float(global_norm))
    return {name: g * scale for name, g in grads.items()}


def top_k_top_p(logits, k, p):
    probs = torch.softmax(logits, dim=-1)
    # before[b, i, j]: token i comes before token j in the sampling order (more likely; ties: lower id first)
    ids = torch.arange(logits.shape[-1])
    a, b = logits[:, :, None], logits[:, None, :]
    before = (a > b) | ((a == b) & (ids[:, None] < ids[None, :]))
    keep = torch.ones_like(logits, dtype=torch.bool)
    if k:
        keep &= before.sum(dim=1) < k  # fewer than k tokens before it
    if p is not None and p < 1:
        keep &= (before * probs[:, :, None]).sum(dim=1) < p  # the tokens before it do not reach p yet
    return torch.where(keep, logits, torch.full_like(logits, float("-inf")))


def balanced(s):
    depth = 0
    for char in s:
        depth += (char == "(") - (char == ")")
        if depth < 0:
            return False
    return depth == 0
