"""The exercises' autograder (lstm_multi.exercises): the package's solutions pass on every backend;
each common mistake, written as a student would in the backend's own operations, fails with its
hint; files that cannot be used, wrong return types and shapes, crashes and untouched stubs get
their status (0 passed, 1 wrong, 2 unusable) and their exact message."""

from __future__ import annotations

import ast
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import lstm_multi.exercises as ex
from lstm_multi.exercises.base import ALL_BACKENDS, PACKAGE


def offered(bk, name):
    if bk.NAME not in ex.EXERCISES[name].backends:
        pytest.skip(f"{name} is offered on {', '.join(ex.EXERCISES[name].backends)} only")


def run(name, fn, bk, **kwargs):
    return ex.check(name, fn, backend=bk.NAME, quiet=True, **kwargs)


# --- the solutions ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ex.EXERCISES))
def test_the_solutions_pass(bk, name):
    offered(bk, name)
    result = run(name, ex.solution(name, bk.NAME), bk)
    assert result.status == 0 and result.passed, result.report
    assert result.report.startswith(f"{name} on {bk.NAME}: passed (")


def test_the_mistakes_without_a_change_are_the_reference():
    """Each mistake is the reference with one thing changed: unchanged, they give the reference."""
    from lstm_multi.exercises import backward, cells, layers, sampling, training

    for name in ("lstm_step", "peephole_lstm_step", "diagonal_peephole_lstm_step", "gru_step", "rnn_step"):
        exercise = ex.EXERCISES[name]
        peephole = {"peephole_lstm_step": "full", "diagonal_peephole_lstm_step": "diagonal"}.get(name)
        for case in exercise.cases():
            expected = exercise.reference(case)
            got = (
                cells.lstm_mistake(peephole)(case)
                if "lstm" in name
                else cells.gru_mistake()(case)
                if name == "gru_step"
                else cells.rnn_mistake()(case)
            )
            for key in expected:
                np.testing.assert_allclose(got[key], expected[key], rtol=1e-12, atol=1e-12)
    for name, unchanged in (
        ("lstm_layer", layers.layer_mistake()),
        ("bidirectional", layers.bidirectional_mistake()),
        ("lstm_step_backward", backward.backward_mistake()),
        ("top_k_top_p", sampling.top_mistake()),
        ("clip_gradients", training.clipped),
    ):
        exercise = ex.EXERCISES[name]
        for case in exercise.cases():
            expected, got = exercise.reference(case), unchanged(case)
            for key in expected:
                np.testing.assert_allclose(got[key], expected[key], rtol=1e-10, atol=1e-12)


# --- mistakes, written in the backend's own operations ----------------------------------------------------------------


def ops_of(bk):
    """The few operations the mistaken students use, on ``bk``'s tensors."""
    name = bk.NAME
    if name == "torch":
        import torch

        return SimpleNamespace(
            sigmoid=torch.sigmoid,
            tanh=torch.tanh,
            stack=torch.stack,
            cat=lambda xs: torch.cat(xs, dim=-1),
            flip=lambda x: torch.flip(x, dims=[0]),
            zeros_like=torch.zeros_like,
            T=lambda w: w.T,
            total=lambda g: float((g * g).sum()),
            clip=torch.clamp,
        )
    if name == "tensorflow":
        import tensorflow as tf

        return SimpleNamespace(
            sigmoid=tf.sigmoid,
            tanh=tf.tanh,
            stack=tf.stack,
            cat=lambda xs: tf.concat(xs, axis=-1),
            flip=lambda x: tf.reverse(x, axis=[0]),
            zeros_like=tf.zeros_like,
            T=tf.transpose,
            total=lambda g: float(tf.reduce_sum(g * g)),
            clip=tf.clip_by_value,
        )
    if name == "jax":
        import jax
        import jax.numpy as jnp

        return SimpleNamespace(
            sigmoid=jax.nn.sigmoid,
            tanh=jnp.tanh,
            stack=jnp.stack,
            cat=lambda xs: jnp.concatenate(xs, axis=-1),
            flip=lambda x: jnp.flip(x, axis=0),
            zeros_like=jnp.zeros_like,
            T=lambda w: w.T,
            total=lambda g: float((g * g).sum()),
            clip=jnp.clip,
        )
    if name == "mxnet":
        from mxnet import np as mnp
        from mxnet import npx

        return SimpleNamespace(
            sigmoid=npx.sigmoid,
            tanh=mnp.tanh,
            stack=mnp.stack,
            cat=lambda xs: mnp.concatenate(xs, axis=-1),
            flip=lambda x: mnp.flip(x, axis=0),
            zeros_like=mnp.zeros_like,
            T=lambda w: w.T,
            total=lambda g: float((g * g).sum()),
            clip=mnp.clip,
        )
    return SimpleNamespace(
        sigmoid=lambda a: 1 / (1 + np.exp(-a)),
        tanh=np.tanh,
        stack=np.stack,
        cat=lambda xs: np.concatenate(xs, axis=-1),
        flip=lambda x: np.flip(x, axis=0),
        zeros_like=np.zeros_like,
        T=lambda w: w.T,
        total=lambda g: float((g * g).sum()),
        clip=np.clip,
    )


