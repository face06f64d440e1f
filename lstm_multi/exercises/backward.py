"""lstm_step_backward (NumPy only): one LSTM step's backward pass by hand.

The student writes ``lstm_step_forward(X_t, state, params) -> ((H, C), cache)`` and
``lstm_step_backward(dH, dC, cache) -> grads``; the grader runs the forward, checks H and C,
then the backward on its cache with seeded dH, dC. The reference is ``reference/lstm.py``'s
``step`` and ``step_backward``.
"""

from __future__ import annotations

import numpy as np

from ..core.family import LayerConfig
from ..reference import lstm
from ..reference.common import sigmoid
from .base import Case, Exercise, Mistake, Student, normal
from .cells import CELL_SIZES, LSTM_GATES, lstm_mistakes, lstm_params

PARAM_NAMES = tuple(f"{kind}{g}" for g in LSTM_GATES for kind in ("W_x", "W_h", "b_"))
GRAD_NAMES = PARAM_NAMES + ("X_t", "H", "C")


def grad_key(name: str) -> str:
    return f"grads[{name!r}]"


def backward_case(sizes) -> Case:
    B, d, h = sizes["B"], sizes["d"], sizes["h"]
    rng = np.random.default_rng(sizes.get("seed", 0))
    inputs = {
        "X_t": normal(rng, B, d),
        "H": np.tanh(normal(rng, B, h)),
        "C": normal(rng, B, h),
        "params": lstm_params(rng, d, h),
        "dH": normal(rng, B, h),
        "dC": normal(rng, B, h),
    }
    return Case(f"B={B}, d={d}, h={h}", inputs, dict(sizes))


def backward_reference(case) -> dict:
    x, p = case.inputs, case.inputs["params"]
    d, h = p["W_xi"].shape
    config = LayerConfig("lstm", d, h)
    _, (H, C), cache, _ = lstm.step(p, x["X_t"], (x["H"], x["C"]), config)
    grads = {name: np.zeros_like(p[name]) for name in PARAM_NAMES}
    dX, (dH_prev, dC_prev) = lstm.step_backward(p, cache, (x["dH"], x["dC"]), config, grads)
    grads.update(X_t=dX, H=dH_prev, C=dC_prev)
    return {"H": H, "C": C, **{grad_key(name): grads[name] for name in GRAD_NAMES}}


def backward_variant(
    case,
    *,
    no_tanh_derivative=False,
    no_carried_dC=False,
    sigmoid_derivative_as_tanh=False,
    candidate_derivative_as_sigmoid=False,
    dC_prev_without_F=False,
    o_without_tanh_C=False,
    recurrent_grad_transposed=False,
    dH_prev_not_transposed=False,
) -> dict:
    """The backward pass with one thing changed (all defaults: the reference's gradients)."""
    x, p = case.inputs, case.inputs["params"]
    X, H_prev, C_prev, dH, dC = x["X_t"], x["H"], x["C"], x["dH"], x["dC"]
    A = {g: X @ p[f"W_x{g}"] + H_prev @ p[f"W_h{g}"] + p[f"b_{g}"] for g in LSTM_GATES}
    I, F, O, C_tilde = sigmoid(A["i"]), sigmoid(A["f"]), sigmoid(A["o"]), np.tanh(A["c"])
    C = F * C_prev + I * C_tilde
    tanh_C = np.tanh(C)
    d_sigmoid = (lambda S: 1 - S**2) if sigmoid_derivative_as_tanh else (lambda S: S * (1 - S))
    dC = (0.0 if no_carried_dC else dC) + dH * O * (1.0 if no_tanh_derivative else 1 - tanh_C**2)
    dA = {
        "i": dC * C_tilde * d_sigmoid(I),
        "f": dC * C_prev * d_sigmoid(F),
        "o": dH * (1.0 if o_without_tanh_C else tanh_C) * d_sigmoid(O),
        "c": dC * I * (C_tilde * (1 - C_tilde) if candidate_derivative_as_sigmoid else 1 - C_tilde**2),
    }
    grads = {"X_t": 0.0, "H": 0.0, "C": dC if dC_prev_without_F else dC * F}
    for g, dA_g in dA.items():
        grads[f"W_x{g}"] = X.T @ dA_g
        grads[f"W_h{g}"] = dA_g.T @ H_prev if recurrent_grad_transposed else H_prev.T @ dA_g
        grads[f"b_{g}"] = dA_g.sum(axis=0)
        grads["X_t"] = grads["X_t"] + dA_g @ p[f"W_x{g}"].T
        grads["H"] = grads["H"] + dA_g @ (p[f"W_h{g}"] if dH_prev_not_transposed else p[f"W_h{g}"].T)
    return {"H": O * tanh_C, "C": C, **{grad_key(name): grads[name] for name in GRAD_NAMES}}


