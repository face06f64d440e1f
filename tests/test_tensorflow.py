"""TensorFlow-only checks: compiled loops and steps, Keras' layouts, scratch vs native on the
same canonical parameters, frozen biases, dropout, clear errors, KERAS_BACKEND handling.

The parity contract itself (outputs, loss, gradients, update against the NumPy reference) is
tests/test_backends.py and tests/test_family.py.
"""

import functools
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
from lstm_multi.core.family import LayerConfig
from lstm_multi.core.lm import build_layer, build_model
from lstm_multi.core.optim import SGD, Adam
from lstm_multi.core.params import init_params
from lstm_multi.core.parity import TOLERANCES
from lstm_multi.core.trainer import Trainer
from lstm_multi.reference import lm_loss_and_grads

if missing_modules("tensorflow"):
    pytest.skip(
        f"backend 'tensorflow' needs {', '.join(missing_modules('tensorflow'))}, not "
        f"installed in this environment ({install_command('tensorflow')})",
        allow_module_level=True,
    )

bk = get_backend("tensorflow")
ops = bk.ops
tf = ops.tf


def random_params(d, h, vocab=None, seed=0, scale=0.4):
    rng = np.random.default_rng(seed)
    return {k: (rng.standard_normal(v.shape) * scale).astype(np.float32) for k, v in init_params(d, h, vocab).items()}


@pytest.mark.parametrize("impl", ["scratch", "concise"])
@pytest.mark.parametrize("options", [dict(), dict(model="gru", num_layers=2, dropout=0.3)], ids=["lstm", "gru2"])
def test_steps_are_traced_once_per_model(impl, options):
    """Two epochs, a smaller last batch in training and validation, new lr and clip, training
    (dropout on) and evaluation: one trace each, and one of the layer's loop over all its units."""
    data = TimeMachine(batch_size=300, num_steps=16, num_train=1000, num_val=400, seed=0)
    assert [len(X) for X, _ in data.train_dataloader()] == [300, 300, 300, 100]
    assert [len(X) for X, _ in data.val_dataloader()] == [300, 100]
    model = build_model(bk, impl, len(data.vocab), 16, lr=2.0, **options)
    history = Trainer(max_epochs=2, gradient_clip_val=1.0).fit(model, data)
    assert len(history) == 2
    X, Y = next(iter(data.train_dataloader()))
    bk.train_step(model, X[:7, :5], Y[:7, :5], 0.5, None)
    bk.train_step(model, X, Y, 0.25, 3.0)
    model.predict("time traveller", 3, data.vocab)  # eager calls, batch 1, 14 steps then 1
    step = ops.compiled(model, ops._optimizer_step, SGD)  # one per optimizer class, any lr
    evaluate = ops.compiled(model, ops._loss)
    assert step.experimental_get_tracing_count() == 1
    assert evaluate.experimental_get_tracing_count() == 1
    bk.loss_and_grads(model, X[:3, :4], Y[:3, :4])
    assert ops.compiled(model, ops._loss_and_param_grads).experimental_get_tracing_count() == 1
    assert model.rnn.recurrence.experimental_get_tracing_count() == 1  # the layer's time loops


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


def test_xla_compiled_steps_compute_the_same():
    """jit_compile=True: XLA's loss and gradients match the reference; a native layer has no such option."""
    lstm = bk.LSTMScratch(5, 3, jit_compile=True)
    assert lstm.jit_compile and not bk.LSTM(5, 3).jit_compile
    assert_scratch_lm_matches_reference(bk, lstm)


def test_xla_step_after_the_graph_evaluation():
    """An evaluation (a TensorFlow graph) before the first XLA-compiled step: the step traces
    its own loop in XLA's context, and both see the same loss."""
    model = bk.RNNLMScratch(bk.LSTMScratch(7, 6, jit_compile=True), 7)
    tokens = np.random.default_rng(0).integers(0, 7, (8, 10)).astype(np.int32)
    loss = bk.evaluate_loss(model, tokens, tokens)
    assert model.training_step((tokens, tokens), SGD(1.0), 1.0) == pytest.approx(loss, rel=1e-6)