def edited(params, x, swap=None, no_bias=""):
    p = dict(params)
    if swap:
        a, b = swap
        for kind in ("W_x", "W_h", "b_"):
            p[kind + a], p[kind + b] = params[kind + b], params[kind + a]
    for g in no_bias:
        p[f"b_{g}"] = x.zeros_like(p[f"b_{g}"])
    return p


def lstm_student(
    x,
    peephole=None,
    *,
    swap=None,
    no_bias="",
    activations=False,
    candidate_sigmoid=False,
    forget_on_candidate=False,
    h_without_tanh=False,
    recurrent_transposed=False,
    returns_C_H=False,
    output_reads=None,
    no_peephole=False,
    peephole_transposed=False,
):
    """An LSTM step as a student writes it, with the mistakes asked for."""

    def lstm_step(X_t, state, params):
        H, C_prev = state
        p = edited(params, x, swap, no_bias)
        gate = x.tanh if activations else x.sigmoid
        candidate = x.sigmoid if activations or candidate_sigmoid else x.tanh
        W_h = (lambda g: x.T(p[f"W_h{g}"])) if recurrent_transposed else (lambda g: p[f"W_h{g}"])

        def pre(g):
            return X_t @ p[f"W_x{g}"] + H @ W_h(g) + p[f"b_{g}"]

        def peep(g, C):
            if peephole is None or no_peephole:
                return 0.0
            if peephole == "diagonal":
                return p[f"w_c{g}"] * C
            return C @ (x.T(p[f"W_c{g}"]) if peephole_transposed else p[f"W_c{g}"])

        I, F = gate(pre("i") + peep("i", C_prev)), gate(pre("f") + peep("f", C_prev))
        C_tilde = candidate(pre("c"))
        C = I * C_prev + F * C_tilde if forget_on_candidate else F * C_prev + I * C_tilde
        reads_new = (output_reads or ("new" if peephole == "diagonal" else "old")) == "new"
        O = gate(pre("o") + peep("o", C if reads_new else C_prev))
        H = O * (C if h_without_tanh else x.tanh(C))
        return (C, H) if returns_C_H else (H, C)

    return lstm_step


def lstm_students(x, peephole=None):
    def s(**change):
        return lstm_student(x, peephole, **change)

    found = {
        "swap_if": s(swap="if"),
        "swap_oc": s(swap="oc"),
        "activations": s(activations=True),
        "candidate_sigmoid": s(candidate_sigmoid=True),
        "forget_on_candidate": s(forget_on_candidate=True),
        "h_without_tanh": s(h_without_tanh=True),
        "recurrent_transposed": s(recurrent_transposed=True),
        "returns_C_H": s(returns_C_H=True),
        "no_bias": s(no_bias="ifoc"),
        **{f"no_bias_{g}": s(no_bias=g) for g in "ifoc"},
    }
    if peephole == "diagonal":
        found.update(output_reads_old=s(output_reads="old"), no_peephole=s(no_peephole=True))
    if peephole == "full":
        found.update(
            output_reads_new=s(output_reads="new"),
            no_peephole=s(no_peephole=True),
            peephole_transposed=s(peephole_transposed=True),
        )
    return found


def gru_student(
    x,
    *,
    swap=None,
    no_bias="",
    flipped=False,
    reset_after=False,
    no_reset=False,
    activations=False,
    recurrent_transposed=False,
):
    def gru_step(X_t, H, params):
        p = edited(params, x, swap, no_bias)
        gate, candidate = (x.tanh, x.sigmoid) if activations else (x.sigmoid, x.tanh)
        W_h = (lambda g: x.T(p[f"W_h{g}"])) if recurrent_transposed else (lambda g: p[f"W_h{g}"])
        Z = gate(X_t @ p["W_xz"] + H @ W_h("z") + p["b_z"])
        R = gate(X_t @ p["W_xr"] + H @ W_h("r") + p["b_r"])
        recurrent = H @ W_h("h") if no_reset else R * (H @ W_h("h")) if reset_after else (R * H) @ W_h("h")
        H_tilde = candidate(X_t @ p["W_xh"] + recurrent + p["b_h"])
        return Z * H_tilde + (1 - Z) * H if flipped else Z * H + (1 - Z) * H_tilde

    return gru_step


