"""The exercises solved on JAX, as a student could write them."""

from functools import partial

import jax
import jax.numpy as jnp


def lstm_step(X_t, state, params):
    H, C = state
    p = params
    I = jax.nn.sigmoid(X_t @ p["W_xi"] + H @ p["W_hi"] + p["b_i"])
    F = jax.nn.sigmoid(X_t @ p["W_xf"] + H @ p["W_hf"] + p["b_f"])
    O = jax.nn.sigmoid(X_t @ p["W_xo"] + H @ p["W_ho"] + p["b_o"])
    C_tilde = jnp.tanh(X_t @ p["W_xc"] + H @ p["W_hc"] + p["b_c"])
    C = F * C + I * C_tilde
    H = O * jnp.tanh(C)
    return H, C


def gru_step(X_t, H, params):
    p = params
    Z = jax.nn.sigmoid(X_t @ p["W_xz"] + H @ p["W_hz"] + p["b_z"])
    R = jax.nn.sigmoid(X_t @ p["W_xr"] + H @ p["W_hr"] + p["b_r"])
    H_tilde = jnp.tanh(X_t @ p["W_xh"] + (R * H) @ p["W_hh"] + p["b_h"])
    return Z * H + (1 - Z) * H_tilde


def rnn_step(X_t, H, params):
    return jnp.tanh(X_t @ params["W_xh"] + H @ params["W_hh"] + params["b_h"])


def peephole_lstm_step(X_t, state, params):
    H, C_prev = state
    p = params
    I = jax.nn.sigmoid(X_t @ p["W_xi"] + H @ p["W_hi"] + p["b_i"] + C_prev @ p["W_ci"])
    F = jax.nn.sigmoid(X_t @ p["W_xf"] + H @ p["W_hf"] + p["b_f"] + C_prev @ p["W_cf"])
    C_tilde = jnp.tanh(X_t @ p["W_xc"] + H @ p["W_hc"] + p["b_c"])
    C = F * C_prev + I * C_tilde
    O = jax.nn.sigmoid(X_t @ p["W_xo"] + H @ p["W_ho"] + p["b_o"] + C_prev @ p["W_co"])
    return O * jnp.tanh(C), C


def diagonal_peephole_lstm_step(X_t, state, params):
    H, C_prev = state
    p = params
    I = jax.nn.sigmoid(X_t @ p["W_xi"] + H @ p["W_hi"] + p["b_i"] + p["w_ci"] * C_prev)
    F = jax.nn.sigmoid(X_t @ p["W_xf"] + H @ p["W_hf"] + p["b_f"] + p["w_cf"] * C_prev)
    C_tilde = jnp.tanh(X_t @ p["W_xc"] + H @ p["W_hc"] + p["b_c"])
    C = F * C_prev + I * C_tilde
    O = jax.nn.sigmoid(X_t @ p["W_xo"] + H @ p["W_ho"] + p["b_o"] + p["w_co"] * C)  # the new cell
    return O * jnp.tanh(C), C


@partial(jax.jit, static_argnums=0)  # step is a Python function: compiled once for each step and shapes
def lstm_layer(step, X, state, params):
    def scan_step(state, X_t):  # (carry, input) -> (new carry, output)
        state = step(X_t, state, params)
        return state, state[0]

    state, outputs = jax.lax.scan(scan_step, tuple(state), X)
    return outputs, state


def bidirectional(step, X, params_fwd, params_rev):
    zeros = jnp.zeros((X.shape[1], params_fwd["W_hi"].shape[0]))
    forward, _ = lstm_layer(step, X, (zeros, zeros), params_fwd)
    reverse, _ = lstm_layer(step, jnp.flip(X, axis=0), (zeros, zeros), params_rev)
    return jnp.concatenate([forward, jnp.flip(reverse, axis=0)], axis=-1)


def clip_gradients(grads, max_norm):
    global_norm = jnp.sqrt(sum(jnp.sum(g**2) for g in grads.values()))
    scale = jnp.minimum(1.0, max_norm / global_norm)
    return {name: g * scale for name, g in grads.items()}


@partial(jax.jit, static_argnums=(1, 2))  # k and p are Python numbers: they choose the code
def top_k_top_p(logits, k, p):
    probs = jax.nn.softmax(logits, axis=-1)
    # before[b, i, j]: token i comes before token j in the sampling order (more likely; ties: lower id first)
    ids = jnp.arange(logits.shape[-1])
    a, b = logits[:, :, None], logits[:, None, :]
    before = (a > b) | ((a == b) & (ids[:, None] < ids[None, :]))
    keep = jnp.ones(logits.shape, dtype=bool)
    if k:
        keep &= before.sum(axis=1) < k  # fewer than k tokens before it
    if p is not None and p < 1:
        keep &= (before * probs[:, :, None]).sum(axis=1) < p  # the tokens before it do not reach p yet
    return jnp.where(keep, logits, -jnp.inf)


def balanced(s):
    depth = 0
    for char in s:
        depth += (char == "(") - (char == ")")
        if depth < 0:
            return False
    return depth == 0