@pytest.mark.parametrize("cell", ["LSTMScratch", "GRUScratch", "RNNScratch"])
def test_xla_compiled_training_learns_as_the_graph_does(cell):
    """20 Adam steps of a two-layer LM under XLA and without: the same losses without dropout
    (float32 sums in another order), a falling loss with it (XLA draws its own masks)."""
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 7, (8, 10)).astype(np.int32)
    targets = np.roll(tokens, -1, axis=1)

    def losses(jit_compile, dropout):
        layer = getattr(bk, cell)(7, 6, num_layers=2, dropout=dropout, jit_compile=jit_compile)
        model = bk.RNNLMScratch(layer, 7)
        optimizer = Adam(0.01)
        return [model.training_step((tokens, targets), optimizer, 1.0) for _ in range(20)]

    assert_close(np.array(losses(True, 0.0)), np.array(losses(False, 0.0)), atol=1e-5, what="losses")
    with_dropout = losses(True, 0.3)
    assert with_dropout[-1] < with_dropout[0] - 0.05


def test_cli_jit_compile_trains_as_the_graph_does(tmp_path, capsys):
    """``train --jit-compile``: the same history as without, to float32 sums in another order."""
    from lstm_multi.cli import main

    small = ["--backend", "tensorflow", "--hidden", "8", "--epochs", "2", "--batch-size", "64", "--num-steps", "8"]
    small += ["--num-train", "256", "--num-val", "128", "--no-progress"]
    histories = []
    for flags in ([], ["--jit-compile"]):
        assert main(["train", *small, *flags, "--out", str(tmp_path / str(len(flags)))]) == 0
        histories.append(json.loads((tmp_path / str(len(flags)) / "history.json").read_text()))
    capsys.readouterr()
    for name in ("train_ppl", "val_ppl"):
        graph, xla = ([r[name] for r in history] for history in histories)
        assert xla == pytest.approx(graph, rel=1e-4), name


def test_clip_none_is_plain_sgd():
    vocab, h, lr = 6, 5, 0.7
    model = build_model(bk, "scratch", vocab, h, lr)
    params = random_params(vocab, h, vocab, seed=9)
    bk.set_params(model, params)
    rng = np.random.default_rng(2)
    tokens, targets = rng.integers(0, vocab, (4, 6)), rng.integers(0, vocab, (4, 6))
    ref_loss, ref_grads = lm_loss_and_grads(params, tokens, targets)
    assert np.sqrt(sum((g**2).sum() for g in ref_grads.values())) > 0.05
    loss = bk.train_step(model, tokens, targets, lr, None)
    assert loss == pytest.approx(ref_loss, rel=2e-6)
    new = bk.get_params(model)
    for name, value in params.items():
        assert_close(new[name], value - lr * ref_grads[name], atol=1e-6, what=name)


CELLS = [  # (class name, options): scratch and native on the same canonical parameters
    ("LSTM", dict()),
    ("LSTM", dict(num_layers=2, forget_bias=1.0)),
    ("LSTM", dict(num_layers=3, bidirectional=True)),
    ("GRU", dict()),
    ("GRU", dict(num_layers=2, bidirectional=True)),
    ("GRU", dict(reset_after=False)),
    ("GRU", dict(reset_after=False, num_layers=3, bidirectional=True)),
    ("RNN", dict()),
    ("RNN", dict(num_layers=2, bidirectional=True)),
    ("RNN", dict(num_layers=3)),
]


def cell_id(case):
    name, options = case
    return "-".join([name] + [f"{k}={v}" for k, v in options.items()])