def gru_students(x):
    def s(**change):
        return gru_student(x, **change)

    return {
        "swap_zr": s(swap="zr"),
        "flipped": s(flipped=True),
        "reset_after": s(reset_after=True),
        "no_reset": s(no_reset=True),
        "activations": s(activations=True),
        "recurrent_transposed": s(recurrent_transposed=True),
        "no_bias": s(no_bias="zrh"),
        **{f"no_bias_{g}": s(no_bias=g) for g in "zrh"},
    }


def rnn_students(x):
    def student(act=x.tanh, transposed=False, bias=True):
        def rnn_step(X_t, H, params):
            W_hh = x.T(params["W_hh"]) if transposed else params["W_hh"]
            return act(X_t @ params["W_xh"] + H @ W_hh + (params["b_h"] if bias else 0.0))

        return rnn_step

    return {
        "sigmoid": student(act=x.sigmoid),
        "no_activation": student(act=lambda a: a),
        "recurrent_transposed": student(transposed=True),
        "no_bias": student(bias=False),
    }


def layer_students(x):
    def student(carry=True, zeros=False, outputs_C=False, shifted=False, final_initial=False, final_swapped=False):
        def lstm_layer(step, X, state, params):
            start = (x.zeros_like(state[0]), x.zeros_like(state[1])) if zeros else state
            now, outputs = start, []
            for t in range(X.shape[0]):
                before = now
                now = step(X[t], now if carry else start, params)
                outputs.append(before[0] if shifted else now[1] if outputs_C else now[0])
            final = start if final_initial else now
            return x.stack(outputs), ((final[1], final[0]) if final_swapped else final)

        return lstm_layer

    return {
        "no_carry": student(carry=False),
        "zeros_start": student(zeros=True),
        "outputs_C": student(outputs_C=True),
        "shifted": student(shifted=True),
        "final_initial": student(final_initial=True),
        "final_swapped": student(final_swapped=True),
    }


def bidirectional_students(x, bk):
    solved_layer = ex.solution("lstm_layer", bk.NAME)

    def student(flip_input=True, flip_back=True, order_swapped=False, reverse_params="rev", shared_state=False):
        def bidirectional(step, X, params_fwd, params_rev):
            zero = x.zeros_like(X[0] @ params_fwd["W_xi"])
            forward, (H, C) = solved_layer(step, X, (zero, zero), params_fwd)
            params = params_rev if reverse_params == "rev" else params_fwd
            reverse, _ = solved_layer(
                step, x.flip(X) if flip_input else X, (H, C) if shared_state else (zero, zero), params
            )
            reverse = x.flip(reverse) if flip_back else reverse
            return x.cat([reverse, forward] if order_swapped else [forward, reverse])

        return bidirectional

    return {
        "not_flipped_back": student(flip_back=False),
        "input_not_reversed": student(flip_input=False),
        "not_reversed": student(flip_input=False, flip_back=False),
        "order_swapped": student(order_swapped=True),
        "reverse_uses_fwd_params": student(reverse_params="fwd"),
        "shared_state": student(shared_state=True),
    }


def clip_students(x):
    def student(kind):
        def clip_gradients(grads, max_norm):
            totals = {n: x.total(g) for n, g in grads.items()}
            if kind == "per_tensor":
                return {n: g * min(1.0, max_norm / math.sqrt(totals[n])) for n, g in grads.items()}
            if kind == "by_value":
                return {n: x.clip(g, -max_norm, max_norm) for n, g in grads.items()}
            norm = {
                "squared_norm": sum(totals.values()),
                "sum_of_norms": sum(math.sqrt(t) for t in totals.values()),
            }.get(kind, math.sqrt(sum(totals.values())))
            scale = max_norm / norm if kind == "always_scale" else min(1.0, max_norm / norm)
            return {n: g * scale for n, g in grads.items()}

        return clip_gradients

    return {kind: student(kind) for kind in ("per_tensor", "always_scale", "squared_norm", "sum_of_norms", "by_value")}


