"""What is particular to the MXNet backend (the shared contract is tests/test_backends.py).

MXNet 1.9.1 is the last release of a retired project; it runs only beside NumPy < 1.24,
so these tests run in their own environment (tox env ``mxnet``) and skip elsewhere.
"""

import warnings

import numpy as onp
import pytest
from conftest import assert_close

mx = pytest.importorskip(
    "mxnet", reason='MXNet is not installed in this environment (pip install "lstm-multi[mxnet]", beside numpy<1.24)'
)

from mxnet import np, npx  # noqa: E402

from lstm_multi import TimeMachine, Trainer, get_backend  # noqa: E402
from lstm_multi.core.lm import build_model  # noqa: E402
from lstm_multi.core.params import init_params  # noqa: E402
from lstm_multi.core.parity import TOLERANCES  # noqa: E402

bk = get_backend("mxnet")
from lstm_multi.backends.mxnet.ops import named_parameters  # noqa: E402


def random_batch(vocab, batch_size, num_steps, seed=0):
    rng = onp.random.default_rng(seed)
    return rng.integers(0, vocab, (batch_size, num_steps)), rng.integers(0, vocab, (batch_size, num_steps))


# --- the environment -------------------------------------------------------------------------


def test_mxnet_1_9_1_needs_numpy_before_1_24():
    """mxnet/numpy/utils.py reads ``numpy.bool`` at import, an alias NumPy 1.24 removed."""
    assert mx.__version__ == "1.9.1"
    assert tuple(int(part) for part in onp.__version__.split(".")[:2]) < (1, 24)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert onp.bool is bool
    from mxnet.numpy import utils

    assert utils.bool is bool


def test_importing_the_backend_turns_on_mxnets_numpy_interface():
    assert npx.is_np_array() and npx.is_np_shape()
    assert isinstance(bk.tensor(onp.zeros((2, 3))), np.ndarray)
    assert bk.tensor(onp.zeros((2, 3))).dtype == onp.float32
    assert bk.tensor(onp.zeros((2, 3), onp.int64)).dtype == onp.int32
    params = bk.get_params(bk.LSTMScratch(3, 4))
    assert all(type(v) is onp.ndarray and v.dtype == onp.float32 for v in params.values())


@pytest.mark.xfail(
    strict=True,
    raises=TypeError,
    reason="MXNet 1.9.1: contrib.foreach takes only legacy NDArrays; with NumPy-interface "
    "arrays it fails stacking the outputs ('stack' is a legacy operator), which "
    "is why layers.scan converts them",
)
def test_foreach_takes_numpy_interface_arrays():
    outputs, _ = mx.nd.contrib.foreach(lambda x, state: (x * 2, state), np.ones((3, 2)), [np.zeros(2)])
    assert outputs.shape == (3, 2)


# --- hybridization -------------------------------------------------------------------------


@pytest.mark.parametrize("impl", ["scratch", "concise"])
def test_hybridized_equals_op_by_op(impl):
    """The cached graph computes what the same code computes op by op: the same operators, but run by
    another engine (a static graph, memory planned once), which may pick other oneDNN kernels, so
    within float32 round-off rather than bit for bit."""
    tokens, targets = random_batch(28, 16, 9)
    X = onp.random.default_rng(3).standard_normal((9, 16, 28)).astype(onp.float32)
    results = []
    for hybridized in (True, False):
        model = build_model(bk, impl, 28, 8, lr=1.0)
        model.rnn.hybridize(hybridized)
        outputs, (H, C) = model.rnn(bk.tensor(X))
        loss, grads = bk.loss_and_grads(model, tokens, targets)
        results.append(([bk.to_numpy(t) for t in (outputs, H, C)], loss, grads))
    (arrays, loss, grads), (arrays_eager, loss_eager, grads_eager) = results
    for a, b, name in zip(arrays, arrays_eager, ("outputs", "H", "C")):
        assert_close(a, b, *TOLERANCES["forward"], what=name)
    assert loss == pytest.approx(loss_eager, rel=TOLERANCES["loss"][1])
    for name in grads:
        scale = onp.abs(grads_eager[name]).max()
        assert_close(
            grads[name],
            grads_eager[name],
            TOLERANCES["grad"][0] + TOLERANCES["grad"][1] * scale,
            what=f"d loss / d {name}",
        )