def canonical_random(layer, seed, scale=0.4):
    rng = np.random.default_rng(seed)
    return {k: (rng.standard_normal(v) * scale).astype(np.float32) for k, v in layer.canonical_shapes().items()}


def state_parts(state):
    return tuple(state) if isinstance(state, tuple) else (state,)


def canonical_layer_grads(layer, X, state, weights):
    """Gradients of ``sum(outputs * w0) + sum(final parts * w_i)`` for every canonical parameter
    and for X and the initial state (through both directions and every layer)."""
    X, state = tf.constant(X), tuple(tf.constant(s) for s in state)
    variables = layer.named_variables()
    with tf.GradientTape() as tape:
        tape.watch([X, *state])
        outputs, final = layer(X, layer.api_state(state))
        loss = tf.reduce_sum(outputs * weights[0]) + sum(
            tf.reduce_sum(f * w) for f, w in zip(state_parts(final), weights[1:])
        )
    grads = tape.gradient(loss, [*variables.values(), X, *state])
    native = {name: bk.to_numpy(g) for name, g in zip(variables, grads)}
    return layer.to_canonical(native, grads=True), [bk.to_numpy(g) for g in grads[len(variables) :]]


def layer_results(layer, X, given, weights):
    """Outputs and final state (from zeros and from ``given``), then the canonical gradients
    and those of X and the initial state (:func:`canonical_layer_grads`), all in NumPy."""
    forward = []
    for state in (None, given):
        outputs, final = layer(bk.tensor(X), None if state is None else layer.api_state([bk.tensor(s) for s in state]))
        forward.append([bk.to_numpy(outputs), *map(bk.to_numpy, state_parts(final))])
    return forward, canonical_layer_grads(layer, X, given, weights)


AGREE_SIZES = 6, 3, 4, 5  # T, B, d, h


@functools.cache
def agree_inputs(case_index):
    """The canonical parameters, X, a given state and the loss weights of one CELLS case, and
    Keras' results on them: computed once, shared by both hoist_input variants (one
    xdist_group), since building Keras' gradient graph is most of the case's time."""
    name, options = CELLS[case_index]
    T, B, d, h = AGREE_SIZES
    native = getattr(bk, name)(d, h, **options)
    params = canonical_random(native, seed=1)
    bk.set_params(native, params)
    config = native.config
    rng = np.random.default_rng(2)
    X = rng.standard_normal((T, B, d)).astype(np.float32)
    given = [(rng.standard_normal(config.state_shape(B)) * 0.5).astype(np.float32) for _ in config.spec.state]
    weights = [
        rng.standard_normal(s).astype(np.float32)
        for s in [(T, B, h * config.directions)] + [config.state_shape(B)] * len(given)
    ]
    return params, X, given, weights, layer_results(native, X, given, weights)


@pytest.mark.parametrize("hoist_input", [False, True])
@pytest.mark.parametrize(
    "case_index",
    [pytest.param(i, id=cell_id(case), marks=pytest.mark.xdist_group(f"tf-agree-{i}")) for i, case in enumerate(CELLS)],
)
def test_scratch_and_native_agree(case_index, hoist_input):
    """Outputs, final state (from zeros and from a given state) and the gradients of every
    parameter, of X and of the initial state: scratch (input half in the loop or hoisted)
    and Keras, on the same canonical parameters."""
    name, options = CELLS[case_index]
    T, B, d, h = AGREE_SIZES
    params, X, given, weights, (native_forward, (g_native, inputs_native)) = agree_inputs(case_index)
    scratch = getattr(bk, name + "Scratch")(d, h, hoist_input=hoist_input, **options)
    assert sorted(scratch.canonical_shapes()) == sorted(params)
    bk.set_params(scratch, params)
    config = scratch.config
    scratch_forward, (g_scratch, inputs_scratch) = layer_results(scratch, X, given, weights)
    for results in zip(scratch_forward, native_forward):  # from zeros, then from the given state
        assert results[0][0].shape == (T, B, h * config.directions)
        for what, a, b in zip(("outputs",) + config.spec.state, *results):
            assert a.shape == ((T, B, h * config.directions) if what == "outputs" else config.state_shape(B))
            assert_close(a, b, atol=1e-6, what=what)
    assert sorted(g_scratch) == sorted(g_native) == sorted(config.shapes())
    for key in g_scratch:
        ref = g_scratch[key]
        assert_close(g_native[key], ref, atol=2e-6 * max(np.abs(ref).max(), 1e-3), what=f"d/d {key}")
    for what, a, b in zip(["X", *config.spec.state], inputs_scratch, inputs_native):
        assert_close(b, a, atol=2e-6 * np.abs(a).max(), what=f"d/d {what}")


