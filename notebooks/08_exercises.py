# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Exercises, checked
#
# Eleven pieces of the model family to write yourself, each in a cell of its own; the cell under
# it runs your function on seeded cases against the package's float64 NumPy reference and says
# whether it is right, and if not, which output is off, by how much, at which time step, and
# which common mistake it looks like. The backend is PyTorch unless `LSTM_MULTI_BACKEND` names
# another: the cells below are written for PyTorch, and
# `print(lstm_multi.exercises.stub(name, backend))` shows any exercise for any backend.
# Outside a notebook the same checks run on a file:
#
# ```bash
# lstm-multi exercise lstm_step --backend jax > lstm_step.py   # the file to start from
# lstm-multi check lstm_step lstm_step.py --backend jax         # exit status 0 right, 1 wrong, 2 unusable
# ```

# %% tags=["backend"]
import os

import lstm_multi as lm
from lstm_multi.exercises import check, list_lines

BACKEND = os.environ.get("LSTM_MULTI_BACKEND") or "torch"
lm.get_backend(BACKEND)  # the framework, set up as the package uses it
if BACKEND == "torch":
    import torch  # noqa: F401 (for your code below)
elif BACKEND == "tensorflow":
    import tensorflow as tf  # noqa: F401
elif BACKEND == "jax":
    import jax  # noqa: F401
    import jax.numpy as jnp  # noqa: F401
elif BACKEND == "mxnet":
    from mxnet import np, npx  # noqa: F401
else:
    import numpy as np
print("backend:", BACKEND)
print("\n".join(list_lines()))

# %% [markdown]
# ## 1. One LSTM step
#
# Four gates, each with its own input matrix, recurrent matrix and bias (d2l's names): the input gate I,
# the forget gate F and the output gate O decide what the cell adds, keeps and shows.

# %% tags=["exercise:lstm_step"]
def lstm_step(X_t, state, params):
    """One LSTM step, a separate matrix for each gate.

    Args:
        X_t: the inputs at this step, (B, d).
        state: (H, C), the previous hidden and cell states, each (B, h).
        params: a dict of tensors W_xi (d, h), W_hi (h, h), b_i (h,), and the same for
            the forget gate (W_xf, W_hf, b_f), the output gate (W_xo, W_ho, b_o) and the
            candidate cell (W_xc, W_hc, b_c).

    Returns:
        the new state (H, C), each (B, h)::

            I  = sigmoid(X_t W_xi + H W_hi + b_i)
            F  = sigmoid(X_t W_xf + H W_hf + b_f)
            C~ = tanh(X_t W_xc + H W_hc + b_c)
            C  = F * C_prev + I * C~
            O  = sigmoid(X_t W_xo + H W_ho + b_o)
            H  = O * tanh(C)

    (X W: the matrix product; *: element-wise.)

    Useful: torch.sigmoid, torch.tanh, the matrix product @.
    """
    raise NotImplementedError("TODO")

# %% tags=["check:lstm_step"]
result = check("lstm_step", lstm_step, backend=BACKEND)

# %% [markdown]
# ## 2. One GRU step
#
# Two gates and no separate cell: the update gate Z mixes the old state with a candidate, whose
# recurrent input the reset gate R scales first (d2l's form).

# %% tags=["exercise:gru_step"]
def gru_step(X_t, H, params):
    """One GRU step (d2l's form: the reset gate scales H before the matmul).

    Args:
        X_t: the inputs at this step, (B, d).
        H: the previous hidden state, (B, h).
        params: a dict of tensors W_xz (d, h), W_hz (h, h), b_z (h,) (update gate), and the
            same for the reset gate (W_xr, W_hr, b_r) and the candidate (W_xh, W_hh, b_h).

    Returns:
        the new H, (B, h)::

            Z  = sigmoid(X_t W_xz + H W_hz + b_z)
            R  = sigmoid(X_t W_xr + H W_hr + b_r)
            H~ = tanh(X_t W_xh + (R * H) W_hh + b_h)
            H  = Z * H_prev + (1 - Z) * H~

    (X W: the matrix product; *: element-wise.)

    Useful: torch.sigmoid, torch.tanh, the matrix product @.
    """
    raise NotImplementedError("TODO")