@pytest.mark.parametrize("impl", ["scratch", "concise"])
def test_lstm_graph_is_traced_once_per_number_of_steps(impl):
    """Training, evaluation and generation, at several shapes, reuse the traced graphs: the
    native layer's one graph serves every shape; the scratch layer unrolls its loop, so it
    traces one graph per number of steps (shared by every batch size), each once."""
    model = build_model(bk, impl, 28, 8, lr=1.0)
    traced = []
    hybrid_forward = model.rnn.hybrid_forward

    def counting(F, *args, **kwargs):
        traced.append(F.__name__)
        return hybrid_forward(F, *args, **kwargs)

    model.rnn.hybrid_forward = counting
    for batch_size, num_steps in [(16, 9), (16, 9), (5, 3), (16, 9), (5, 9)]:
        tokens, targets = random_batch(28, batch_size, num_steps)
        bk.train_step(model, tokens, targets, 1.0, 1.0)
        bk.evaluate_loss(model, tokens, targets)
    vocab = TimeMachine(2, 4, 2, 1).vocab
    for _ in range(2):
        model.predict("time traveller", 5, vocab)  # the prefix's 14 steps, then one at a time
    assert traced == ["mxnet.symbol"] * (1 if impl == "concise" else len({9, 3, 14, 1}))


def test_d2l_baseline_computes_what_the_fused_cell_computes():
    """backends/mxnet/d2l.py (the benchmark baseline: eight matmuls a step, op by op)."""
    from lstm_multi.backends.mxnet.d2l import D2LLSTMScratch

    fused, d2l = bk.LSTMScratch(4, 6), D2LLSTMScratch(4, 6)
    params = {k: v * 40 for k, v in bk.get_params(fused).items()}
    bk.set_params(fused, params)
    bk.set_params(d2l, params)
    X = bk.tensor(onp.random.default_rng(0).standard_normal((5, 3, 4)))
    (outputs, (H, C)), (d2l_outputs, (d2l_H, d2l_C)) = fused(X), d2l(X)
    for a, b in ((outputs, d2l_outputs), (H, d2l_H), (C, d2l_C)):
        assert_close(bk.to_numpy(a), bk.to_numpy(b), atol=1e-6)


def test_scan_matches_a_python_loop():
    """layers.scan (contrib.foreach) runs step over axis 0, carrying the state."""
    from lstm_multi.backends.mxnet.layers import scan

    xs = np.array(onp.arange(12, dtype=onp.float32).reshape(4, 3))

    def step(x, state):
        total = state[0] + x
        return total * 2, [total]

    ys, (total,) = scan(mx.ndarray, step, xs, [np.zeros(3)])
    expected = 2 * onp.cumsum(onp.arange(12, dtype=onp.float32).reshape(4, 3), axis=0)
    onp.testing.assert_array_equal(ys.asnumpy(), expected)
    onp.testing.assert_array_equal(total.asnumpy(), expected[-1] / 2)


# --- gluon.rnn.LSTM: names, layout, initialisation, the frozen bias -------------------------------


def test_concise_native_parameters():
    """Gluon's names and shapes: gates stacked as rows, two biases (the second frozen at zero)."""
    lstm = bk.LSTM(3, 4)
    native = {name: p for name, p in named_parameters(lstm).items()}
    assert {name: p.shape for name, p in native.items()} == {
        "rnn.l0_i2h_weight": (16, 3),
        "rnn.l0_h2h_weight": (16, 4),
        "rnn.l0_i2h_bias": (16,),
        "rnn.l0_h2h_bias": (16,),
    }
    assert [name for name, p in native.items() if p.grad_req == "null"] == ["rnn.l0_h2h_bias"]
    assert not native["rnn.l0_h2h_bias"].data().asnumpy().any()


