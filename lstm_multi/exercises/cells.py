"""One step of a cell: lstm_step, peephole_lstm_step, diagonal_peephole_lstm_step, gru_step, rnn_step.

The reference is the package's own (``reference/lstm.py``, ``gru.py``, ``rnn.py``); the
mistakes are the same equations with one thing changed (:func:`lstm_cell`, :func:`gru_cell`,
:func:`rnn_cell`, each equal to the reference when nothing is changed: tests check that).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ..core.family import LayerConfig
from ..reference import gru, lstm, rnn
from ..reference.common import sigmoid
from .base import ALL_BACKENDS, Case, Exercise, Mistake, Student, StudentError, normal

LSTM_GATES, GRU_GATES = "ifoc", "zrh"
CELL_SIZES = (
    {"B": 3, "d": 4, "h": 5, "seed": 0},
    {"B": 1, "d": 6, "h": 3, "seed": 1},
    {"B": 2, "d": 3, "h": 3, "seed": 2},
)


# --- parameters and cases -----------------------------------------------------------------------------------------


def gate_params(rng, d, h, gates) -> dict:
    """Canonical parameters of one unit: weights ~ N(0, 1/fan_in) (gates neither saturated nor
    linear), biases ~ N(0, 0.5^2) (large enough that a missing one shows)."""
    params = {}
    for g in gates:
        params[f"W_x{g}"] = normal(rng, d, h, scale=d**-0.5)
        params[f"W_h{g}"] = normal(rng, h, h, scale=h**-0.5)
        params[f"b_{g}"] = normal(rng, h, scale=0.5)
    return params


def lstm_params(rng, d, h, peephole=None) -> dict:
    params = gate_params(rng, d, h, LSTM_GATES)
    for g in "ifo":
        if peephole == "diagonal":
            params[f"w_c{g}"] = normal(rng, h, scale=0.5)
        elif peephole == "full":
            params[f"W_c{g}"] = normal(rng, h, h, scale=h**-0.5)
    return params


def step_case(sizes, cell="lstm", peephole=None) -> Case:
    B, d, h = sizes["B"], sizes["d"], sizes["h"]
    rng = np.random.default_rng(sizes.get("seed", 0))
    params = (
        lstm_params(rng, d, h, peephole)
        if cell == "lstm"
        else gate_params(rng, d, h, GRU_GATES if cell == "gru" else "h")
    )
    inputs = {"X_t": normal(rng, B, d), "H": np.tanh(normal(rng, B, h)), "params": params}
    if cell == "lstm":
        inputs["C"] = normal(rng, B, h)
    return Case(f"B={B}, d={d}, h={h}", inputs, dict(sizes))


# --- the reference and its mistakes -------------------------------------------------------------------------------


def lstm_reference(case, peephole=None):
    x = case.inputs
    d, h = x["params"]["W_xi"].shape
    _, (H, C), _, _ = lstm.step(x["params"], x["X_t"], (x["H"], x["C"]), LayerConfig("lstm", d, h, peephole=peephole))
    return {"H": H, "C": C}


def swapped(params, a, b):
    """The parameters with gates ``a`` and ``b`` exchanged (what using the wrong names computes)."""
    rename = {a: b, b: a}
    out = {}
    for name, value in params.items():
        prefix, g = name[:-1], name[-1]
        out[prefix + rename.get(g, g) if prefix in ("W_x", "W_h", "b_") else name] = value
    return out


def without_bias(params, gates):
    return {name: np.zeros_like(v) if name.startswith("b_") and name[2:] in gates else v for name, v in params.items()}


def lstm_cell(
    p,
    X,
    H,
    C_prev,
    peephole=None,
    *,
    gate_act=sigmoid,
    cand_act=np.tanh,
    forget_on_candidate=False,
    h_without_tanh=False,
    output_reads=None,
    no_peephole=False,
    recurrent_transposed=False,
    peephole_transposed=False,
):
    """The LSTM step with one thing changed (all defaults: the reference's equations)."""
    W_h = (lambda g: p[f"W_h{g}"].T) if recurrent_transposed else (lambda g: p[f"W_h{g}"])

    def pre(g):
        return X @ p[f"W_x{g}"] + H @ W_h(g) + p[f"b_{g}"]

    def peep(g, C):
        if no_peephole or peephole is None:
            return 0.0
        if peephole == "diagonal":
            return p[f"w_c{g}"] * C
        return C @ (p[f"W_c{g}"].T if peephole_transposed else p[f"W_c{g}"])

    I = gate_act(pre("i") + peep("i", C_prev))
    F = gate_act(pre("f") + peep("f", C_prev))
    C_tilde = cand_act(pre("c"))
    C = I * C_prev + F * C_tilde if forget_on_candidate else F * C_prev + I * C_tilde
    default_reads = "new" if peephole == "diagonal" else "old"
    O = gate_act(pre("o") + peep("o", C if (output_reads or default_reads) == "new" else C_prev))
    return {"H": O * (C if h_without_tanh else np.tanh(C)), "C": C}


def lstm_mistake(peephole=None, *, params=None, swap_outputs=False, **change):
    """The outputs of :func:`lstm_cell` with ``change`` on a case (``params`` edits the parameters)."""

    def outputs(case):
        x = case.inputs
        p = params(x["params"]) if params else x["params"]
        out = lstm_cell(p, x["X_t"], x["H"], x["C"], peephole, **change)
        return {"H": out["C"], "C": out["H"]} if swap_outputs else out

    return outputs


def lstm_mistakes(peephole=None) -> tuple[Mistake, ...]:
    m = partial(lstm_mistake, peephole)
    found = [
        Mistake(
            "swap_if",
            "the input and forget gates are swapped: I reads W_xi, W_hi, b_i and F reads W_xf, W_hf, b_f.",
            m(params=lambda p: swapped(p, "i", "f")),
        ),
        Mistake(
            "swap_oc",
            "the output gate and the candidate cell are swapped: O reads W_xo, W_ho, b_o and C~ reads W_xc, W_hc, b_c.",
            m(params=lambda p: swapped(p, "o", "c")),
        ),
        Mistake(
            "activations",
            "sigmoid and tanh are exchanged: the gates I, F, O use sigmoid (values in "
            "(0, 1)), the candidate C~ uses tanh.",
            m(gate_act=np.tanh, cand_act=sigmoid),
        ),
        Mistake(
            "candidate_sigmoid", "the candidate C~ uses sigmoid; it uses tanh (values in (-1, 1)).", m(cand_act=sigmoid)
        ),
        Mistake(
            "forget_on_candidate",
            "the forget gate multiplies the candidate instead of the old cell: "
            "F decides what to keep of C_prev, I how much of C~ to add.",
            m(forget_on_candidate=True),
        ),
        Mistake(
            "h_without_tanh",
            "H = O * C: the new cell goes through tanh before the output gate scales it.",
            m(h_without_tanh=True),
        ),
        Mistake(
            "recurrent_transposed",
            "the recurrent matrices are transposed: the gates read H W_h (H is (B, h), W_h is (h, h)), not H W_h^T.",
            m(recurrent_transposed=True),
        ),
        Mistake("returns_C_H", "the state is returned as (C, H); return (H, C).", m(swap_outputs=True)),
        Mistake("no_bias", "the biases b_i, b_f, b_o, b_c are not added.", m(params=lambda p: without_bias(p, "ifoc"))),
    ]
    for g, gate in zip("ifoc", ("input gate", "forget gate", "output gate", "candidate cell")):
        found.append(
            Mistake(
                f"no_bias_{g}",
                f"the bias b_{g} of the {gate} is not added.",
                m(params=lambda p, g=g: without_bias(p, g)),
            )
        )
    if peephole == "diagonal":
        found += [
            Mistake(
                "output_reads_old",
                "the output gate reads the old cell: in the diagonal form O reads the new "
                "cell, w_co * C, while I and F read C_prev.",
                m(output_reads="old"),
            ),
            Mistake("no_peephole", "the peepholes w_ci, w_cf, w_co are not used.", m(no_peephole=True)),
        ]
    elif peephole == "full":
        found += [
            Mistake(
                "output_reads_new",
                "the output gate reads the new cell: in the full-matrix form all three "
                "gates read the previous cell state, C_prev W_co.",
                m(output_reads="new"),
            ),
            Mistake("no_peephole", "the peepholes W_ci, W_cf, W_co are not used.", m(no_peephole=True)),
            Mistake(
                "peephole_transposed",
                "the peephole matrices are transposed: C_prev (B, h) times W_c (h, h).",
                m(peephole_transposed=True),
            ),
        ]
    return tuple(found)


def gru_reference(case):
    x = case.inputs
    d, h = x["params"]["W_xz"].shape
    _, (H,), _, _ = gru.step(x["params"], x["X_t"], (x["H"],), LayerConfig("gru", d, h, reset_after=False))
    return {"H": H}


def gru_cell(
    p,
    X,
    H_prev,
    *,
    flipped=False,
    reset_after=False,
    no_reset=False,
    gate_act=sigmoid,
    cand_act=np.tanh,
    recurrent_transposed=False,
):
    W_h = (lambda g: p[f"W_h{g}"].T) if recurrent_transposed else (lambda g: p[f"W_h{g}"])
    Z = gate_act(X @ p["W_xz"] + H_prev @ W_h("z") + p["b_z"])
    R = gate_act(X @ p["W_xr"] + H_prev @ W_h("r") + p["b_r"])
    if no_reset:
        recurrent = H_prev @ W_h("h")
    elif reset_after:
        recurrent = R * (H_prev @ W_h("h"))
    else:
        recurrent = (R * H_prev) @ W_h("h")
    H_tilde = cand_act(X @ p["W_xh"] + recurrent + p["b_h"])
    return {"H": Z * H_tilde + (1 - Z) * H_prev if flipped else Z * H_prev + (1 - Z) * H_tilde}


def gru_mistake(params=None, **change):
    def outputs(case):
        x = case.inputs
        return gru_cell(params(x["params"]) if params else x["params"], x["X_t"], x["H"], **change)

    return outputs


GRU_MISTAKES = (
    Mistake(
        "swap_zr",
        "the update and reset gates are swapped: Z reads W_xz, W_hz, b_z and R reads W_xr, W_hr, b_r.",
        gru_mistake(params=lambda p: swapped(p, "z", "r")),
    ),
    Mistake(
        "flipped",
        "Z and 1 - Z are exchanged: in d2l's convention H = Z * H_prev + (1 - Z) * H~ "
        "(Z close to 1 keeps the old state).",
        gru_mistake(flipped=True),
    ),
    Mistake(
        "reset_after",
        "the reset gate is applied after the matmul, R * (H W_hh); in d2l's form it multiplies H first: (R * H) W_hh.",
        gru_mistake(reset_after=True),
    ),
    Mistake("no_reset", "the reset gate is not used in the candidate H~.", gru_mistake(no_reset=True)),
    Mistake(
        "activations",
        "sigmoid and tanh are exchanged: the gates Z, R use sigmoid, the candidate H~ tanh.",
        gru_mistake(gate_act=np.tanh, cand_act=sigmoid),
    ),
    Mistake(
        "recurrent_transposed",
        "the recurrent matrices are transposed: H (B, h) times W_h (h, h).",
        gru_mistake(recurrent_transposed=True),
    ),
    Mistake("no_bias", "the biases b_z, b_r, b_h are not added.", gru_mistake(params=lambda p: without_bias(p, "zrh"))),
    *(
        Mistake(f"no_bias_{g}", f"the bias b_{g} is not added.", gru_mistake(params=lambda p, g=g: without_bias(p, g)))
        for g in "zrh"
    ),
)


def rnn_reference(case):
    x = case.inputs
    d, h = x["params"]["W_xh"].shape
    _, (H,), _, _ = rnn.step(x["params"], x["X_t"], (x["H"],), LayerConfig("rnn", d, h))
    return {"H": H}


def rnn_mistake(act=np.tanh, params=None, transposed=False):
    def outputs(case):
        x = case.inputs
        p = params(x["params"]) if params else x["params"]
        return {"H": act(x["X_t"] @ p["W_xh"] + x["H"] @ (p["W_hh"].T if transposed else p["W_hh"]) + p["b_h"])}

    return outputs


RNN_MISTAKES = (
    Mistake("sigmoid", "the activation is sigmoid; the vanilla RNN uses tanh.", rnn_mistake(act=sigmoid)),
    Mistake(
        "no_activation", "the activation is missing: H = tanh(X W_xh + H W_hh + b_h).", rnn_mistake(act=lambda a: a)
    ),
    Mistake("recurrent_transposed", "W_hh is transposed: H (B, h) times W_hh (h, h).", rnn_mistake(transposed=True)),
    Mistake("no_bias", "the bias b_h is not added.", rnn_mistake(params=lambda p: without_bias(p, "h"))),
)


# --- calling the student ------------------------------------------------------------------------------------------


def run_lstm(function, student: Student, case: Case) -> dict:
    x, (B, h) = case.inputs, case.inputs["H"].shape
    result = student.call(
        function,
        student.tensor(x["X_t"]),
        (student.tensor(x["H"]), student.tensor(x["C"])),
        student.tensors(x["params"]),
    )
    H, C = student.pair(result, f"the value {function} returned", ("H", "C"))
    return {"H": student.array(H, "H", (B, h)), "C": student.array(C, "C", (B, h))}


def run_single_state(function, student: Student, case: Case) -> dict:
    x, (B, h) = case.inputs, case.inputs["H"].shape
    result = student.call(function, student.tensor(x["X_t"]), student.tensor(x["H"]), student.tensors(x["params"]))
    if isinstance(result, (tuple, list)) and len(result) == 1:
        raise StudentError(f"{function} returned a {type(result).__name__} of one tensor; return the new H itself.")
    return {"H": student.array(result, f"the H {function} returned", (B, h))}


# --- stubs --------------------------------------------------------------------------------------------------------

USEFUL = {
    "torch": "torch.sigmoid, torch.tanh, the matrix product @",
    "tensorflow": "tf.sigmoid, tf.tanh, the matrix product @ (tf.matmul)",
    "jax": "jax.nn.sigmoid, jnp.tanh, the matrix product @",
    "mxnet": "npx.sigmoid, np.tanh, the matrix product @ (np.dot)",
    "numpy": "np.tanh, np.exp (sigmoid(a) = 1 / (1 + exp(-a))), the matrix product @",
}

LSTM_PARAMS_DOC = """params: a dict of tensors W_xi (d, h), W_hi (h, h), b_i (h,), and the same for
            the forget gate (W_xf, W_hf, b_f), the output gate (W_xo, W_ho, b_o) and the
            candidate cell (W_xc, W_hc, b_c)"""


def lstm_stub(backend: str, peephole=None) -> str:
    name = {None: "lstm_step", "full": "peephole_lstm_step", "diagonal": "diagonal_peephole_lstm_step"}[peephole]
    title = {
        None: "One LSTM step, a separate matrix for each gate.",
        "full": "One LSTM step with peephole connections: full (h, h) matrices reading the previous cell.",
        "diagonal": "One LSTM step with diagonal peepholes: one weight per cell (Gers et al. 2002).",
    }[peephole]
    extra = {
        None: "",
        "full": ",\n            and the peepholes W_ci, W_cf, W_co (h, h)",
        "diagonal": ",\n            and the peepholes w_ci, w_cf, w_co (h,), one weight per cell",
    }[peephole]
    peep = {
        None: ("", "", ""),
        "full": (" + C_prev W_ci", " + C_prev W_cf", " + C_prev W_co"),
        "diagonal": (" + w_ci * C_prev", " + w_cf * C_prev", " + w_co * C"),
    }[peephole]
    note = {
        None: "",
        "full": "\n\n    All three gates read the previous cell state C_prev.",
        "diagonal": "\n\n    I and F read the previous cell state, O reads the new one (computed first).",
    }[peephole]
    return f'''def {name}(X_t, state, params):
    """{title}

    Args:
        X_t: the inputs at this step, (B, d).
        state: (H, C), the previous hidden and cell states, each (B, h).
        {LSTM_PARAMS_DOC}{extra}.

    Returns:
        the new state (H, C), each (B, h)::

            I  = sigmoid(X_t W_xi + H W_hi + b_i{peep[0]})
            F  = sigmoid(X_t W_xf + H W_hf + b_f{peep[1]})
            C~ = tanh(X_t W_xc + H W_hc + b_c)
            C  = F * C_prev + I * C~
            O  = sigmoid(X_t W_xo + H W_ho + b_o{peep[2]})
            H  = O * tanh(C)

    (X W: the matrix product; *: element-wise.){note}

    Useful: {USEFUL[backend]}.
    """
    raise NotImplementedError("TODO")
'''


def gru_stub(backend: str) -> str:
    return f'''def gru_step(X_t, H, params):
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

    Useful: {USEFUL[backend]}.
    """
    raise NotImplementedError("TODO")
'''


def rnn_stub(backend: str) -> str:
    return f'''def rnn_step(X_t, H, params):
    """One step of a vanilla RNN.

    Args:
        X_t: the inputs at this step, (B, d).
        H: the previous hidden state, (B, h).
        params: a dict of tensors W_xh (d, h), W_hh (h, h), b_h (h,).

    Returns:
        the new H, (B, h)::

            H = tanh(X_t W_xh + H_prev W_hh + b_h)

    Useful: {USEFUL[backend]}.
    """
    raise NotImplementedError("TODO")
'''


# --- the exercises ------------------------------------------------------------------------------------------------


def lstm_exercise(name, title, peephole=None) -> Exercise:
    return Exercise(
        name=name,
        title=title,
        functions=(name,),
        backends=ALL_BACKENDS,
        sizes=CELL_SIZES,
        make_case=partial(step_case, cell="lstm", peephole=peephole),
        run=partial(run_lstm, name),
        reference=partial(lstm_reference, peephole=peephole),
        stub_source=partial(lstm_stub, peephole=peephole),
        mistakes=lstm_mistakes(peephole),
    )


EXERCISES = (
    lstm_exercise("lstm_step", "one LSTM step (separate gate matrices, d2l's names)"),
    Exercise(
        "gru_step",
        "one GRU step (d2l's form, reset before the matmul)",
        ("gru_step",),
        ALL_BACKENDS,
        CELL_SIZES,
        partial(step_case, cell="gru"),
        partial(run_single_state, "gru_step"),
        gru_reference,
        gru_stub,
        GRU_MISTAKES,
    ),
    Exercise(
        "rnn_step",
        "one vanilla RNN step (tanh)",
        ("rnn_step",),
        ALL_BACKENDS,
        CELL_SIZES,
        partial(step_case, cell="rnn"),
        partial(run_single_state, "rnn_step"),
        rnn_reference,
        rnn_stub,
        RNN_MISTAKES,
    ),
    lstm_exercise("peephole_lstm_step", "one LSTM step with full peephole matrices (all gates read C_prev)", "full"),
    lstm_exercise(
        "diagonal_peephole_lstm_step", "one LSTM step with diagonal peepholes (O reads the new cell)", "diagonal"
    ),
)
