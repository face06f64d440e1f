"""TensorFlow-only checks: compiled loops and steps, Keras' layout, KERAS_BACKEND handling.

The parity contract itself (outputs, loss, gradients, update) is tests/test_backends.py.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import assert_close, assert_scratch_lm_matches_reference

from lstm_multi.backend import get_backend, install_command, missing_modules
from lstm_multi.core.data import TimeMachine
from lstm_multi.core.lm import build_model
from lstm_multi.core.params import init_params
from lstm_multi.core.trainer import Trainer
from lstm_multi.reference import lm_loss_and_grads

if missing_modules("tensorflow"):
    pytest.skip(f"backend 'tensorflow' needs {', '.join(missing_modules('tensorflow'))}, not "
                f"installed in this environment ({install_command('tensorflow')})",
                allow_module_level=True)

bk = get_backend("tensorflow")
ops = bk.ops
tf = ops.tf


def random_params(d, h, vocab=None, seed=0, scale=0.4):
    rng = np.random.default_rng(seed)
    return {k: (rng.standard_normal(v.shape) * scale).astype(np.float32)
            for k, v in init_params(d, h, vocab).items()}


@pytest.mark.parametrize("impl", ["scratch", "concise"])
def test_steps_are_traced_once_per_model(impl):
    """Two epochs, a smaller last batch in training and validation, new lr and clip: one trace each."""
    data = TimeMachine(batch_size=300, num_steps=16, num_train=1000, num_val=400, seed=0)
    assert [len(X) for X, _ in data.train_dataloader()] == [300, 300, 300, 100]
    assert [len(X) for X, _ in data.val_dataloader()] == [300, 100]
    model = build_model(bk, impl, len(data.vocab), 16, lr=2.0)
    history = Trainer(max_epochs=2, gradient_clip_val=1.0).fit(model, data)
    assert len(history) == 2
    X, Y = next(iter(data.train_dataloader()))
    bk.train_step(model, X[:7, :5], Y[:7, :5], 0.5, None)
    bk.train_step(model, X, Y, 0.25, 3.0)
    model.predict("time traveller", 3, data.vocab)  # eager calls, batch 1, 14 steps then 1
    step = ops.compiled(model, ops._clipped_sgd_step)
    evaluate = ops.compiled(model, ops._loss)
    assert step.experimental_get_tracing_count() == 1
    assert evaluate.experimental_get_tracing_count() == 1
    assert model.rnn.recurrence.experimental_get_tracing_count() == 1  # the LSTM's time loop


def _while_body(concrete):
    """The GraphDef of the body of the single While op in a concrete function."""
    graph_def = concrete.graph.as_graph_def()
    whiles = [node for node in graph_def.node if node.op in ("While", "StatelessWhile")]
    assert len(whiles) == 1, [node.op for node in graph_def.node]
    body_name = whiles[0].attr["body"].func.name
    return next(f for f in graph_def.library.function if f.signature.name == body_name)


@pytest.mark.parametrize("hoist_input", [False, True])
def test_scratch_recurrence_is_one_graph_loop(hoist_input):
    """The time loop is a While op (not one eager op per step); its body has the fused
    matmuls: X_t W_x and H W_h, or only H W_h with the input half hoisted before it."""
    lstm = bk.LSTMScratch(5, 3, hoist_input=hoist_input)
    for T in (1, 4, 9):  # any number of steps runs the same graph
        lstm(bk.tensor(np.ones((T, 2, 5), np.float32)))
    assert lstm.recurrence.experimental_get_tracing_count() == 1
    body = _while_body(lstm.recurrence.get_concrete_function())
    ops_in_body = [node.op for node in body.node_def]
    assert ops_in_body.count("MatMul") == (1 if hoist_input else 2)
    assert {"Sigmoid", "Tanh"} <= set(ops_in_body)


def test_hoisted_input_projection_computes_the_same():
    """hoist_input=True: the same outputs, state, loss and gradients as the reference."""
    assert_scratch_lm_matches_reference(bk, bk.LSTMScratch(5, 3, hoist_input=True))


def test_clip_none_is_plain_sgd():
    vocab, h, lr = 6, 5, 0.7
    model = build_model(bk, "scratch", vocab, h, lr)
    params = random_params(vocab, h, vocab, seed=9)
    bk.set_params(model, params)
    rng = np.random.default_rng(2)
    tokens, targets = rng.integers(0, vocab, (4, 6)), rng.integers(0, vocab, (4, 6))
    ref_loss, ref_grads = lm_loss_and_grads(params, tokens, targets)
    assert np.sqrt(sum((g ** 2).sum() for g in ref_grads.values())) > 0.05
    loss = bk.train_step(model, tokens, targets, lr, None)
    assert loss == pytest.approx(ref_loss, rel=2e-6)
    new = bk.get_params(model)
    for name, value in params.items():
        assert_close(new[name], value - lr * ref_grads[name], atol=1e-6, what=name)


def test_keras_layout_and_unit_forget_bias():
    """Keras' kernel columns are gates i, f, c, o; unit_forget_bias acts at init, never on loads."""
    d, h = 3, 4
    lstm = bk.LSTM(d, h, seed=1)
    fresh = bk.get_params(lstm)
    np.testing.assert_array_equal(fresh["b_f"], np.ones(h, np.float32))  # Keras' init
    for g in "ioc":
        np.testing.assert_array_equal(fresh[f"b_{g}"], np.zeros(h, np.float32))
    params = random_params(d, h, seed=5)
    bk.set_params(lstm, params)
    lstm(bk.tensor(np.ones((2, 1, d), np.float32)))  # calling must not rebuild or re-initialise
    cell = lstm.rnn.cell
    for k, g in enumerate("ifco"):
        cols = slice(k * h, (k + 1) * h)
        np.testing.assert_array_equal(np.asarray(cell.kernel)[:, cols], params[f"W_x{g}"])
        np.testing.assert_array_equal(np.asarray(cell.recurrent_kernel)[:, cols], params[f"W_h{g}"])
        np.testing.assert_array_equal(np.asarray(cell.bias)[cols], params[f"b_{g}"])
    assert bk.get_params(lstm)["b_f"].tolist() == params["b_f"].tolist()


