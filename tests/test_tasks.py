"""Teaching tasks, Adam and gate traces on every installed backend, against the NumPy reference.

Tolerances as in test_family.py (float32 round-off); Adam's trajectory over a few steps
within 1e-5 relative in the loss and 2e-5 absolute in the parameters (its update divides
by sqrt(v), which magnifies round-off in the smallest gradients a little).
"""

import numpy as np
import pytest
from conftest import assert_close

from lstm_multi.core.family import LayerConfig
from lstm_multi.core.lm import build_layer, build_model
from lstm_multi.core.optim import SGD, Adam
from lstm_multi.core.tasks import Parentheses, TimeSeries
from lstm_multi.core.trainer import Trainer
from lstm_multi.reference import task_forward, task_loss_and_grads, train
from lstm_multi.reference.layer import trace as reference_trace

LAYERS = [
    dict(cell="lstm"),
    dict(cell="lstm", num_layers=2, bidirectional=True),
    dict(cell="lstm", peephole="full"),
    dict(cell="gru"),
    dict(cell="gru", reset_after=False),
    dict(cell="rnn", num_layers=2),
]
NATIVE_LACKS = {"peephole": {"torch", "tensorflow", "jax", "mxnet"}, "reset_before": {"torch", "jax", "mxnet"}}


def layer_id(options):
    return "-".join(f"{k}={v}" for k, v in options.items())


def native_lacks(bk, impl, config):
    return impl == "concise" and bool(
        (config.peephole and bk.NAME in NATIVE_LACKS["peephole"])
        or (config.cell == "gru" and not config.reset_after and bk.NAME in NATIVE_LACKS["reset_before"])
    )


def make_layer(bk, impl, options, d, h):
    config = LayerConfig(num_inputs=d, num_hiddens=h, **options)
    if native_lacks(bk, impl, config):
        pytest.skip(f"{bk.NAME}'s native layer lacks an option of {layer_id(options)}")
    return config, build_layer(bk, impl, config)


def random_canonical(model, seed, scale=0.4):
    rng = np.random.default_rng(seed)
    return {k: (rng.standard_normal(s) * scale).astype(np.float32) for k, s in model.canonical_shapes().items()}


@pytest.mark.parametrize("options", LAYERS, ids=layer_id)
@pytest.mark.parametrize("head", ["linear", "mlp"])
def test_classifier_matches_reference(bk, impl, options, head):
    B, T, d, h = 4, 5, 6, 3
    config, layer = make_layer(bk, impl, options, d, h)
    model = bk.Classifier(layer, num_classes=2, head=head, mlp_hiddens=5)
    assert list(model.canonical_shapes()) == list(config.shapes()) + (["W_mlp", "b_mlp"] if head == "mlp" else []) + [
        "W_out",
        "b_out",
    ]
    params = random_canonical(model, seed=1)
    bk.set_params(model, params)
    rng = np.random.default_rng(2)
    inputs, labels = rng.integers(0, d, (B, T)), rng.integers(0, 2, B)
    for given in ((inputs, labels), (bk.tensor(inputs), bk.tensor(labels))):  # NumPy or the backend's own
        loss, grads = bk.loss_and_grads(model, *given)
        ref_loss, ref_grads = task_loss_and_grads(config, params, inputs, labels, "classification")
        assert loss == pytest.approx(ref_loss, rel=2e-6)
        assert list(grads) == list(ref_grads)
        for name, ref in ref_grads.items():
            assert_close(
                grads[name], ref, atol=2e-6 * max(np.abs(ref).max(), 1e-3) + 1e-8, rtol=2e-5, what=f"d loss / d {name}"
            )
    loss, logits = bk.evaluate(model, inputs, labels)
    assert isinstance(logits, np.ndarray) and logits.shape == (B, 2)
    assert_close(logits, task_forward(config, params, inputs)[0], atol=2e-6, what="logits")
    assert loss == pytest.approx(ref_loss, rel=2e-6)


@pytest.mark.parametrize("options", [dict(cell="lstm"), dict(cell="gru", num_layers=2)], ids=layer_id)
def test_regressor_matches_reference(bk, impl, options):
    B, T, h = 4, 6, 3
    config, layer = make_layer(bk, impl, options, 1, h)
    model = bk.Regressor(layer)
    params = random_canonical(model, seed=3)
    bk.set_params(model, params)
    rng = np.random.default_rng(4)
    inputs, targets = rng.standard_normal((B, T)).astype(np.float32), rng.standard_normal(B).astype(np.float32)
    loss, grads = bk.loss_and_grads(model, inputs, targets)
    ref_loss, ref_grads = task_loss_and_grads(config, params, inputs, targets, "regression")
    assert loss == pytest.approx(ref_loss, rel=2e-6)
    for name, ref in ref_grads.items():
        assert_close(
            grads[name], ref, atol=2e-6 * max(np.abs(ref).max(), 1e-3) + 1e-8, rtol=2e-5, what=f"d loss / d {name}"
        )
    loss, predictions = bk.evaluate(model, inputs, targets)
    assert predictions.shape == (B, 1)
    assert_close(predictions, task_forward(config, params, inputs)[0], atol=2e-6, what="predictions")