# %% tags=["check:gru_step"]
result = check("gru_step", gru_step, backend=BACKEND)

# %% [markdown]
# ## 3. One vanilla RNN step
#
# The cell the gated ones improve on: one matrix product of the input, one of the state, a tanh.
# (The parentheses notebook shows what it cannot learn.)

# %% tags=["exercise:rnn_step"]
def rnn_step(X_t, H, params):
    """One step of a vanilla RNN.

    Args:
        X_t: the inputs at this step, (B, d).
        H: the previous hidden state, (B, h).
        params: a dict of tensors W_xh (d, h), W_hh (h, h), b_h (h,).

    Returns:
        the new H, (B, h)::

            H = tanh(X_t W_xh + H_prev W_hh + b_h)

    Useful: torch.sigmoid, torch.tanh, the matrix product @.
    """
    raise NotImplementedError("TODO")

# %% tags=["check:rnn_step"]
result = check("rnn_step", rnn_step, backend=BACKEND)

# %% [markdown]
# ## 4. Peepholes, full matrices
#
# The gates also read the previous cell state through (h, h) matrices, as in the tutorial's peephole
# cell; all three read C_prev.

# %% tags=["exercise:peephole_lstm_step"]
def peephole_lstm_step(X_t, state, params):
    """One LSTM step with peephole connections: full (h, h) matrices reading the previous cell.

    Args:
        X_t: the inputs at this step, (B, d).
        state: (H, C), the previous hidden and cell states, each (B, h).
        params: a dict of tensors W_xi (d, h), W_hi (h, h), b_i (h,), and the same for
            the forget gate (W_xf, W_hf, b_f), the output gate (W_xo, W_ho, b_o) and the
            candidate cell (W_xc, W_hc, b_c),
            and the peepholes W_ci, W_cf, W_co (h, h).

    Returns:
        the new state (H, C), each (B, h)::

            I  = sigmoid(X_t W_xi + H W_hi + b_i + C_prev W_ci)
            F  = sigmoid(X_t W_xf + H W_hf + b_f + C_prev W_cf)
            C~ = tanh(X_t W_xc + H W_hc + b_c)
            C  = F * C_prev + I * C~
            O  = sigmoid(X_t W_xo + H W_ho + b_o + C_prev W_co)
            H  = O * tanh(C)

    (X W: the matrix product; *: element-wise.)

    All three gates read the previous cell state C_prev.

    Useful: torch.sigmoid, torch.tanh, the matrix product @.
    """
    raise NotImplementedError("TODO")

# %% tags=["check:peephole_lstm_step"]
result = check("peephole_lstm_step", peephole_lstm_step, backend=BACKEND)

# %% [markdown]
# ## 5. Peepholes, one weight per cell
#
# Gers et al.'s diagonal form: a vector per gate; the input and forget gates read C_prev, the output
# gate the new cell, so it has to come after C.

# %% tags=["exercise:diagonal_peephole_lstm_step"]
def diagonal_peephole_lstm_step(X_t, state, params):
    """One LSTM step with diagonal peepholes: one weight per cell (Gers et al. 2002).

    Args:
        X_t: the inputs at this step, (B, d).
        state: (H, C), the previous hidden and cell states, each (B, h).
        params: a dict of tensors W_xi (d, h), W_hi (h, h), b_i (h,), and the same for
            the forget gate (W_xf, W_hf, b_f), the output gate (W_xo, W_ho, b_o) and the
            candidate cell (W_xc, W_hc, b_c),
            and the peepholes w_ci, w_cf, w_co (h,), one weight per cell.

    Returns:
        the new state (H, C), each (B, h)::

            I  = sigmoid(X_t W_xi + H W_hi + b_i + w_ci * C_prev)
            F  = sigmoid(X_t W_xf + H W_hf + b_f + w_cf * C_prev)
            C~ = tanh(X_t W_xc + H W_hc + b_c)
            C  = F * C_prev + I * C~
            O  = sigmoid(X_t W_xo + H W_ho + b_o + w_co * C)
            H  = O * tanh(C)

    (X W: the matrix product; *: element-wise.)

    I and F read the previous cell state, O reads the new one (computed first).

    Useful: torch.sigmoid, torch.tanh, the matrix product @.
    """
    raise NotImplementedError("TODO")