def test_concise_init_is_seeded():
    a, b, c = (bk.get_params(bk.RNNLM(bk.LSTM(5, 4, seed=s), 5, seed=s)) for s in (0, 0, 1))
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    assert not np.array_equal(a["W_xi"], c["W_xi"])
    assert not np.array_equal(a["W_xi"], a["W_xf"])


def _run(code, env_changes, tmp_path):
    """Run ``code`` in a fresh interpreter; ``env_changes``: name -> value, None removes it."""
    env = dict(os.environ)
    for name in ("KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL", "LSTM_MULTI_BACKEND"):
        env.pop(name, None)
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)


HOW = ("Keras chooses its backend once per process, at its first import. Unset KERAS_BACKEND or set "
       "KERAS_BACKEND=tensorflow before Python starts, or choose another lstm-multi backend "
       "(LSTM_MULTI_BACKEND=torch, jax or mxnet).")


def test_keras_backend_set_to_another_framework_is_a_clear_error(tmp_path):
    code = """
        import os, sys
        import lstm_multi
        try:
            lstm_multi.get_backend("tensorflow")
        except lstm_multi.BackendError as err:
            print(err)
        # nothing imported, nothing changed
        print("keras" in sys.modules, "tensorflow" in sys.modules, os.environ.get("TF_CPP_MIN_LOG_LEVEL"))
    """
    result = _run(code, {"KERAS_BACKEND": "numpy", "KERAS_HOME": str(tmp_path)}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"The tensorflow backend needs Keras on TensorFlow, but KERAS_BACKEND is 'numpy'. {HOW}",
        "False False None",
    ]


@pytest.mark.skipif(bool(missing_modules("jax")),
                    reason="Keras' other backends need jax (the tox env 'cross' runs this test)")
def test_keras_already_imported_on_another_framework_is_a_clear_error(tmp_path):
    code = """
        import os
        import keras  # Keras on JAX, chosen by KERAS_BACKEND
        del os.environ["KERAS_BACKEND"]
        import lstm_multi
        try:
            lstm_multi.get_backend("tensorflow")
        except lstm_multi.BackendError as err:
            print(err)
    """
    result = _run(code, {"KERAS_BACKEND": "jax", "KERAS_HOME": str(tmp_path)}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"The tensorflow backend needs Keras on TensorFlow, but Keras is already imported on "
        f"'jax'. {HOW}",
    ]


def test_import_is_quiet_and_leaves_torch_and_jax_alone(tmp_path):
    """keras.json says jax, KERAS_BACKEND is unset: Keras still comes up on TensorFlow, the
    variable is unset afterwards, nothing is logged, and torch and jax work in the same process."""
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "jax"}))
    others = [name for name in ("torch", "jax") if not missing_modules(name)]
    code = f"""
        import os
        import numpy as np
        import lstm_multi
        from lstm_multi.core.lm import build_model

        tokens = np.arange(12).reshape(3, 4) % 5
        tf_bk = lstm_multi.get_backend("tensorflow")
        import keras
        print(keras.backend.backend(), os.environ.get("KERAS_BACKEND"), os.environ["TF_CPP_MIN_LOG_LEVEL"])
        for name in ["tensorflow"] + {others!r}:
            backend = lstm_multi.get_backend(name)
            model = build_model(backend, "scratch", 5, 4, lr=1.0)
            print(name, round(backend.train_step(model, tokens, tokens, 1.0, 1.0), 5))
        if "jax" in {others!r}:
            import jax, jax.numpy as jnp
            print("jax", float(jax.jit(jax.grad(lambda x: jnp.sum(x ** 2)))(jnp.ones(3))[0]))
    """
    result = _run(code, {"KERAS_HOME": str(tmp_path)}, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "tensorflow None 2"
    # Every backend starts from the same model: the same first loss, log(5) up to init noise.
    losses = [float(line.split()[1]) for line in lines[1:1 + 1 + len(others)]]
    assert losses == pytest.approx([np.log(5)] * len(losses), abs=1e-3)
    assert len(set(losses)) == 1
    if "jax" in others:
        assert lines[-1] == "jax 2.0"
    assert result.stderr == ""  # no start-up log (absl, CPU features, oneDNN), no warnings
