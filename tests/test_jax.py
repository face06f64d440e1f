"""What is specific to the JAX backend: compiled once per shape, lax.scan, Flax layouts, float32.

The parity contract itself (outputs, gradients, the SGD step against the NumPy
reference) is tests/test_backends.py; here we pin how JAX gets there.
"""

import numpy as np
import pytest
from conftest import assert_close, assert_scratch_lm_matches_reference

from lstm_multi.backend import install_command, missing_modules

if missing_modules("jax"):
    pytest.skip(
        f"backend 'jax' needs {', '.join(missing_modules('jax'))}, not installed in this "
        f"environment ({install_command('jax')})",
        allow_module_level=True,
    )

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from flax import nnx  # noqa: E402

from lstm_multi import get_backend  # noqa: E402
from lstm_multi.backends.jax import ops  # noqa: E402
from lstm_multi.core.data import TimeMachine  # noqa: E402
from lstm_multi.core.lm import build_model  # noqa: E402
from lstm_multi.core.trainer import Trainer  # noqa: E402
from lstm_multi.reference import lm_loss_and_grads  # noqa: E402

bk = get_backend("jax")


@pytest.fixture
def fresh_traces():
    """Forget every compiled function, so trace counts start from zero."""
    jax.clear_caches()
    ops.TRACES.clear()
    return ops.TRACES


def small_data():
    # 200 training windows in batches of 64: three full batches and one of 8;
    # 100 validation windows: one batch of 64 and one of 36.
    return TimeMachine(batch_size=64, num_steps=8, num_train=200, num_val=100, seed=0)


def test_training_traces_each_step_once_per_batch_shape(fresh_traces, impl):
    data = small_data()
    model = build_model(bk, impl, len(data.vocab), 16, lr=1.0)
    Trainer(max_epochs=3, gradient_clip_val=1.0).fit(model, data)
    # One trace for the full batches and one for the last, smaller batch; none per step or epoch.
    assert fresh_traces["train_step"] == 2
    assert fresh_traces["evaluate_loss"] == 2
    Trainer(max_epochs=2, gradient_clip_val=1.0).fit(model, data)
    # A second model of the same architecture has the same graph definition: nothing new.
    twin = build_model(bk, impl, len(data.vocab), 16, lr=1.0)
    Trainer(max_epochs=2, gradient_clip_val=1.0).fit(twin, data)
    assert fresh_traces["train_step"] == 2
    assert fresh_traces["evaluate_loss"] == 2


def test_lr_is_an_argument_and_clip_none_is_plain_sgd(fresh_traces, impl):
    vocab, h = 6, 5
    model = build_model(bk, impl, vocab, h, lr=1.0)
    rng = np.random.default_rng(0)
    params = {
        name: (rng.standard_normal(shape) * 0.4).astype(np.float32) for name, shape in model.canonical_shapes().items()
    }
    bk.set_params(model, params)
    tokens, targets = rng.integers(0, vocab, (4, 6)), rng.integers(0, vocab, (4, 6))
    bk.train_step(model, tokens, targets, 0.5, 1.0)
    bk.train_step(model, tokens, targets, 0.25, 1.0)  # a new learning rate: same compiled step
    assert fresh_traces["train_step"] == 1
    bk.set_params(model, params)
    loss = bk.train_step(model, tokens, targets, 0.3, None)  # clip is static: one new trace
    assert fresh_traces["train_step"] == 2
    ref_loss, ref_grads = lm_loss_and_grads(params, tokens, targets)
    assert loss == pytest.approx(ref_loss, rel=2e-6)
    new = bk.get_params(model)
    for name, value in params.items():
        assert_close(new[name], value - 0.3 * ref_grads[name], atol=1e-6, what=name)


def test_generation_compiles_the_forward_twice_not_per_character(fresh_traces, impl):
    data = small_data()
    model = build_model(bk, impl, len(data.vocab), 8, lr=1.0)
    model.predict("time traveller", 20, data.vocab)
    # The prefix (1, 14) without a state, then (1, 1) with one, for all 20 characters.
    assert fresh_traces["RNNLMScratch._forward_with_state"] == 2
    model.predict("the time traveller", 5, data.vocab)  # only the new prefix length is new
    assert fresh_traces["RNNLMScratch._forward_with_state"] == 3


def _equations(jaxpr, inside_scan=False):
    """Yield ``(equation, inside_scan)`` for every equation, nested jaxprs included."""
    for eqn in jaxpr.eqns:
        yield eqn, inside_scan
        for value in eqn.params.values():
            sub = getattr(value, "jaxpr", value)  # a ClosedJaxpr holds a Jaxpr
            if hasattr(sub, "eqns"):
                yield from _equations(sub, inside_scan or eqn.primitive.name == "scan")