# %% tags=["check:diagonal_peephole_lstm_step"]
result = check("diagonal_peephole_lstm_step", diagonal_peephole_lstm_step, backend=BACKEND)

# %% [markdown]
# ## 6. A whole sequence
#
# A correct step is given; run it over X (T, B, d), carrying the state from each step to the next
# (on JAX, `jax.lax.scan` is the loop).

# %% tags=["exercise:lstm_layer"]
def lstm_layer(step, X, state, params):
    """Run an LSTM over a whole sequence, one step after another.

    Args:
        step: a correct LSTM step, step(X_t, state, params) -> the new state (H, C).
        X: the inputs, time first: (T, B, d).
        state: (H, C), the initial state, each (B, h).
        params: the step's parameters, a dict of tensors (pass it to step as it is).

    Returns:
        (outputs, state): outputs (T, B, h), the H of every step in time order, and the
        final state (H, C)::

            for t = 0, 1, ..., T-1:
                (H, C) = step(X[t], (H, C), params)
                outputs[t] = H

    Useful: torch.stack(list, dim=0).
    """
    raise NotImplementedError("TODO")

# %% tags=["check:lstm_layer"]
result = check("lstm_layer", lstm_layer, backend=BACKEND)

# %% [markdown]
# ## 7. Both directions
#
# A second LSTM reads the sequence from the end; its outputs go back into time order and sit beside
# the forward ones.

# %% tags=["exercise:bidirectional"]
def bidirectional(step, X, params_fwd, params_rev):
    """A bidirectional LSTM layer: one LSTM reads the sequence forward, a second one from the end.

    Args:
        step: a correct LSTM step, step(X_t, state, params) -> the new state (H, C).
        X: the inputs, time first: (T, B, d).
        params_fwd, params_rev: each direction's parameters (the same names: W_xi (d, h), ...).

    Returns:
        outputs (T, B, 2h): at each time step t, [H_fwd[t], H_rev[t]] concatenated on the last
        axis, where H_fwd[t] has read X[0], ..., X[t] and H_rev[t] has read X[T-1], ..., X[t].
        Both directions start from zero states (H, C), each (B, h).

    Useful: torch.flip(X, dims=[0]), torch.zeros(B, h), torch.cat(list, dim=-1).
    """
    raise NotImplementedError("TODO")

# %% tags=["check:bidirectional"]
result = check("bidirectional", bidirectional, backend=BACKEND)

# %% [markdown]
# ## 8. Clipping by the global norm
#
# What `Trainer(gradient_clip_val=1.0)` does to every step's gradients: one factor for all of them,
# so their directions stay as they are.

# %% tags=["exercise:clip_gradients"]
def clip_gradients(grads, max_norm):
    """Clip gradients by their global norm (what Trainer(gradient_clip_val=...) does each step).

    Args:
        grads: a dict name -> gradient tensor, of any shapes.
        max_norm: a float > 0.

    Returns:
        a dict with the same names, every gradient multiplied by the same factor::

            global_norm = sqrt(sum over every tensor and every entry of g^2)
            scale = min(1, max_norm / global_norm)
    """
    raise NotImplementedError("TODO")

# %% tags=["check:clip_gradients"]
result = check("clip_gradients", clip_gradients, backend=BACKEND)

# %% [markdown]
# ## 9. Top-k and top-p
#
# What `lm.predict(..., top_k=, top_p=)` may draw: keep the likely tokens, the other logits become
# -inf; the order and its ties as the package's sampling has them.