@pytest.mark.parametrize("case", [c for c in CELLS if not c[1].get("bidirectional")], ids=cell_id)
def test_scratch_and_native_lms_agree(case):
    """The LMs (one-hot and embedding) on the same canonical parameters: loss and gradients."""
    name, options = case
    vocab, h, B, T = 7, 5, 3, 6
    for embedding_dim in (None, 3):
        d = vocab if embedding_dim is None else embedding_dim
        scratch = bk.RNNLMScratch(getattr(bk, name + "Scratch")(d, h, **options), vocab, embedding_dim=embedding_dim)
        native = bk.RNNLM(getattr(bk, name)(d, h, **options), vocab, embedding_dim=embedding_dim)
        params = canonical_random(scratch, seed=3)
        rng = np.random.default_rng(4)
        tokens, targets = (rng.integers(0, vocab, (B, T)).astype(np.int32) for _ in range(2))
        results = []
        for model in (scratch, native):
            bk.set_params(model, params)
            results.append(bk.loss_and_grads(model, bk.tensor(tokens), tf.constant(targets)))
        (loss_s, grads_s), (loss_n, grads_n) = results
        assert loss_n == pytest.approx(loss_s, rel=1e-6)
        assert list(grads_s) == list(grads_n) == list(params)
        for key, ref in grads_s.items():
            assert_close(grads_n[key], ref, atol=2e-6 * max(np.abs(ref).max(), 1e-3), what=f"d loss / d {key}")


def test_keras_lstm_layout_and_forget_bias():
    """Keras' kernel columns are gates i, f, c, o, one bias; b_f = forget_bias after Keras' init
    (0 by default, not Keras' unit_forget_bias), never on loads."""
    d, h = 3, 4
    for forget_bias in (0.0, 1.5):
        fresh = bk.get_params(bk.LSTM(d, h, num_layers=2, forget_bias=forget_bias, seed=1))
        for prefix in ("l0.", "l1."):
            np.testing.assert_array_equal(fresh[prefix + "b_f"], np.full(h, forget_bias, np.float32))
            for g in "ioc":
                np.testing.assert_array_equal(fresh[f"{prefix}b_{g}"], np.zeros(h, np.float32))
    lstm = bk.LSTM(d, h, seed=1, forget_bias=1.0)
    params = random_params(d, h, seed=5)
    bk.set_params(lstm, params)
    lstm(bk.tensor(np.ones((2, 1, d), np.float32)))  # calling must not rebuild or re-initialise
    cell = lstm.units[0].cell
    assert set(lstm.named_variables()) == {"units.0.kernel", "units.0.recurrent_kernel", "units.0.bias"}
    for k, g in enumerate("ifco"):
        cols = slice(k * h, (k + 1) * h)
        np.testing.assert_array_equal(np.asarray(cell.kernel)[:, cols], params[f"W_x{g}"])
        np.testing.assert_array_equal(np.asarray(cell.recurrent_kernel)[:, cols], params[f"W_h{g}"])
        np.testing.assert_array_equal(np.asarray(cell.bias)[cols], params[f"b_{g}"])
    assert bk.get_params(lstm)["b_f"].tolist() == params["b_f"].tolist()