def top_students(bk):
    solved = ex.solution("top_k_top_p", bk.NAME)
    as_np, as_bk = bk.to_numpy, lambda a: bk.tensor(np.ascontiguousarray(a))

    def softmax(z):
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def top_p_cut(extra):
        """top-p by sorting, the cut moved by ``extra`` tokens (the k-only cases pass through)."""

        def top_k_top_p(logits, k, p):
            z = np.array(as_np(solved(logits, k, None)))
            if p is not None and p < 1:
                probs = softmax(as_np(logits))
                order = np.argsort(-probs, axis=-1, kind="stable")
                for row, o in enumerate(order):
                    cut = int(np.searchsorted(np.cumsum(probs[row, o]), p)) + 1 + extra
                    z[row, o[cut:]] = -np.inf
            return as_bk(z)

        return top_k_top_p

    def masked(values):
        def top_k_top_p(logits, k, p):
            z, keep = as_np(logits), np.isfinite(as_np(solved(logits, k, p)))
            if values == "zeros":
                return as_bk(np.where(keep, z, 0.0))
            probs = np.where(keep, softmax(z), 0.0)
            return as_bk(probs / probs.sum(axis=-1, keepdims=True))

        return top_k_top_p

    def smallest(logits, k, p):
        keep = np.isfinite(as_np(solved(as_bk(-as_np(logits)), k, p)))
        return as_bk(np.where(keep, as_np(logits), -np.inf))

    def ties_high(logits, k, p):  # read the tokens right to left: equal logits go to the higher id
        return as_bk(as_np(solved(as_bk(as_np(logits)[:, ::-1]), k, p))[:, ::-1])

    return {
        "k_plus_one": lambda logits, k, p: solved(logits, k + 1 if k else k, p),
        "k_minus_one": lambda logits, k, p: solved(logits, k - 1 if k else k, p),
        "ties_high": ties_high,
        "smallest": smallest,
        "p_below": top_p_cut(-1),
        "p_one_more": top_p_cut(1),
        "p_renormalised": lambda logits, k, p: solved(solved(logits, k, None), None, p),
        "zeros": masked("zeros"),
        "probabilities": masked("probabilities"),
    }


def balanced_students():
    def never_negative(s):
        depth = 0
        for char in s:
            depth += (char == "(") - (char == ")")
            if depth < 0:
                return False
        return True

    return {"counts_only": lambda s: s.count("(") == s.count(")"), "never_negative_only": never_negative}


def students_for(name, bk):
    x = ops_of(bk)
    return {
        "lstm_step": lambda: lstm_students(x),
        "peephole_lstm_step": lambda: lstm_students(x, "full"),
        "diagonal_peephole_lstm_step": lambda: lstm_students(x, "diagonal"),
        "gru_step": lambda: gru_students(x),
        "rnn_step": lambda: rnn_students(x),
        "lstm_layer": lambda: layer_students(x),
        "bidirectional": lambda: bidirectional_students(x, bk),
        "clip_gradients": lambda: clip_students(x),
        "top_k_top_p": lambda: top_students(bk),
        "balanced": balanced_students,
        "lstm_step_backward": lambda: backward_students(x),
    }[name]()


def backward_students(x):
    """lstm_step_backward's mistakes: the forward ones (with a right backward after them) and the backward ones."""
    forward, backward = ex.solution("lstm_step_backward", "numpy")
    found = {}
    for key, step in lstm_students(x).items():

        def mistaken_forward(X_t, state, params, step=step):
            return step(X_t, state, params), forward(X_t, state, params)[1]

        found[key] = (mistaken_forward, backward)

    def student(**change):
        def lstm_step_backward(dH, dC, cache):
            X, H_prev, C_prev, p = cache["X_t"], cache["H_prev"], cache["C_prev"], cache["params"]
            I, F, O, C_tilde, tanh_C = cache["I"], cache["F"], cache["O"], cache["C_tilde"], np.tanh(cache["C"])
            d_sig = (lambda S: 1 - S**2) if change.get("sigmoid_derivative") else (lambda S: S * (1 - S))
            dC = (0 if change.get("no_carried_dC") else dC) + dH * O * (
                1 if change.get("no_tanh_derivative") else 1 - tanh_C**2
            )
            dA = {
                "i": dC * C_tilde * d_sig(I),
                "f": dC * C_prev * d_sig(F),
                "o": dH * (1 if change.get("o_without_tanh_C") else tanh_C) * d_sig(O),
                "c": dC * I * (C_tilde * (1 - C_tilde) if change.get("candidate_derivative") else 1 - C_tilde**2),
            }
            grads = {"X_t": 0, "H": 0, "C": dC if change.get("dC_prev_without_F") else dC * F}
            for g, dA_g in dA.items():
                grads[f"W_x{g}"] = X.T @ dA_g
                grads[f"W_h{g}"] = dA_g.T @ H_prev if change.get("recurrent_grad_transposed") else H_prev.T @ dA_g
                grads[f"b_{g}"] = dA_g.sum(axis=0)
                grads["X_t"] = grads["X_t"] + dA_g @ p[f"W_x{g}"].T
                grads["H"] = grads["H"] + dA_g @ (
                    p[f"W_h{g}"] if change.get("dH_prev_not_transposed") else p[f"W_h{g}"].T
                )
            return grads

        return forward, lstm_step_backward

    for key in (
        "no_tanh_derivative",
        "no_carried_dC",
        "sigmoid_derivative",
        "candidate_derivative",
        "dC_prev_without_F",
        "o_without_tanh_C",
        "recurrent_grad_transposed",
        "dH_prev_not_transposed",
    ):
        found[key] = student(**{key: True})
    return found