# %% tags=["exercise:top_k_top_p"]
def top_k_top_p(logits, k, p):
    """What top-k and top-p (nucleus) sampling may draw: the other logits set to -inf.

    Args:
        logits: (B, V), one row per sequence.
        k: keep the k most likely tokens of each row; None or 0: no top-k.
        p: keep the shortest run of most likely tokens whose probabilities sum to p or
            more (the token that reaches p included); None or 1.0: no top-p.

    Returns:
        (B, V): the logits of the kept tokens unchanged, -inf elsewhere.

    The order is the most likely first; equal logits: the lower token id first. Both filters
    read the same probabilities, softmax(logits) over each row, and a token is kept when
    both keep it.

    Useful: torch.softmax(z, dim=-1), torch.sort(z, dim=-1, descending=True, stable=True),
    torch.cumsum, torch.where, float('-inf').
    """
    raise NotImplementedError("TODO")

# %% tags=["check:top_k_top_p"]
result = check("top_k_top_p", top_k_top_p, backend=BACKEND)

# %% [markdown]
# ## 10. Backpropagation by hand (NumPy)
#
# The reference computes every gradient itself (reference/lstm.py); write one step's forward pass with
# a cache, and its backward pass.

# %% tags=["exercise:lstm_step_backward"]
import numpy as np  # noqa: E402 (this one is NumPy's, whatever the backend)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def lstm_step_forward(X_t, state, params):
    """One LSTM step, keeping what the backward pass needs.

    Args:
        X_t: (B, d); state: (H, C), each (B, h); params: W_xi (d, h), W_hi (h, h), b_i (h,),
            and the same for f, o, c.

    Returns:
        ((H, C), cache): the new state, each (B, h), and anything lstm_step_backward needs
        (the inputs, the gates, the parameters)::

            I  = sigmoid(X_t W_xi + H W_hi + b_i)
            F  = sigmoid(X_t W_xf + H W_hf + b_f)
            O  = sigmoid(X_t W_xo + H W_ho + b_o)
            C~ = tanh(X_t W_xc + H W_hc + b_c)
            C  = F * C_prev + I * C~
            H  = O * tanh(C)
    """
    raise NotImplementedError("TODO")


def lstm_step_backward(dH, dC, cache):
    """The gradients of one step, by hand (backpropagation through the equations above).

    Args:
        dH: the gradient of the loss with respect to the new H, (B, h).
        dC: the gradient with respect to the new C coming back from the next step, (B, h).
        cache: what lstm_step_forward returned.

    Returns:
        grads: a dict with the gradient of every parameter (W_xi, W_hi, b_i, ... the same
        shapes as the parameters) and of the step's inputs: "X_t" (B, d), and the previous
        state "H" and "C", each (B, h).

    Hints: the cell gets dH through H = O * tanh(C) plus the dC given; the derivative of
    sigmoid(a) is S (1 - S), of tanh(a) 1 - T^2; a gradient sums over the batch where its
    parameter is shared by every row.
    """
    raise NotImplementedError("TODO")

# %% tags=["check:lstm_step_backward"]
functions = (lstm_step_forward, lstm_step_backward)
result = check("lstm_step_backward", functions, backend="numpy")

# %% [markdown]
# ## 11. The parentheses task's label
#
# What the classifier of notebook 04 has to learn, in plain Python: counting brackets is not enough,
# the order matters.

# %% tags=["exercise:balanced"]
def balanced(s):
    """Is every bracket of the string s closed, in the right order?

    Args:
        s: a plain Python string over a-z, "(" and ")" (the parentheses task's alphabet);
            letters do not matter.

    Returns:
        True or False: True when every "(" is closed by a later ")" and every ")" closes an
        earlier "(" (the string without brackets, and the empty one, are balanced).
    """
    raise NotImplementedError("TODO")

# %% tags=["check:balanced"]
result = check("balanced", balanced, backend=BACKEND)
