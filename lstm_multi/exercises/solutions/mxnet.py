"""The exercises solved on MXNet (its NumPy interface, as d2l uses it), as a student could write them."""

from mxnet import np, npx

npx.set_np()


def lstm_step(X_t, state, params):
    H, C = state
    p = params
    I = npx.sigmoid(X_t @ p["W_xi"] + H @ p["W_hi"] + p["b_i"])
    F = npx.sigmoid(X_t @ p["W_xf"] + H @ p["W_hf"] + p["b_f"])
    O = npx.sigmoid(X_t @ p["W_xo"] + H @ p["W_ho"] + p["b_o"])
    C_tilde = np.tanh(X_t @ p["W_xc"] + H @ p["W_hc"] + p["b_c"])
    C = F * C + I * C_tilde
    H = O * np.tanh(C)
    return H, C


def gru_step(X_t, H, params):
    p = params
    Z = npx.sigmoid(X_t @ p["W_xz"] + H @ p["W_hz"] + p["b_z"])
    R = npx.sigmoid(X_t @ p["W_xr"] + H @ p["W_hr"] + p["b_r"])
    H_tilde = np.tanh(X_t @ p["W_xh"] + (R * H) @ p["W_hh"] + p["b_h"])
    return Z * H + (1 - Z) * H_tilde


def rnn_step(X_t, H, params):
    return np.tanh(X_t @ params["W_xh"] + H @ params["W_hh"] + params["b_h"])


def peephole_lstm_step(X_t, state, params):
    H, C_prev = state
    p = params
    I = npx.sigmoid(X_t @ p["W_xi"] + H @ p["W_hi"] + p["b_i"] + C_prev @ p["W_ci"])
    F = npx.sigmoid(X_t @ p["W_xf"] + H @ p["W_hf"] + p["b_f"] + C_prev @ p["W_cf"])
    C_tilde = np.tanh(X_t @ p["W_xc"] + H @ p["W_hc"] + p["b_c"])
    C = F * C_prev + I * C_tilde
    O = npx.sigmoid(X_t @ p["W_xo"] + H @ p["W_ho"] + p["b_o"] + C_prev @ p["W_co"])
    return O * np.tanh(C), C


def diagonal_peephole_lstm_step(X_t, state, params):
    H, C_prev = state
    p = params
    I = npx.sigmoid(X_t @ p["W_xi"] + H @ p["W_hi"] + p["b_i"] + p["w_ci"] * C_prev)
    F = npx.sigmoid(X_t @ p["W_xf"] + H @ p["W_hf"] + p["b_f"] + p["w_cf"] * C_prev)
    C_tilde = np.tanh(X_t @ p["W_xc"] + H @ p["W_hc"] + p["b_c"])
    C = F * C_prev + I * C_tilde
    O = npx.sigmoid(X_t @ p["W_xo"] + H @ p["W_ho"] + p["b_o"] + p["w_co"] * C)  # the new cell
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


def clip_gradients(grads, max_norm):
    global_norm = np.sqrt(sum((g**2).sum() for g in grads.values()))
    scale = min(1.0, max_norm / float(global_norm))
    return {name: g * scale for name, g in grads.items()}


def top_k_top_p(logits, k, p):
    probs = npx.softmax(logits, axis=-1)
    # before[b, i, j]: token i comes before token j in the sampling order (more likely; ties: lower id first);
    # MXNet's booleans have no | and &: + and * are their "or" and "and"
    ids = np.arange(logits.shape[-1])
    a, b = logits[:, :, None], logits[:, None, :]
    before = ((a > b) + (a == b) * (ids[:, None] < ids[None, :])).astype(logits.dtype)
    keep = np.ones(logits.shape, dtype=bool)
    if k:
        keep = keep * (before.sum(axis=1) < k)  # fewer than k tokens before it
    if p is not None and p < 1:
        keep = keep * ((before * probs[:, :, None]).sum(axis=1) < p)  # the tokens before it do not reach p yet
    return np.where(keep, logits, -np.inf)


def balanced(s):
    depth = 0
    for char in s:
        depth += (char == "(") - (char == ")")
        if depth < 0:
            return False
    return depth == 0