@pytest.mark.parametrize("name", list(ex.EXERCISES))
def test_each_mistake_fails_with_its_hint(bk, name):
    offered(bk, name)
    exercise, students = ex.EXERCISES[name], students_for(name, bk)
    assert sorted(students) == sorted(m.key for m in exercise.mistakes), "every mistake has a student here"
    missed = []
    for mistake in exercise.mistakes:
        result = run(name, students[mistake.key], bk)
        hints = result.report.partition("\nhint: your outputs match a common mistake: ")[2]
        if result.status != 1 or mistake.hint not in hints.split("\n  or: "):
            missed.append(f"{mistake.key}:\n{result.report}")
    assert not missed, "\n\n".join(missed)


# --- what the report says --------------------------------------------------------------------------------------------


def test_a_wrong_cell_state_is_located():
    students = lstm_students(ops_of(SimpleNamespace(NAME="numpy")))
    result = ex.check("lstm_step", students["forget_on_candidate"], backend="numpy", quiet=True)
    lines = result.report.splitlines()
    assert lines[0] == "lstm_step on numpy: WRONG (0 of 3 cases passed)"
    assert lines[1] == "case 1 of 3 (B=3, d=4, h=5):"
    assert lines[2].startswith("  H is wrong (") and lines[3].startswith("  C is wrong (")
    assert "max abs error" in lines[3] and "tolerance" in lines[3]
    assert lines[4] == "also wrong: case 2 (B=1, d=6, h=3), case 3 (B=2, d=3, h=3)"
    # without peepholes, F multiplying the candidate is I and F swapped: both hints are given
    assert lines[5].startswith("hint: your outputs match a common mistake: the input and forget gates are swapped")
    assert lines[6].startswith("  or: the forget gate multiplies the candidate instead of the old cell")


def test_a_layer_report_names_the_first_wrong_time_step():
    x = ops_of(SimpleNamespace(NAME="numpy"))
    shifted = layer_students(x)["shifted"]
    report = ex.check("lstm_layer", shifted, backend="numpy", quiet=True).report
    assert "outputs is wrong (" in report
    assert "first wrong at time step t = 0 of 12" in report

    def late(step, X, state, params):  # right for 7 steps, then the state is dropped
        outputs = []
        for t in range(X.shape[0]):
            state = step(X[t], state if t != 7 else (0 * state[0], 0 * state[1]), params)
            outputs.append(state[0])
        return np.stack(outputs), state

    report = ex.check("lstm_layer", late, backend="numpy", quiet=True).report
    assert "first wrong at time step t = 7 of 12; steps 0..6 are right" in report


def test_a_misjudged_string_is_shown():
    result = ex.check("balanced", lambda s: s.count("(") == s.count(")"), backend="numpy", quiet=True)
    assert result.report.splitlines()[2] == "  balanced(')(') returned True; expected False (3 more misjudged)"


def test_top_k_reports_the_token_kept_or_removed():
    solved = ex.solution("top_k_top_p", "numpy")
    result = ex.check("top_k_top_p", lambda z, k, p: solved(z, k + 1 if k else k, p), backend="numpy", quiet=True)
    assert result.report.splitlines()[2] == (
        "  top_k_top_p(logits, k, p), row 0: tokens you keep that the reference removes: [0] (and 2 more rows)"
    )


# --- status and messages -------------------------------------------------------------------------------------------


def numpy_student(body: str, name="lstm_step", args="X_t, state, params"):
    return f"import numpy as np\n\n\ndef {name}({args}):\n" + "".join(f"    {line}\n" for line in body.splitlines())


def test_a_missing_file(tmp_path):
    path = tmp_path / "nope.py"
    result = ex.check_file("lstm_step", path, backend="numpy", quiet=True)
    assert result.status == 2 and not result.passed
    assert result.report == f"lstm_step on numpy: cannot be checked: there is no file {str(path)!r}."