def backward_mistake(**change):
    return lambda case: backward_variant(case, **change)


# The forward pass's mistakes give H and C only: they are matched on those, whatever the gradients.
BACKWARD_MISTAKES = lstm_mistakes() + (
    Mistake(
        "no_tanh_derivative",
        "the path from dH to the cell misses tanh's derivative: dC gets dH * O * (1 - tanh(C)^2).",
        backward_mistake(no_tanh_derivative=True),
    ),
    Mistake(
        "no_carried_dC",
        "the dC given (the gradient coming back from the next step) is not added to the cell's gradient.",
        backward_mistake(no_carried_dC=True),
    ),
    Mistake(
        "sigmoid_derivative",
        "the gates' derivative is written like tanh's, 1 - S^2; sigmoid's is S (1 - S).",
        backward_mistake(sigmoid_derivative_as_tanh=True),
    ),
    Mistake(
        "candidate_derivative",
        "the candidate's derivative is written like sigmoid's, C~ (1 - C~); tanh's is 1 - C~^2.",
        backward_mistake(candidate_derivative_as_sigmoid=True),
    ),
    Mistake(
        "dC_prev_without_F",
        "the gradient of the previous cell is not multiplied by the forget gate (C = F * C_prev + ...).",
        backward_mistake(dC_prev_without_F=True),
    ),
    Mistake(
        "o_without_tanh_C",
        "the output gate's gradient misses tanh(C) (H = O * tanh(C)).",
        backward_mistake(o_without_tanh_C=True),
    ),
    Mistake(
        "recurrent_grad_transposed",
        "the gradients of W_h are transposed: H_prev^T dA, (h, h) with rows for H's units.",
        backward_mistake(recurrent_grad_transposed=True),
    ),
    Mistake(
        "dH_prev_not_transposed",
        "the gradient of H_prev uses W_h; it is dA W_h^T (the transpose).",
        backward_mistake(dH_prev_not_transposed=True),
    ),
)


def run_backward(student: Student, case: Case) -> dict:
    x = case.inputs
    B, h = x["H"].shape
    result = student.call(
        "lstm_step_forward",
        student.tensor(x["X_t"]),
        (student.tensor(x["H"]), student.tensor(x["C"])),
        student.tensors(x["params"]),
    )
    state, cache = student.pair(result, "the value lstm_step_forward returned", ("(H, C)", "cache"))
    H, C = student.pair(state, "the state lstm_step_forward returned", ("H", "C"))
    outputs = {"H": student.array(H, "H", (B, h)), "C": student.array(C, "C", (B, h))}
    grads = student.call("lstm_step_backward", student.tensor(x["dH"]), student.tensor(x["dC"]), cache)
    grads = student.mapping(grads, "the grads lstm_step_backward returned", GRAD_NAMES)
    shapes = {
        **{name: value.shape for name, value in x["params"].items()},
        "X_t": x["X_t"].shape,
        "H": (B, h),
        "C": (B, h),
    }
    for name in GRAD_NAMES:
        outputs[grad_key(name)] = student.array(grads[name], grad_key(name), shapes[name])
    return outputs


def backward_stub(backend: str) -> str:
    return '''def sigmoid(x):
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
'''


EXERCISES = (
    Exercise(
        "lstm_step_backward",
        "one LSTM step's backward pass by hand (NumPy)",
        ("lstm_step_forward", "lstm_step_backward"),
        ("numpy",),
        CELL_SIZES,
        backward_case,
        run_backward,
        backward_reference,
        backward_stub,
        BACKWARD_MISTAKES,
        kind=lambda output: "grad" if output.startswith("grads[") else "forward",
        num_terms=lambda case: case.sizes["B"],
    ),
)