def test_concise_gate_order_is_i_f_g_o():
    """Only the third row block (g, d2l's C_tilde) gets a bias: C = I * tanh(b) with I = sigmoid(0)."""
    lstm = bk.LSTM(2, 3)
    zero = {name: onp.zeros(shape, onp.float32) for name, shape in lstm.canonical_shapes().items()}
    bk.set_params(lstm, {**zero, "b_c": onp.full(3, 0.5, onp.float32)})
    native = {name: p.data().asnumpy() for name, p in named_parameters(lstm).items()}
    onp.testing.assert_array_equal(native["rnn.l0_i2h_bias"], [0] * 6 + [0.5] * 3 + [0] * 3)
    _, (H, C) = lstm(bk.tensor(onp.ones((1, 1, 2))))
    assert_close(bk.to_numpy(C), onp.full((1, 3), 0.5 * onp.tanh(0.5)), atol=1e-7)
    assert_close(bk.to_numpy(H), 0.5 * onp.tanh(bk.to_numpy(C)), atol=1e-7)


def test_concise_state_is_h_then_c():
    """Our (H, C) is Gluon's [H, C] without the num_layers axis; H is the last output."""
    lstm = bk.LSTM(3, 4)
    outputs, (H, C) = lstm(bk.tensor(onp.random.default_rng(0).standard_normal((5, 2, 3))))
    assert H.shape == C.shape == (2, 4)
    onp.testing.assert_array_equal(bk.to_numpy(outputs)[-1], bk.to_numpy(H))
    assert not onp.allclose(bk.to_numpy(H), bk.to_numpy(C))


def test_frozen_bias_stays_zero_in_training():
    model = build_model(bk, "concise", 6, 5, lr=1.0)
    tokens, targets = random_batch(6, 4, 7)
    before = bk.get_params(model)
    for _ in range(3):
        bk.train_step(model, tokens, targets, 1.0, None)
    h2h_bias = named_parameters(model)["rnn.rnn.l0_h2h_bias"]
    assert not h2h_bias.data().asnumpy().any()
    assert not onp.array_equal(bk.get_params(model)["b_f"], before["b_f"])


@pytest.mark.parametrize("impl", ["scratch", "concise"])
def test_seeded_initialisation(impl):
    params = [bk.get_params(build_model(bk, impl, 7, 5, lr=1.0, seed=seed)) for seed in (0, 0, 1)]
    for name in params[0]:
        onp.testing.assert_array_equal(params[0][name], params[1][name], err_msg=name)
    assert not onp.array_equal(params[0]["W_xi"], params[2]["W_xi"])
    if impl == "scratch":  # d2l's initialisation, the same NumPy draw on every backend
        expected = init_params(7, 5, sigma=0.01, seed=0)
        for name, value in expected.items():
            onp.testing.assert_array_equal(params[0][name], value, err_msg=name)
    else:  # Gluon's default: weights uniform in +-0.07; biases zero (not the docstring's "lstmbias")
        weights = onp.concatenate([v.ravel() for k, v in params[0].items() if k.startswith("W_")])
        assert 0.05 < onp.abs(weights).max() <= 0.07
        assert not any(params[0][k].any() for k in ("b_i", "b_f", "b_o", "b_c", "b_q"))


def test_clip_none_is_plain_sgd():
    from lstm_multi.reference import lm_loss_and_grads

    model = build_model(bk, "scratch", 6, 5, lr=1.0)
    params = {k: v * 40 for k, v in bk.get_params(model).items()}
    bk.set_params(model, params)
    tokens, targets = random_batch(6, 4, 7)
    _, ref_grads = lm_loss_and_grads(params, tokens, targets)
    bk.train_step(model, tokens, targets, 0.5, None)
    new = bk.get_params(model)
    for name, value in params.items():
        assert_close(new[name], value - 0.5 * ref_grads[name], atol=1e-6, what=name)


def test_short_training_with_hybridized_and_eager_scratch_agree():
    """Two epochs, the loop compiled and not: the same history, bit for bit."""
    histories = []
    for hybridized in (True, False):
        data = TimeMachine(batch_size=64, num_steps=8, num_train=256, num_val=64, seed=0)
        model = build_model(bk, "scratch", len(data.vocab), 16, lr=4.0)
        model.rnn.hybridize(hybridized)
        histories.append(Trainer(max_epochs=2, gradient_clip_val=1.0).fit(model, data))
    for a, b in zip(*histories):
        assert (a.train_loss, a.val_loss) == (b.train_loss, b.val_loss)