def test_a_syntax_error(tmp_path):
    path = tmp_path / "lab.py"
    path.write_text("def lstm_step(X_t, state, params)\n    return state\n")
    result = ex.check_file("lstm_step", path, backend="numpy", quiet=True)
    assert result.status == 2
    assert result.report.startswith(
        f'lstm_step on numpy: cannot be checked: lab.py has a syntax error:\n  File "{path}", line 1\n'
    )
    assert result.report.endswith("SyntaxError: expected ':'")


def test_an_exception_at_import_shows_the_students_lines_only(tmp_path):
    path = tmp_path / "lab.py"
    path.write_text("import numpy as np\n\nSCALE = 1 / 0\n")
    result = ex.check_file("lstm_step", path, backend="numpy", quiet=True)
    assert result.status == 2
    assert result.report.startswith(
        "lstm_step on numpy: cannot be checked: lab.py raised an exception when it was loaded (before any check "
        f'ran):\nZeroDivisionError: division by zero\nin your code:\n  File "{path}", line 3, in <module>\n'
        "    SCALE = 1 / 0"
    )
    assert "importlib" not in result.report


def test_a_missing_function(tmp_path):
    path = tmp_path / "lab.py"
    path.write_text(numpy_student("return state", name="lstm_stp") + "\n\ndef helper():\n    pass\n")
    result = ex.check_file("lstm_step", path, backend="numpy", quiet=True)
    assert result.status == 2
    assert result.report == (
        "lstm_step on numpy: cannot be checked: lab.py defines no function named lstm_step "
        "(it defines: helper, lstm_stp)."
    )
    path.write_text(numpy_student("return state", name="lstm_step_forward"))
    result = ex.check_file("lstm_step_backward", path, backend="numpy", quiet=True)
    assert result.report == (
        "lstm_step_backward on numpy: cannot be checked: lab.py defines no function named "
        "lstm_step_backward (it defines: lstm_step_forward)."
    )


def test_unknown_names_and_backends(tmp_path):
    assert ex.check("lstm", print, backend="numpy", quiet=True).report.startswith(
        "lstm on numpy: cannot be checked: Unknown exercise 'lstm'. Exercises: lstm_step, gru_step, "
    )
    result = ex.check("lstm_step", print, backend="theano", quiet=True)
    assert result.status == 2 and "Unknown backend 'theano'. Valid backends: torch, tensorflow" in result.report
    result = ex.check("lstm_step_backward", (print, print), backend="torch", quiet=True)
    assert result.report == (
        "lstm_step_backward on torch: cannot be checked: lstm_step_backward is an exercise for "
        "numpy only (backend='numpy'), not for 'torch'."
    )
    result = ex.check("lstm_step_backward", print, backend="numpy", quiet=True)
    assert result.report == (
        "lstm_step_backward on numpy: cannot be checked: check('lstm_step_backward', ...) needs "
        "the functions (lstm_step_forward, lstm_step_backward); got builtin_function_or_method."
    )
    with pytest.raises(ValueError, match="Unknown exercise 'lstm'"):
        ex.stub("lstm", "torch")


def test_a_wrong_return_type_and_a_wrong_shape(tmp_path):
    path = tmp_path / "lab.py"
    path.write_text(numpy_student("H, C = state\nreturn H"))
    result = ex.check_file("lstm_step", path, backend="numpy", quiet=True)
    assert result.status == 1
    assert result.report.splitlines()[2] == (
        "  the value lstm_step returned is one ndarray of shape (3, 5); expected a pair (H, C)."
    )
    path.write_text(numpy_student("H, C = state\nreturn H.T, C"))
    result = ex.check_file("lstm_step", path, backend="numpy", quiet=True)
    assert result.status == 1
    assert result.report.splitlines()[2] == "  H has shape (5, 3); expected (3, 5). (transposed?)"
    path.write_text(numpy_student("return [H]", name="rnn_step", args="X_t, H, params"))
    assert ex.check_file("rnn_step", path, backend="numpy", quiet=True).report.splitlines()[2] == (
        "  rnn_step returned a list of one tensor; return the new H itself."
    )
    path.write_text(numpy_student("return H + np.nan", name="rnn_step", args="X_t, H, params"))
    assert (
        ex.check_file("rnn_step", path, backend="numpy", quiet=True)
        .report.splitlines()[2]
        .startswith("  the H rnn_step returned has 15 non-finite values (nan or inf), the first at [0, 0]")
    )
    path.write_text("def balanced(s):\n    return int(s.count('(') == s.count(')'))\n")
    assert ex.check_file("balanced", path, backend="numpy", quiet=True).report.splitlines()[2] == (
        "  balanced('') returned 1 (int); return True or False."
    )