@pytest.mark.parametrize("reset_after", [True, False])
def test_keras_gru_layout(reset_after):
    """Keras' GRU kernel columns are z, r, h; reset after, its bias is (2, 3h): row 0 the input
    bias, row 1 the recurrent one, whose z and r blocks are frozen at zero and whose h block is
    b_hh. Reset before, one bias (3h,)."""
    d, h = 3, 4
    gru = bk.GRU(d, h, reset_after=reset_after)
    params = canonical_random(gru, seed=6)
    bk.set_params(gru, params)
    cell = gru.units[0].cell
    assert cell.reset_after == reset_after
    kernel, recurrent, bias = (np.asarray(v) for v in (cell.kernel, cell.recurrent_kernel, cell.bias))
    assert bias.shape == ((2, 3 * h) if reset_after else (3 * h,))
    for k, g in enumerate("zrh"):
        cols = slice(k * h, (k + 1) * h)
        np.testing.assert_array_equal(kernel[:, cols], params[f"W_x{g}"])
        np.testing.assert_array_equal(recurrent[:, cols], params[f"W_h{g}"])
        np.testing.assert_array_equal((bias[0] if reset_after else bias)[cols], params[f"b_{g}"])
    if reset_after:
        np.testing.assert_array_equal(bias[1], np.concatenate([np.zeros(2 * h), params["b_hh"]]))
        mask = gru.frozen()["units.0.bias"]
        np.testing.assert_array_equal(mask, [[False] * 3 * h, [True] * 2 * h + [False] * h])
    else:
        assert gru.frozen() == {}


def test_keras_rnn_layout():
    rnn = bk.RNN(3, 4, num_layers=2, bidirectional=True)
    params = canonical_random(rnn, seed=7)
    bk.set_params(rnn, params)
    cells = [layer.cell for layer in rnn.units]
    for cell, prefix in zip(cells, ("l0.", "l0.rev.", "l1.", "l1.rev.")):
        assert cell.activation.__name__ == "tanh"
        np.testing.assert_array_equal(np.asarray(cell.kernel), params[prefix + "W_xh"])
        np.testing.assert_array_equal(np.asarray(cell.recurrent_kernel), params[prefix + "W_hh"])
        np.testing.assert_array_equal(np.asarray(cell.bias), params[prefix + "b_h"])
    assert [layer.go_backwards for layer in rnn.units] == [False, True, False, True]
    assert np.asarray(cells[2].kernel).shape == (8, 4)  # layer 1 reads [forward, reverse]


def test_frozen_bias_entries_stay_zero():
    """Keras' GRU (reset after): the recurrent z, r bias blocks are zero after set_params (even
    if they were not before) and after training steps with clipping; the rest trains."""
    vocab, h = 6, 5
    model = build_model(bk, "concise", vocab, h, lr=1.0, model="gru", num_layers=2)
    frozen = model.frozen()
    assert sorted(frozen) == ["rnn.units.0.bias", "rnn.units.1.bias"]
    variables = model.named_variables()
    for name in frozen:
        variables[name].assign(np.ones((2, 3 * h), np.float32))
    params = canonical_random(model, seed=8)
    bk.set_params(model, params)
    for name, mask in frozen.items():
        assert np.all(np.asarray(variables[name])[mask] == 0), name
    rng = np.random.default_rng(0)
    tokens, targets = rng.integers(0, vocab, (4, 7)), rng.integers(0, vocab, (4, 7))
    before = {name: np.asarray(variables[name]).copy() for name in frozen}
    for clip in (None, 0.1, 0.1):
        bk.train_step(model, tokens, targets, 1.0, clip)
    for name, mask in frozen.items():
        after = np.asarray(variables[name])
        assert np.all(after[mask] == 0), name
        assert np.all(after[~mask] != before[name][~mask]), name  # the other entries did train
    _, grads = bk.loss_and_grads(model, tokens, targets)
    assert list(grads) == list(model.canonical_shapes())