def test_task_inputs_are_checked(bk):
    model = bk.Classifier(bk.LSTMScratch(6, 3), num_classes=2)
    with pytest.raises(ValueError, match=r"inputs must lie in \[0, 6\) \(the one-hot size\), got values from 0 to 9"):
        bk.loss_and_grads(model, np.array([[0, 9]]), np.array([1]))
    with pytest.raises(ValueError, match=r"labels must be 1 integers in \[0, 2\)"):
        bk.loss_and_grads(model, np.array([[0, 1]]), np.array([2]))
    with pytest.raises(ValueError, match="Unknown head 'deep'. Valid: linear, mlp."):
        bk.Classifier(bk.LSTMScratch(6, 3), num_classes=2, head="deep")


@pytest.mark.parametrize("optimizer", [SGD(0.5), Adam(0.01)], ids=["sgd", "adam"])
def test_optimizer_trajectory_matches_reference(bk, impl, optimizer):
    """A few clipped steps from the same parameters: the same losses and parameters as the reference."""
    vocab, h, B, T, steps = 7, 5, 3, 6, 4
    model = build_model(bk, impl, vocab, h, lr=optimizer.lr)
    params = random_canonical(model, seed=5)
    bk.set_params(model, params)
    rng = np.random.default_rng(6)
    batches = [tuple(rng.integers(0, vocab, (B, T)) for _ in range(2)) for _ in range(steps)]
    losses = [bk.train_step(model, tokens, targets, optimizer, 1.0) for tokens, targets in batches]
    ref_losses, ref_params = train(params, batches, optimizer, 1.0)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5)
    for name, ref in ref_params.items():
        assert_close(bk.get_params(model)[name], ref, atol=2e-5, what=name)


def test_adam_state_resumes_exactly(bk, impl):
    """Optimizer state (canonical, as a checkpoint stores it) carries a run over to a new model."""
    vocab, h = 6, 4
    rng = np.random.default_rng(7)
    batches = [tuple(rng.integers(0, vocab, (2, 5)) for _ in range(2)) for _ in range(3)]
    adam = Adam(0.01)
    first = build_model(bk, impl, vocab, h, lr=adam.lr)
    assert bk.get_optimizer_state(first) is None  # no step yet
    for tokens, targets in batches[:2]:
        bk.train_step(first, tokens, targets, adam, 1.0)
    state = bk.get_optimizer_state(first)
    assert state["name"] == "adam" and state["step"] == 2
    assert list(state["slots"]) == ["m", "v"]
    assert list(state["slots"]["m"]) == list(first.canonical_shapes())
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float32 for v in state["slots"]["v"].values())
    second = build_model(bk, impl, vocab, h, lr=adam.lr, seed=9)
    bk.set_params(second, bk.get_params(first))
    bk.set_optimizer_state(second, state)
    for model in (first, second):
        bk.train_step(model, *batches[2], adam, 1.0)
    for name, value in bk.get_params(first).items():
        assert_close(bk.get_params(second)[name], value, atol=1e-7, what=name)
    with pytest.raises(ValueError, match="optimizer state for"):
        bk.set_optimizer_state(build_model(bk, impl, vocab, h + 1, lr=adam.lr), state)


@pytest.mark.parametrize("options", LAYERS, ids=layer_id)
def test_trace_matches_reference(bk, impl, options):
    T, B, d, h = 5, 2, 3, 4
    config, layer = make_layer(bk, impl, options, d, h)
    params = random_canonical(layer, seed=8)
    bk.set_params(layer, params)
    X = np.random.default_rng(9).standard_normal((T, B, d)).astype(np.float32)
    got = bk.trace(layer, X)
    ref = reference_trace(config, params, X)
    assert list(got) == list(ref)
    for name, value in ref.items():
        assert isinstance(got[name], np.ndarray)
        assert_close(got[name], value, atol=2e-6, what=name)


def test_parentheses_trains(bk):
    """A few epochs on small data: the loss falls and validation accuracy is recorded."""
    data = Parentheses(batch_size=32, length=8, num_train=256, num_val=64, seed=0)
    model = bk.Classifier(bk.LSTMScratch(data.vocab_size, 8), num_classes=2, lr=0.01, optimizer="adam")
    trainer = Trainer(max_epochs=3, gradient_clip_val=1.0)
    history = trainer.fit(model, data)
    assert history[-1].train_loss < history[0].train_loss
    assert 0.0 <= history[-1].metrics["val_accuracy"] <= 1.0


def test_timeseries_trains(bk):
    data = TimeSeries(batch_size=16, tau=4, T=300, num_train=200, seed=0)
    model = bk.Regressor(bk.GRU(1, 8) if bk.NAME != "numpy" else bk.GRUScratch(1, 8), lr=0.01, optimizer="adam")
    history = Trainer(max_epochs=3, gradient_clip_val=1.0).fit(model, data)
    assert history[-1].val_loss < history[0].val_loss
    assert history[-1].metrics["val_mse"] == pytest.approx(history[-1].val_loss, rel=1e-5)