def test_an_exception_in_the_students_code(bk, tmp_path):
    """The exception and the student's own lines; nothing of lstm_multi's (nor the framework's) frames."""
    path = tmp_path / "lab.py"
    path.write_text(
        "def lstm_layer(step, X, state, params):\n    outputs = []\n"
        "    for t in range(X.shape[0]):\n        state = step(X[t], (state[0],), params)\n"
        "    return outputs, state\n"
    )
    result = ex.check_file("lstm_layer", path, backend=bk.NAME, quiet=True)
    assert result.status == 1
    lines = result.report.splitlines()
    assert lines[2].startswith("  lstm_layer raised ")
    assert lines[3:6] == [
        "  in your code:",
        f'    File "{path}", line 4, in lstm_layer',
        "      state = step(X[t], (state[0],), params)",
    ]
    assert str(PACKAGE) not in result.report and "site-packages" not in result.report


def test_stubs_are_valid_python_with_nothing_but_a_todo_body():
    for name, exercise in ex.EXERCISES.items():
        for backend in exercise.backends:
            tree = ast.parse(ex.stub(name, backend))
            assert ast.get_docstring(tree).startswith(f"Exercise {name} on {backend}: ")
            functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
            for function in exercise.functions:
                body = functions[function].body
                assert ast.get_docstring(functions[function]), (name, backend, function)
                assert len(body) == 2 and isinstance(body[1], ast.Raise), (name, backend, function)
                assert ast.unparse(body[1]) == "raise NotImplementedError('TODO')"
    with pytest.raises(ValueError, match="lstm_step_backward is an exercise for numpy only"):
        ex.stub("lstm_step_backward", "torch")


@pytest.mark.parametrize("name", list(ex.EXERCISES))
def test_an_untouched_stub_is_not_attempted_yet(bk, name, tmp_path):
    offered(bk, name)
    path = tmp_path / f"{name}.py"
    path.write_text(ex.stub(name, bk.NAME))
    result = ex.check_file(name, path, backend=bk.NAME, quiet=True)
    assert result.status == 1
    assert result.report == (
        f"{name} on {bk.NAME}: not attempted yet ({ex.EXERCISES[name].functions[0]} still "
        "raises NotImplementedError: write its body)."
    )


def test_check_file_runs_a_solved_file(tmp_path):
    path = tmp_path / "solved.py"
    path.write_text(
        numpy_student(
            "from lstm_multi.exercises.solutions.numpy import lstm_step as solved\nreturn solved(X_t, state, params)"
        )
    )
    result = ex.check_file("lstm_step", path, backend="numpy", quiet=True)
    assert result.status == 0, result.report


def test_cases_can_be_chosen(capsys):
    solved = ex.solution("lstm_step", "numpy")
    assert ex.check("lstm_step", solved, backend="numpy", cases=1).report == (
        "lstm_step on numpy: passed (1 case: B=3, d=4, h=5)"
    )
    assert capsys.readouterr().out == "lstm_step on numpy: passed (1 case: B=3, d=4, h=5)\n"
    result = ex.check("lstm_step", solved, backend="numpy", cases=[{"B": 7, "h": 2}], quiet=True)
    assert result.report == "lstm_step on numpy: passed (1 case: B=7, d=4, h=2)"
    assert ex.check("lstm_step", solved, backend="numpy", cases=9, quiet=True).status == 2


def test_list_lines():
    lines = ex.list_lines()
    assert len(lines) == len(ex.EXERCISES) == 11
    assert lines[0].split()[0] == "lstm_step" and lines[0].endswith("[torch, tensorflow, jax, mxnet, numpy]")
    assert next(line for line in lines if line.startswith("lstm_step_backward")).endswith("[numpy]")


def test_the_solutions_read_alike():
    """Every backend's solution file defines the same functions (numpy adds the backward pass)."""
    for backend in ALL_BACKENDS:
        names = {f for exercise in ex.EXERCISES.values() if backend in exercise.backends for f in exercise.functions}
        source = (PACKAGE / "exercises" / "solutions" / f"{backend}.py").read_text()
        defined = {node.name for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}
        assert names <= defined, backend


# --- the notebook -----------------------------------------------------------------------------------------------------

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "08_exercises.py"  # the checkout's


def percent_cells(path):
    """The cells of a jupytext percent-format script, as nbformat-like dicts (source, tags)."""
    import re

    cells = []
    for line in path.read_text().splitlines():
        if line.startswith("# %%"):
            found = re.search(r"tags=\[(.*)\]", line)
            cells.append(
                {
                    "cell_type": "markdown" if "[markdown]" in line else "code",
                    "source": [],
                    "metadata": {"tags": re.findall(r'"([^"]+)"', found.group(1)) if found else []},
                }
            )
        elif cells:
            cells[-1]["source"].append(line)
    for cell in cells:
        cell["source"] = "\n".join(cell["source"]).strip()
    return {"cells": cells}