def test_adam_runs_inside_the_compiled_step():
    """Adam's update, both slots and the step counter are variables assigned in the one
    training graph (a new learning rate is no new trace); the frozen entries' slots stay 0;
    another optimizer restarts the state, and coming back to Adam restarts it again."""
    vocab, h = 6, 4
    model = build_model(bk, "concise", vocab, h, lr=0.01, model="gru")  # Keras' GRU: frozen bias blocks
    rng = np.random.default_rng(0)
    tokens, targets = rng.integers(0, vocab, (4, 7)), rng.integers(0, vocab, (4, 7))
    for lr in (0.01, 0.02, 0.03):
        bk.train_step(model, tokens, targets, Adam(lr), 1.0)
    step = ops.compiled(model, ops._optimizer_step, Adam)
    assert step.experimental_get_tracing_count() == 1
    graph_ops = [op.type for op in step.get_concrete_function().graph.get_operations()]
    n = len(model.named_variables())
    assert graph_ops.count("AssignVariableOp") == 3 * n  # every parameter, m and v
    assert graph_ops.count("AssignAddVariableOp") == 1  # t
    assert "Sqrt" in graph_ops
    assert bk.get_optimizer_state(model)["step"] == 3
    slots = model.__dict__["_optimizer_states"]["adam"].slots
    names = list(model.named_variables())
    for name, mask in model.frozen().items():
        for slot in ("m", "v"):
            value = np.asarray(slots[slot][names.index(name)])
            assert np.all(value[mask] == 0) and np.any(value[~mask] != 0), (slot, name)
    bk.train_step(model, tokens, targets, 0.5, 1.0)  # a number: SGD
    assert bk.get_optimizer_state(model) == {"name": "sgd", "step": 1, "slots": {}}
    bk.train_step(model, tokens, targets, Adam(0.01), 1.0)
    assert bk.get_optimizer_state(model)["step"] == 1
    assert step.experimental_get_tracing_count() == 1
    assert ops.compiled(model, ops._optimizer_step, SGD).experimental_get_tracing_count() == 1


