"""A step run over a sequence: lstm_layer, bidirectional.

The student gets the package's correct ``lstm_step`` for the backend as ``step`` and writes
only the loop, so what can go wrong is the order of time and how the state is carried. The
reference is ``reference.layer_forward`` (one unit; both directions for ``bidirectional``).
"""

from __future__ import annotations

import numpy as np

from ..core.family import LayerConfig
from ..reference import layer_forward, lstm
from .base import ALL_BACKENDS, Case, Exercise, Mistake, Student, StudentError, normal
from .cells import lstm_params
from .solutions import solution_module

LAYER_SIZES = (
    {"T": 12, "B": 2, "d": 3, "h": 4, "seed": 0},
    {"T": 5, "B": 1, "d": 4, "h": 2, "seed": 1},
    {"T": 12, "B": 3, "d": 2, "h": 3, "seed": 2},
)


def layer_case(sizes, bidirectional=False) -> Case:
    T, B, d, h = (sizes[k] for k in ("T", "B", "d", "h"))
    rng = np.random.default_rng(sizes.get("seed", 0))
    inputs: dict = {"X": normal(rng, T, B, d)}
    if bidirectional:
        inputs["params_fwd"], inputs["params_rev"] = lstm_params(rng, d, h), lstm_params(rng, d, h)
    else:
        inputs["params"] = lstm_params(rng, d, h)
        inputs["H0"], inputs["C0"] = np.tanh(normal(rng, B, h)), normal(rng, B, h)
    return Case(f"T={T}, B={B}, d={d}, h={h}", inputs, dict(sizes))


def layer_reference(case):
    x = case.inputs
    d, h = x["params"]["W_xi"].shape
    outputs, (H, C), _ = layer_forward(LayerConfig("lstm", d, h), x["params"], x["X"], (x["H0"], x["C0"]))
    return {"outputs": outputs, "the final H": H, "the final C": C}


def bidirectional_reference(case):
    x = case.inputs
    d, h = x["params_fwd"]["W_xi"].shape
    params = {
        **{f"l0.{k}": v for k, v in x["params_fwd"].items()},
        **{f"l0.rev.{k}": v for k, v in x["params_rev"].items()},
    }
    outputs, _, _ = layer_forward(LayerConfig("lstm", d, h, bidirectional=True), params, x["X"])
    return {"outputs": outputs}


# --- mistakes -----------------------------------------------------------------------------------------------------


def states(params, X, state, carry=True):
    """The (H, C) after every step (``carry=False``: every step from ``state``, the mistake)."""
    d, h = params["W_xi"].shape
    config, start, found = LayerConfig("lstm", d, h), state, []
    for X_t in X:
        _, new, _, _ = lstm.step(params, X_t, state if carry else start, config)
        found.append(new)
        state = new
    return found


def layer_mistake(carry=True, zeros=False, outputs_C=False, final_initial=False, shifted=False, final_swapped=False):
    def outputs(case):
        x = case.inputs
        start = (np.zeros_like(x["H0"]), np.zeros_like(x["C0"])) if zeros else (x["H0"], x["C0"])
        found = states(x["params"], x["X"], start, carry)
        out = np.stack([s[1] if outputs_C else s[0] for s in found])
        if shifted:
            out = np.concatenate([x["H0"][None], out[:-1]])
        H, C = (x["H0"], x["C0"]) if final_initial else found[-1]
        if final_swapped:
            H, C = C, H
        return {"outputs": out, "the final H": H, "the final C": C}

    return outputs


LAYER_MISTAKES = (
    Mistake(
        "no_carry",
        "every step starts from the initial state: each step's new (H, C) is the state the next step reads.",
        layer_mistake(carry=False),
    ),
    Mistake(
        "zeros_start", "the layer starts from zeros: it starts from the state it is given.", layer_mistake(zeros=True)
    ),
    Mistake(
        "outputs_C", "outputs holds the cell states C; it holds the hidden states H.", layer_mistake(outputs_C=True)
    ),
    Mistake(
        "shifted",
        "outputs[t] is the state before step t (shifted by one): it is the H computed at step t.",
        layer_mistake(shifted=True),
    ),
    Mistake(
        "final_initial",
        "the state returned is the initial one; return the final (H, C).",
        layer_mistake(final_initial=True),
    ),
    Mistake(
        "final_swapped", "the final state is returned as (C, H); return (H, C).", layer_mistake(final_swapped=True)
    ),
)


def bidirectional_mistake(
    flip_input=True, flip_back=True, order_swapped=False, rev_params="params_rev", shared_state=False
):
    def outputs(case):
        x = case.inputs
        X = x["X"]
        zeros = (np.zeros((X.shape[1], x["params_fwd"]["W_hi"].shape[0])),) * 2
        forward = states(x["params_fwd"], X, zeros)
        start = forward[-1] if shared_state else zeros
        reverse = np.stack([s[0] for s in states(x[rev_params], X[::-1] if flip_input else X, start)])
        if flip_back:
            reverse = reverse[::-1]
        forward = np.stack([s[0] for s in forward])
        return {"outputs": np.concatenate([reverse, forward] if order_swapped else [forward, reverse], axis=-1)}

    return outputs