# --- task models, Adam, traces ---------------------------------------------------------------


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_trace_runs_the_scratch_cells_own_step(cell):
    """trace loops over the step function the scratch layer's graph runs: op by op, its H is
    the layer's output. Up to float32 round-off: trace projects the inputs of all steps in one
    inner product, the layer one step at a time, and oneDNN may pick another kernel (another
    summation order) for each shape, depending on the CPU."""
    layer = {"lstm": bk.LSTMScratch, "gru": bk.GRUScratch, "rnn": bk.RNNScratch}[cell](3, 4)
    bk.set_params(layer, {k: v * 40 for k, v in bk.get_params(layer).items()})
    layer.hybridize(False)
    X = onp.random.default_rng(0).standard_normal((5, 2, 3)).astype(onp.float32)
    outputs, _ = layer(bk.tensor(X))
    assert_close(bk.trace(layer, X)["H"], bk.to_numpy(outputs), *TOLERANCES["forward"], what="H")


def test_adam_runs_in_mxnet_arrays_and_the_layer_graph_is_traced_once():
    """A classifier trained with Adam: the slots stay MXNet arrays on the model (the update is
    NDArray arithmetic, no NumPy round trip) and the hybridized layer is traced once."""
    from lstm_multi.core.optim import Adam

    model = bk.Classifier(bk.LSTM(5, 4), num_classes=3, head="mlp", mlp_hiddens=6)
    traced = []
    hybrid_forward = model.rnn.hybrid_forward

    def counting(F, *args, **kwargs):
        traced.append(F.__name__)
        return hybrid_forward(F, *args, **kwargs)

    model.rnn.hybrid_forward = counting
    rng = onp.random.default_rng(0)
    for batch_size, num_steps in [(8, 6), (3, 4), (8, 6)]:
        inputs, labels = rng.integers(0, 5, (batch_size, num_steps)), rng.integers(0, 3, batch_size)
        bk.train_step(model, inputs, labels, Adam(0.01), 1.0)
        bk.evaluate(model, inputs, labels)
    assert traced == ["mxnet.symbol"]
    state = model.__dict__["_optimizer_state"]
    assert state["name"] == "adam" and state["step"] == 3
    trained = [name for name, p in named_parameters(model).items() if p.grad_req != "null"]
    for slot in ("m", "v"):
        assert list(state["slots"][slot]) == trained
        assert all(isinstance(v, np.ndarray) for v in state["slots"][slot].values())
    bk.train_step(model, inputs, labels, 0.1, 1.0)  # a number is SGD: the state restarts
    assert model.__dict__["_optimizer_state"] == {"name": "sgd", "step": 1, "slots": {}}


def test_adam_keeps_the_partly_frozen_gru_bias_at_zero():
    """Gluon's GRU: the r and z blocks of h2h_bias are masked, so Adam's moments stay 0 there too."""
    from lstm_multi.core.optim import Adam

    model = build_model(bk, "concise", 6, 4, lr=0.01, model="gru")
    tokens, targets = random_batch(6, 3, 5)
    for _ in range(3):
        bk.train_step(model, tokens, targets, Adam(0.01), None)
    h2h_bias = named_parameters(model)["rnn.rnn.l0_h2h_bias"].data().asnumpy()
    assert not h2h_bias[:8].any() and h2h_bias[8:].any()  # blocks r, z frozen; n is b_hh
    slots = model.__dict__["_optimizer_state"]["slots"]
    assert not any(slots[slot]["rnn.rnn.l0_h2h_bias"].asnumpy()[:8].any() for slot in ("m", "v"))
    state = bk.get_optimizer_state(model)
    assert state["slots"]["v"]["b_hh"].any()


def test_cross_entropy_takes_the_fast_kernel_in_training_mode_only():
    from mxnet import autograd

    rng = onp.random.default_rng(0)
    logits, targets = bk.tensor(rng.standard_normal((4, 28)) * 3), bk.tensor(rng.integers(0, 28, 4))
    exact, fast = (bk.cross_entropy(logits, targets, fast=f).item() for f in (False, True))
    assert bk.cross_entropy(logits, targets).item() == exact
    with autograd.record(train_mode=True):
        assert bk.cross_entropy(logits, targets).item() == fast
    with autograd.record(train_mode=False):
        assert bk.cross_entropy(logits, targets).item() == exact