@pytest.mark.parametrize("impl", ["scratch", "concise"])
def test_task_steps_are_traced_once(impl):
    """A classifier and a regressor on a stacked bidirectional layer: training and evaluation
    over batches of any size and length, NumPy or tensors, one trace each."""
    config = LayerConfig("lstm", 5, 4, num_layers=2, bidirectional=True)
    rng = np.random.default_rng(1)
    classifier = bk.Classifier(build_layer(bk, impl, config), num_classes=3, head="mlp", optimizer="adam")
    regressor = bk.Regressor(build_layer(bk, impl, LayerConfig("gru", 1, 4)))
    for B, T in ((4, 6), (3, 2), (7, 9)):
        ids, labels = rng.integers(0, 5, (B, T)), rng.integers(0, 3, B)
        values, targets = rng.standard_normal((B, T)), rng.standard_normal(B)
        for model, batch in ((classifier, (ids, labels)), (regressor, (values, targets))):
            bk.train_step(model, *batch, Adam(0.01), 1.0)
            loss, outputs = bk.evaluate(model, *(bk.tensor(x) for x in batch))
            assert outputs.shape == (B, model.num_outputs)
            np.testing.assert_allclose(outputs, bk.to_numpy(model(batch[0])), atol=1e-6)
            assert loss == pytest.approx(bk.evaluate_loss(model, *batch), rel=1e-6)
    for model in (classifier, regressor):
        assert ops.compiled(model, ops._optimizer_step, Adam).experimental_get_tracing_count() == 1
        assert ops.compiled(model, ops._evaluate).experimental_get_tracing_count() == 1
        assert ops.compiled(model, ops._loss).experimental_get_tracing_count() == 1
        assert model.rnn.recurrence.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("impl", ["scratch", "concise"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_dropout_between_layers_in_training_only(impl, cell):
    """The layer's dropout acts between layers when training=True: a new mask every call,
    the same masks from the same seed; calls, evaluation and one layer are untouched."""
    config = LayerConfig(cell, 4, 6, num_layers=2, bidirectional=True, dropout=0.5)
    layers = [build_layer(bk, impl, config, seed=3) for _ in range(2)]
    params = canonical_random(layers[0], seed=1)
    X = bk.tensor(np.random.default_rng(0).standard_normal((5, 3, 4)).astype(np.float32))
    for layer in layers:
        bk.set_params(layer, params)
    plain = build_layer(bk, impl, LayerConfig(cell, 4, 6, num_layers=2, bidirectional=True), seed=3)
    bk.set_params(plain, params)
    expected = bk.to_numpy(plain(X)[0])
    for outputs in (layers[0](X)[0], layers[0].forward(X)[0], layers[0].forward(X, training=False)[0]):
        np.testing.assert_array_equal(bk.to_numpy(outputs), expected)
    train = [[bk.to_numpy(layer.forward(X, training=True)[0]) for _ in range(2)] for layer in layers]
    assert not np.allclose(train[0][0], expected)
    assert not np.allclose(train[0][0], train[0][1])  # a new mask every call
    np.testing.assert_array_equal(train[0], train[1])  # seeded
    np.testing.assert_array_equal(bk.to_numpy(layers[0](X)[0]), expected)
    assert layers[0].recurrence.experimental_get_tracing_count() == 1
    single = build_layer(bk, impl, LayerConfig(cell, 4, 6, dropout=0.5))  # nothing between layers
    np.testing.assert_array_equal(bk.to_numpy(single.forward(X, training=True)[0]), bk.to_numpy(single(X)[0]))


@pytest.mark.parametrize("impl", ["scratch", "concise"])
def test_layer_is_traced_once_for_any_shape_and_input_kind(impl):
    """Any num_steps and batch size, a given or zero state, NumPy (even float64) or tf input:
    one trace of the layer's loop."""
    layer = build_layer(bk, impl, LayerConfig("lstm", 3, 4, num_layers=2, bidirectional=True))
    for T, B in ((1, 1), (4, 2), (9, 5)):
        X = np.random.default_rng(T).standard_normal((T, B, 3))
        state = tuple(np.zeros((4, B, 4), np.float32) for _ in range(2))
        expected = bk.to_numpy(layer(bk.tensor(X))[0])
        np.testing.assert_array_equal(bk.to_numpy(layer(X)[0]), expected)
        np.testing.assert_array_equal(bk.to_numpy(layer(X, state)[0]), expected)
    assert layer.recurrence.experimental_get_tracing_count() == 1


def test_native_layers_say_what_they_lack():
    for peephole in (True, "diagonal", "full"):
        with pytest.raises(ValueError) as err:
            bk.LSTM(3, 4, peephole=peephole)
        assert str(err.value) == ("No framework's native LSTM has peephole connections; use LSTMScratch(peephole=...).")
    bk.GRU(3, 4, reset_after=False)  # Keras has d2l's form too


def test_bad_inputs_are_clear_errors():
    lstm = bk.LSTM(3, 4, num_layers=2)
    X = bk.tensor(np.zeros((2, 5, 3), np.float32))
    with pytest.raises(ValueError) as err:
        lstm(X, bk.tensor(np.zeros((5, 4), np.float32)))
    assert str(err.value) == ("LSTM state must be a pair (H, C) of shape (2, 5, 4) each, got EagerTensor.")
    with pytest.raises(ValueError, match="num_layers must be a positive integer, got 0"):
        bk.GRUScratch(3, 4, num_layers=0)
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\), got 1.0"):
        bk.RNN(3, 4, dropout=1.0)
    with pytest.raises(ValueError, match="bidirectional LSTM cannot drive"):
        bk.RNNLM(bk.LSTM(5, 4, bidirectional=True), 5)
    with pytest.raises(ValueError, match="embedding_dim=3: build it with num_inputs=3"):
        bk.RNNLMScratch(bk.RNNScratch(5, 4), 5, embedding_dim=3)


def test_concise_init_is_seeded():
    def params(seed, **options):
        return bk.get_params(bk.RNNLM(bk.GRU(5, 4, seed=seed, **options), 5, seed=seed, embedding_dim=None))

    a, b, c = params(0, num_layers=2), params(0, num_layers=2), params(1, num_layers=2)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    assert not np.array_equal(a["l0.W_xz"], c["l0.W_xz"])
    assert not np.array_equal(a["l0.W_xz"], a["l0.W_xr"])
    assert not np.array_equal(a["l0.W_hz"], a["l1.W_hz"])
    e = [bk.get_params(bk.RNNLM(bk.LSTM(3, 4), 5, seed=0, embedding_dim=3))["W_e"] for _ in range(2)]
    np.testing.assert_array_equal(*e)
    assert e[0].shape == (5, 3) and 0 < np.abs(e[0]).max() <= 0.05


def test_lm_native_names():
    """The LM's own parameters: variables W_e, W_hq, b_q (scratch); Keras' Embedding and Dense
    (concise), stored as the canonical arrays are."""
    scratch = bk.RNNLMScratch(bk.GRUScratch(3, 4), 6, embedding_dim=3)
    concise = bk.RNNLM(bk.GRU(3, 4), 6, embedding_dim=3)
    for model, names in (
        (scratch, ["W_e", "W_hq", "b_q"]),
        (concise, ["embedding.embeddings", "dense.kernel", "dense.bias"]),
    ):
        params = canonical_random(model, seed=2)
        bk.set_params(model, params)
        variables = model.named_variables()
        assert [n for n in variables if not n.startswith("rnn.")] == names
        for canonical, native in zip(("W_e", "W_hq", "b_q"), names):
            np.testing.assert_array_equal(np.asarray(variables[native]), params[canonical])
        assert list(bk.get_params(model)) == list(model.canonical_shapes())
        assert next(iter(bk.get_params(model))) == "W_e"


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
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )


HOW = (
    "Keras chooses its backend once per process, at its first import. Unset KERAS_BACKEND or set "
    "KERAS_BACKEND=tensorflow before Python starts, or choose another lstm-multi backend "
    "(LSTM_MULTI_BACKEND=torch, jax or mxnet)."
)


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


@pytest.mark.skipif(
    bool(missing_modules("jax")), reason="Keras' other backends need jax (the tox env 'cross' runs this test)"
)
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
        f"The tensorflow backend needs Keras on TensorFlow, but Keras is already imported on 'jax'. {HOW}",
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
            print(name, repr(backend.train_step(model, tokens, tokens, 1.0, 1.0)))
        if "jax" in {others!r}:
            import jax, jax.numpy as jnp
            print("jax", float(jax.jit(jax.grad(lambda x: jnp.sum(x ** 2)))(jnp.ones(3))[0]))
    """
    result = _run(code, {"KERAS_HOME": str(tmp_path)}, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "tensorflow None 2"
    # Every backend starts from the same model: the same first loss, log(5) up to init noise.
    losses = [float(line.split()[1]) for line in lines[1 : 1 + 1 + len(others)]]
    assert losses == pytest.approx([np.log(5)] * len(losses), abs=1e-3)
    assert losses == pytest.approx([losses[0]] * len(losses), rel=TOLERANCES["loss"][1])  # float32 round-off
    if "jax" in others:
        assert lines[-1] == "jax 2.0"
    assert result.stderr == ""  # no start-up log (absl, CPU features, oneDNN), no warnings