BIDIRECTIONAL_MISTAKES = (
    Mistake(
        "not_flipped_back",
        "the reverse outputs are not flipped back into time order: the reverse LSTM's "
        "output for step t is the one computed after reading X[T-1] .. X[t].",
        bidirectional_mistake(flip_back=False),
    ),
    Mistake(
        "input_not_reversed",
        "the reverse LSTM reads the sequence forward: it reads X from the end.",
        bidirectional_mistake(flip_input=False),
    ),
    Mistake(
        "not_reversed",
        "the reverse direction reads the sequence forward and is not flipped: it reads X "
        "from the end, and its outputs go back into time order.",
        bidirectional_mistake(flip_input=False, flip_back=False),
    ),
    Mistake(
        "order_swapped",
        "the directions are concatenated as [reverse, forward]; the order is [forward, reverse].",
        bidirectional_mistake(order_swapped=True),
    ),
    Mistake(
        "reverse_uses_fwd_params",
        "the reverse direction uses params_fwd; it has its own params_rev.",
        bidirectional_mistake(rev_params="params_fwd"),
    ),
    Mistake(
        "shared_state",
        "the reverse direction starts from the forward direction's final state; both start from zeros.",
        bidirectional_mistake(shared_state=True),
    ),
)


# --- calling the student ------------------------------------------------------------------------------------------


def sequence(student: Student, value, what: str, shape) -> np.ndarray:
    if isinstance(value, (list, tuple)):
        raise StudentError(
            f"{what} is a {type(value).__name__} of {len(value)} items; expected one tensor of shape "
            f"(T, B, h) = {shape}: stack the steps' H along a new first axis."
        )
    return student.array(value, what, shape)


def run_layer(student: Student, case: Case) -> dict:
    x = case.inputs
    (T, B, _), h = x["X"].shape, x["H0"].shape[1]
    step = solution_module(student.backend).lstm_step
    result = student.call(
        "lstm_layer",
        step,
        student.tensor(x["X"]),
        (student.tensor(x["H0"]), student.tensor(x["C0"])),
        student.tensors(x["params"]),
    )
    outputs, state = student.pair(result, "the value lstm_layer returned", ("outputs", "state"))
    H, C = student.pair(state, "the state lstm_layer returned", ("H", "C"))
    return {
        "outputs": sequence(student, outputs, "outputs", (T, B, h)),
        "the final H": student.array(H, "the final H", (B, h)),
        "the final C": student.array(C, "the final C", (B, h)),
    }


def run_bidirectional(student: Student, case: Case) -> dict:
    x = case.inputs
    (T, B, _), h = x["X"].shape, x["params_fwd"]["W_hi"].shape[0]
    step = solution_module(student.backend).lstm_step
    result = student.call(
        "bidirectional",
        step,
        student.tensor(x["X"]),
        student.tensors(x["params_fwd"]),
        student.tensors(x["params_rev"]),
    )
    return {"outputs": sequence(student, result, "the outputs bidirectional returned", (T, B, 2 * h))}


# --- stubs --------------------------------------------------------------------------------------------------------

LOOP_NOTES = {
    "jax": "On JAX a Python loop works; jax.lax.scan runs it as one compiled loop:\n"
    "    jax.lax.scan(f, carry, X) with f(carry, X_t) -> (new carry, output_t) returns\n"
    "    (the final carry, the outputs stacked on a new first axis).",
    "torch": "Useful: torch.stack(list, dim=0).",
    "tensorflow": "Useful: tf.unstack(X) (the steps), tf.stack(list, axis=0).",
    "mxnet": "Useful: np.stack(list, axis=0).",
    "numpy": "Useful: np.stack(list, axis=0).",
}
FLIP_NOTES = {
    "jax": "jnp.flip(X, axis=0), jnp.zeros((B, h)), jnp.concatenate(list, axis=-1)",
    "torch": "torch.flip(X, dims=[0]), torch.zeros(B, h), torch.cat(list, dim=-1)",
    "tensorflow": "tf.reverse(X, axis=[0]), tf.zeros((B, h)), tf.concat(list, axis=-1)",
    "mxnet": "np.flip(X, axis=0), np.zeros((B, h)), np.concatenate(list, axis=-1)",
    "numpy": "np.flip(X, axis=0), np.zeros((B, h)), np.concatenate(list, axis=-1)",
}


def layer_stub(backend: str) -> str:
    return f'''def lstm_layer(step, X, state, params):
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

    {LOOP_NOTES[backend]}
    """
    raise NotImplementedError("TODO")
'''


def bidirectional_stub(backend: str) -> str:
    return f'''def bidirectional(step, X, params_fwd, params_rev):
    """A bidirectional LSTM layer: one LSTM reads the sequence forward, a second one from the end.

    Args:
        step: a correct LSTM step, step(X_t, state, params) -> the new state (H, C).
        X: the inputs, time first: (T, B, d).
        params_fwd, params_rev: each direction's parameters (the same names: W_xi (d, h), ...).

    Returns:
        outputs (T, B, 2h): at each time step t, [H_fwd[t], H_rev[t]] concatenated on the last
        axis, where H_fwd[t] has read X[0], ..., X[t] and H_rev[t] has read X[T-1], ..., X[t].
        Both directions start from zero states (H, C), each (B, h).

    Useful: {FLIP_NOTES[backend]}.
    """
    raise NotImplementedError("TODO")
'''


EXERCISES = (
    Exercise(
        "lstm_layer",
        "run a step function over a sequence (T, B, d)",
        ("lstm_layer",),
        ALL_BACKENDS,
        LAYER_SIZES,
        layer_case,
        run_layer,
        layer_reference,
        layer_stub,
        LAYER_MISTAKES,
        time_axis=("outputs",),
    ),
    Exercise(
        "bidirectional",
        "a bidirectional layer: [forward, reverse] outputs in time order",
        ("bidirectional",),
        ALL_BACKENDS,
        LAYER_SIZES,
        lambda sizes: layer_case(sizes, bidirectional=True),
        run_bidirectional,
        bidirectional_reference,
        bidirectional_stub,
        BIDIRECTIONAL_MISTAKES,
        time_axis=("outputs",),
    ),
)