@pytest.mark.parametrize("hoist_input", [False, True])
def test_scratch_recurrence_is_one_lax_scan_with_fused_matmuls(hoist_input):
    T, B, d, h = 7, 3, 5, 4
    lstm = bk.LSTMScratch(d, h, hoist_input=hoist_input)
    jaxpr = jax.make_jaxpr(lambda X: lstm(X))(np.zeros((T, B, d), np.float32))
    eqns = list(_equations(jaxpr.jaxpr))
    scans = [eqn for eqn, _ in eqns if eqn.primitive.name == "scan"]
    assert len(scans) == 1 and scans[0].params["length"] == T  # a loop, not T unrolled steps
    dots = [(eqn, inside) for eqn, inside in eqns if eqn.primitive.name == "dot_general"]
    outside = [eqn.outvars[0].aval.shape for eqn, inside in dots if not inside]
    inside = [eqn.outvars[0].aval.shape for eqn, inside in dots if inside]
    if hoist_input:  # X W_x for all steps before the loop; in it only H W_h, the four gates at once
        assert (outside, inside) == ([(T, B, 4 * h)], [(B, 4 * h)])
    else:  # X_t W_x and H W_h in the step, each for the four gates at once
        assert (outside, inside) == ([], [(B, 4 * h), (B, 4 * h)])


def test_hoisted_input_projection_computes_the_same():
    """hoist_input=True: the same outputs, state, loss and gradients as the reference."""
    assert_scratch_lm_matches_reference(bk, bk.LSTMScratch(5, 3, hoist_input=True))


def test_concise_lstm_is_a_scan_over_flax_optimized_lstm_cell():
    lstm = bk.LSTM(3, 4)
    assert isinstance(lstm.units[0], nnx.RNN) and isinstance(lstm.units[0].cell, nnx.OptimizedLSTMCell)
    graphdef, state = nnx.split(lstm)  # a module is traced through its state
    jaxpr = jax.make_jaxpr(lambda state, X: nnx.merge(graphdef, state)(X))(state, np.zeros((6, 2, 3), np.float32))
    scans = [eqn for eqn, _ in _equations(jaxpr.jaxpr) if eqn.primitive.name == "scan"]
    assert [eqn.params["length"] for eqn in scans] == [6]
    # The layout the canonical conversion relies on: one bias, in dense_h; 4h columns.
    native = {name: value.shape for name, value in ops._native(nnx.state(lstm, nnx.Param)).items()}
    assert native == {
        "units.0.cell.dense_h.bias": (16,),
        "units.0.cell.dense_h.kernel": (4, 16),
        "units.0.cell.dense_i.kernel": (3, 16),
    }


def test_everything_is_float32():
    assert not jax.config.jax_enable_x64
    assert bk.tensor(np.zeros(3, np.float64)).dtype == jnp.float32
    assert bk.tensor(np.zeros(3, np.int64)).dtype == jnp.int32
    model = build_model(bk, "scratch", 5, 4, lr=1.0)
    tokens = np.array([[0, 1, 2], [3, 4, 0]])
    logits, (H, C) = model.forward_with_state(tokens)
    assert logits.dtype == H.dtype == C.dtype == jnp.float32
    loss, grads = bk.loss_and_grads(model, tokens, tokens)
    assert {g.dtype for g in grads.values()} == {np.dtype(np.float32)}
    assert {p.dtype for p in bk.get_params(model).values()} == {np.dtype(np.float32)}


def test_models_hold_their_parameters_and_take_state(impl):
    model = build_model(bk, impl, 5, 4, lr=1.0)
    tokens = jnp.array([[0, 1, 2], [3, 4, 0]])
    logits, state = model.forward_with_state(tokens)
    assert logits.shape == (2, 3, 5) and state[0].shape == state[1].shape == (2, 4)
    # Continuing from the state equals reading the whole sequence at once.
    first, state = model.forward_with_state(tokens[:, :2])
    second, _ = model.forward_with_state(tokens[:, 2:], state)
    assert_close(np.concatenate([first, second], axis=1), logits, atol=1e-6, what="logits")
    bad_state = (np.zeros((2, 4), np.float32), np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError) as err:  # checked before jit: no JAX traceback note
        model.forward_with_state(tokens, bad_state)
    assert str(err.value) == ("LSTM state must be a pair (H, C) of shape (2, 4) each, got [(2, 4), (3, 4)].")
    assert not getattr(err.value, "__notes__", None)


def test_adam_runs_inside_the_compiled_step(fresh_traces, impl):
    """Adam's update is part of the jitted step: its numbers and the step count are arguments, so
    new ones reuse it; its slots live beside the model, so the graph definition stays the same."""
    from lstm_multi.core.optim import SGD, Adam

    vocab, h = 6, 4
    model = build_model(bk, impl, vocab, h, lr=0.01)
    graphdef = nnx.split(model)[0]
    rng = np.random.default_rng(0)
    tokens, targets = rng.integers(0, vocab, (3, 5)), rng.integers(0, vocab, (3, 5))
    for optimizer in (Adam(0.01), Adam(0.02, beta1=0.8), Adam(0.01)):
        bk.train_step(model, tokens, targets, optimizer, 1.0)
    assert fresh_traces["train_step"] == 1
    assert nnx.split(model)[0] == graphdef
    state = bk.get_optimizer_state(model)
    assert state["name"] == "adam" and state["step"] == 3
    assert np.abs(state["slots"]["m"]["W_hq"]).max() > 0 and min(v.min() for v in state["slots"]["v"].values()) >= 0
    bk.train_step(model, tokens, targets, SGD(0.1), 1.0)  # another kind of optimizer: state restarts
    assert fresh_traces["train_step"] == 2
    assert bk.get_optimizer_state(model) == {"name": "sgd", "step": 1, "slots": {}}