def test_the_notebook_has_each_exercise_as_its_stub_with_a_check():
    from lstm_multi.exercises.notebook import tagged

    notebook = percent_cells(NOTEBOOK)
    exercises, checks = dict(tagged(notebook, "exercise:")), dict(tagged(notebook, "check:"))
    assert list(exercises) == list(checks) and sorted(exercises) == sorted(ex.EXERCISES)
    for name, cell in exercises.items():
        backend = "torch" if "torch" in ex.EXERCISES[name].backends else "numpy"
        assert cell["source"].endswith(ex.stub_function(name, backend).strip()), name
        assert f'result = check("{name}", ' in checks[name]["source"]


def test_fill_solutions_imports_the_package_solutions_and_pins_the_backend():
    from lstm_multi.exercises.notebook import failed_checks, fill_solutions, tagged

    notebook = fill_solutions(percent_cells(NOTEBOOK), "jax")
    sources = {name: cell["source"] for name, cell in tagged(notebook, "exercise:")}
    assert sources["lstm_step"] == "from lstm_multi.exercises.solutions.jax import lstm_step"
    assert sources["lstm_step_backward"] == (
        "from lstm_multi.exercises.solutions.numpy import lstm_step_forward, lstm_step_backward"
    )
    setup = next(cell for cell in notebook["cells"] if "backend" in cell["metadata"]["tags"])
    assert 'BACKEND = "jax"' in setup["source"].splitlines()
    ran = [
        dict(cell, outputs=[{"output_type": "stream", "text": f"{name} on jax: passed (3 cases: ...)\n"}])
        for name, cell in tagged(notebook, "check:")
    ]
    assert failed_checks({"cells": ran}) == []
    ran[2]["outputs"][0]["text"] = "rnn_step on jax: not attempted yet (...)\n"
    ran[3]["outputs"] = []
    assert failed_checks({"cells": ran}) == [
        "rnn_step on jax: not attempted yet (...)",
        "peephole_lstm_step: the check printed nothing",
    ]


def test_importing_the_exercises_imports_no_framework():
    import subprocess
    import sys

    code = (
        "import sys, lstm_multi.exercises; "
        "print(sorted(m for m in ('torch', 'tensorflow', 'jax', 'mxnet', 'keras') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def lstm_multi_cli(*args, cwd):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "lstm_multi.cli", *args], cwd=cwd, capture_output=True, text=True)


def test_the_command_line_hands_out_and_grades_an_exercise(tmp_path):
    listed = lstm_multi_cli("exercise", "--list", cwd=tmp_path)
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == len(ex.EXERCISES)
    assert listed.stdout.startswith("lstm_step ") and "[numpy]" in listed.stdout
    stub = lstm_multi_cli("exercise", "rnn_step", "--backend", "numpy", cwd=tmp_path)
    assert stub.returncode == 0 and stub.stdout == ex.stub("rnn_step", "numpy")
    (tmp_path / "my_rnn.py").write_text(stub.stdout)
    fresh = lstm_multi_cli("check", "rnn_step", "my_rnn.py", "--backend", "numpy", cwd=tmp_path)
    assert (fresh.returncode, fresh.stdout.strip()) == (
        1,
        "rnn_step on numpy: not attempted yet (rnn_step still raises NotImplementedError: write its body).",
    )
    (tmp_path / "my_rnn.py").write_text(
        "import numpy as np\n\n\ndef rnn_step(X_t, H, params):\n"
        "    return np.tanh(X_t @ params['W_xh'] + H @ params['W_hh'] + params['b_h'])\n"
    )
    solved = lstm_multi_cli("check", "rnn_step", "my_rnn.py", "--backend", "numpy", cwd=tmp_path)
    assert solved.returncode == 0 and solved.stdout.startswith("rnn_step on numpy: passed"), solved.stdout
    missing = lstm_multi_cli("check", "rnn_step", "nothere.py", "--backend", "numpy", cwd=tmp_path)
    assert (missing.returncode, missing.stdout.strip()) == (
        2,
        "rnn_step on numpy: cannot be checked: there is no file 'nothere.py'.",
    )
    unnamed = lstm_multi_cli("exercise", cwd=tmp_path)
    assert unnamed.returncode == 2 and unnamed.stderr.strip() == (
        "lstm-multi exercise: error: name an exercise (e.g. lstm-multi exercise lstm_step), or --list to see them all."
    )
    assert "Traceback" not in unnamed.stderr + missing.stderr + fresh.stderr
