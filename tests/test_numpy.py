"""The ``numpy`` backend: the NumPy reference behind the backend API (float64, exact).

Everything here should agree with ``lstm_multi.reference`` exactly (the backend runs the
reference itself), so comparisons are ``assert_array_equal`` unless a test says otherwise.
"""

import dataclasses
import math

import numpy as np
import pytest

from lstm_multi import get_backend
from lstm_multi.core.data import TimeMachine
from lstm_multi.core.family import LayerConfig, init_layer_params
from lstm_multi.core.lm import build_layer, build_model
from lstm_multi.core.params import ParameterError
from lstm_multi.core.trainer import Trainer, perplexity
from lstm_multi.reference import layer_forward, lm_loss_and_grads, sgd_train

bk = get_backend("numpy")

LAYERS = [
    dict(cell="lstm"),
    dict(cell="lstm", peephole="diagonal"),
    dict(cell="lstm", peephole="full", num_layers=2, bidirectional=True),
    dict(cell="lstm", num_layers=2, bidirectional=True, forget_bias=1.0),
    dict(cell="gru"),
    dict(cell="gru", reset_after=False, num_layers=2, bidirectional=True),
    dict(cell="gru", num_layers=2, bidirectional=True),
    dict(cell="rnn"),
    dict(cell="rnn", num_layers=2, bidirectional=True),
]


def layer_id(options):
    return "-".join(f"{k}={v}" for k, v in options.items())


def random_params(shapes, seed, scale=0.4):
    rng = np.random.default_rng(seed)
    return {k: (rng.standard_normal(s) * scale).astype(np.float32) for k, s in shapes.items()}


def random_state(config, B, seed):
    rng = np.random.default_rng(seed)
    parts = [rng.standard_normal(config.state_shape(B)) * 0.5 for _ in config.spec.state]
    return tuple(parts) if len(parts) > 1 else parts[0]


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.fixture(params=["scratch", "concise"])
def impl(request):
    return request.param


@pytest.fixture(params=LAYERS, ids=layer_id)
def config(request):
    return LayerConfig(num_inputs=3, num_hiddens=4, **request.param)


def test_the_backend_is_the_reference_by_name_and_by_environment(monkeypatch):
    assert bk.NAME == "numpy" and "oracle" in bk.__doc__
    monkeypatch.setenv("LSTM_MULTI_BACKEND", "numpy")
    assert get_backend() is bk
    for name in ("LSTM", "GRU", "RNN"):  # NumPy has no native layers: the reference ones
        assert issubclass(getattr(bk, name), getattr(bk, name + "Scratch"))
        assert "NumPy has no native" in getattr(bk, name).__doc__


def test_params_round_trip_in_canonical_names(impl, config):
    layer = build_layer(bk, impl, config)
    assert list(bk.get_params(layer)) == list(config.shapes())
    initial = init_layer_params(config)  # the scratch init of every backend, concise included
    for name, value in bk.get_params(layer).items():
        np.testing.assert_array_equal(value, initial[name], err_msg=name)
    params = random_params(config.shapes(), seed=5)
    bk.set_params(layer, params)
    assert all(v.dtype == np.float64 for v in layer.params.values())
    got = bk.get_params(layer)
    for name, value in params.items():
        assert got[name].dtype == np.float32
        np.testing.assert_array_equal(got[name], value, err_msg=name)
    assert layer.frozen() == {}
    lm_config = dataclasses.replace(config, bidirectional=False, num_inputs=5)
    lm_class = bk.RNNLMScratch if impl == "scratch" else bk.RNNLM
    model = lm_class(build_layer(bk, impl, lm_config), 5, embedding_dim=None)
    assert list(bk.get_params(model)) == list(model.canonical_shapes())
    params = random_params(model.canonical_shapes(), seed=6)
    bk.set_params(model, params)
    for name, value in bk.get_params(model).items():
        np.testing.assert_array_equal(value, params[name], err_msg=name)


def test_forward_is_the_reference(impl, config):
    layer = build_layer(bk, impl, config)
    params = random_params(config.shapes(), seed=1)
    bk.set_params(layer, params)
    X = np.random.default_rng(2).standard_normal((5, 2, 3)).astype(np.float32)
    for state in (None, random_state(config, 2, seed=3)):
        outputs, final = layer(bk.tensor(X), state)
        ref_outputs, ref_final, _ = layer_forward(config, params, X, state)
        assert outputs.dtype == np.float64 and outputs.shape == (5, 2, config.num_outputs)
        np.testing.assert_array_equal(outputs, ref_outputs)
        for got, ref in zip(as_tuple(final), as_tuple(ref_final)):
            np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("embedding_dim", [None, 3])
@pytest.mark.parametrize(
    "options",
    [
        dict(model="lstm", num_layers=2, peephole="full"),
        dict(model="gru", reset_after=False),
        dict(model="rnn", num_layers=3),
    ],
    ids=lambda o: layer_id(o),
)
def test_loss_and_grads_are_the_reference(impl, options, embedding_dim):
    vocab, B, T = 7, 3, 6
    model = build_model(bk, impl, vocab, 5, lr=1.0, embedding_dim=embedding_dim, **options)
    params = random_params(model.canonical_shapes(), seed=3)
    bk.set_params(model, params)
    rng = np.random.default_rng(4)
    tokens, targets = (rng.integers(0, vocab, (B, T)).astype(np.int32) for _ in range(2))
    loss, grads = bk.loss_and_grads(model, tokens, targets)
    ref_loss, ref_grads = lm_loss_and_grads(params, tokens, targets, config=model.config)
    assert isinstance(loss, float) and loss == ref_loss
    assert list(grads) == list(ref_grads) == list(model.canonical_shapes())
    for name, ref in ref_grads.items():
        np.testing.assert_array_equal(grads[name], ref, err_msg=name)
    assert bk.evaluate_loss(model, tokens, targets) == pytest.approx(ref_loss, rel=1e-14)
    logits = model(tokens)
    assert logits.shape == (B, T, vocab)
    assert bk.cross_entropy(logits, targets) == pytest.approx(ref_loss, rel=1e-14)


@pytest.mark.parametrize(
    "model_name,options", [("lstm", dict(num_layers=2)), ("gru", dict()), ("lstm", dict(peephole="diagonal"))]
)
def test_train_step_is_clipped_sgd(model_name, options):
    vocab, lr, clip = 6, 0.7, 0.05
    model = build_model(bk, "scratch", vocab, 5, lr=lr, model=model_name, **options)
    params = random_params(model.canonical_shapes(), seed=9)
    bk.set_params(model, params)
    rng = np.random.default_rng(2)
    batches = [(rng.integers(0, vocab, (4, 6)), rng.integers(0, vocab, (4, 6))) for _ in range(3)]
    # the first step by hand: p - lr * g * min(1, clip / ||g||)
    ref_loss, ref_grads = lm_loss_and_grads(params, *batches[0], config=model.config)
    norm = math.sqrt(sum(float((g**2).sum()) for g in ref_grads.values()))
    assert norm > clip  # clipping is exercised
    assert bk.train_step(model, *batches[0], lr, clip) == ref_loss
    for name, value in params.items():
        expected = value.astype(np.float64) - lr * ref_grads[name] * (clip / norm)
        np.testing.assert_allclose(model.reference_params()[name], expected, rtol=1e-13, atol=1e-15, err_msg=name)
    # two more steps: exactly the reference training loop
    losses = [bk.train_step(model, x, y, lr, clip) for x, y in batches[1:]]
    ref_losses, ref_params = sgd_train(params, batches, lr, clip, config=model.config)
    assert losses == list(ref_losses[1:])
    for name, value in ref_params.items():
        np.testing.assert_array_equal(model.reference_params()[name], value, err_msg=name)


def test_train_step_without_clipping():
    model = build_model(bk, "concise", 5, 4, lr=0.5, model="rnn")
    params = bk.get_params(model)
    tokens = np.array([[0, 1, 2, 3]])
    _, grads = bk.loss_and_grads(model, tokens, tokens)
    bk.train_step(model, tokens, tokens, 0.5, None)
    for name, value in bk.get_params(model).items():
        np.testing.assert_allclose(value, params[name] - 0.5 * grads[name], atol=1e-7, err_msg=name)


def test_short_training_lowers_perplexity_and_predicts(monkeypatch):
    monkeypatch.setenv("LSTM_MULTI_BACKEND", "numpy")
    data = TimeMachine(batch_size=64, num_steps=8, num_train=512, num_val=128)
    model = build_model(get_backend(), "scratch", len(data.vocab), 32, lr=4.0)
    assert model.ops is bk
    before = perplexity(np.mean([bk.evaluate_loss(model, X, Y) for X, Y in data.val_dataloader()]))
    history = Trainer(max_epochs=2, gradient_clip_val=1.0).fit(model, data)
    assert len(history) == 2
    assert history[-1].val_ppl < before and history[-1].train_ppl < history[0].train_ppl
    text = model.predict("time traveller", 10, data.vocab)
    assert text.startswith("time traveller") and len(text) == len("time traveller") + 10
    assert model.predict("time traveller", 10, data.vocab) == text  # greedy: deterministic
    sampled = [model.predict("time", 10, data.vocab, temperature=1.0, seed=7) for _ in range(2)]
    assert sampled[0] == sampled[1]


def test_predict_carries_the_state():
    """Reading a prefix at once or one character at a time gives the same logits."""
    model = build_model(bk, "scratch", 6, 4, lr=1.0, model="lstm", num_layers=2)
    bk.set_params(model, random_params(model.canonical_shapes(), seed=1))
    tokens = np.array([[1, 2, 3, 4]])
    logits, state = model.forward_with_state(bk.tensor(tokens))
    step_state = None
    for t in range(4):
        step_logits, step_state = model.forward_with_state(tokens[:, t : t + 1], step_state)
    np.testing.assert_allclose(step_logits[0, -1], logits[0, -1], rtol=1e-13)
    for got, ref in zip(step_state, state):
        np.testing.assert_allclose(got, ref, rtol=1e-13)


def test_dropout_acts_in_training_steps_only():
    vocab = 6
    model = build_model(bk, "scratch", vocab, 8, lr=1e-6, model="lstm", num_layers=2, dropout=0.5)
    params = random_params(model.canonical_shapes(), seed=11, scale=0.8)
    bk.set_params(model, params)
    rng = np.random.default_rng(3)
    tokens, targets = rng.integers(0, vocab, (4, 6)), rng.integers(0, vocab, (4, 6))
    ref_loss, ref_grads = lm_loss_and_grads(params, tokens, targets, config=model.config)
    loss, grads = bk.loss_and_grads(model, tokens, targets)  # evaluation: no dropout
    assert loss == ref_loss and bk.evaluate_loss(model, tokens, targets) == pytest.approx(ref_loss, rel=1e-14)
    train_losses = [bk.train_step(model, tokens, targets, 1e-6, None) for _ in range(3)]
    assert all(abs(t - ref_loss) > 1e-4 for t in train_losses)  # dropped units change the loss
    assert len(set(train_losses)) == 3  # a new mask every step
    assert bk.evaluate_loss(model, tokens, targets) == pytest.approx(ref_loss, rel=1e-4)
    # seeded: the same seed gives the same masks
    again = build_model(bk, "scratch", vocab, 8, lr=1e-6, model="lstm", num_layers=2, dropout=0.5)
    bk.set_params(again, params)
    assert [bk.train_step(again, tokens, targets, 1e-6, None) for _ in range(3)] == train_losses


def test_d2l_baseline_is_the_same_function():
    from lstm_multi.backends.numpy.d2l import D2LLSTMScratch

    layer = D2LLSTMScratch(3, 4)
    params = random_params(layer.config.shapes(), seed=1)
    bk.set_params(layer, params)
    X = np.random.default_rng(2).standard_normal((5, 2, 3))
    outputs, (H, C) = layer(X)
    ref_outputs, (ref_H, ref_C), _ = layer_forward(layer.config, params, X)
    for got, ref in ((outputs, ref_outputs), (H, ref_H), (C, ref_C)):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-15)


def test_bidirectional_layer_cannot_drive_a_language_model(impl):
    layer = build_layer(bk, impl, LayerConfig("lstm", 5, 4, bidirectional=True))
    cls = bk.RNNLMScratch if impl == "scratch" else bk.RNNLM
    with pytest.raises(ValueError, match="A bidirectional LSTM cannot drive a next-character language"):
        cls(layer, 5)
    with pytest.raises(ValueError, match="num_inputs=7"):
        cls(bk.GRU(5, 4), 7)


def test_bad_shapes_are_clear_errors():
    layer = bk.GRUScratch(3, 4, num_layers=2)
    with pytest.raises(ValueError) as err:
        layer(np.zeros((2, 5, 3)), np.zeros((5, 4)))
    assert str(err.value) == "GRU state must be H of shape (2, 5, 4), got (5, 4)."
    with pytest.raises(ValueError) as err:
        bk.RNN(3, 4)(np.zeros((2, 5, 7)))
    assert str(err.value) == (
        "RNN input must have shape (num_steps, batch_size, 3) (time-major, num_inputs=3), got (2, 5, 7)."
    )
    with pytest.raises(ValueError, match=r"LSTM state must be a pair \(H, C\)"):
        bk.LSTM(3, 4)(np.zeros((2, 5, 3)), np.zeros((5, 4)))
    with pytest.raises(ParameterError, match="missing W_xi.*unexpected W_xh"):
        bk.set_params(bk.LSTMScratch(3, 4), bk.get_params(bk.RNNScratch(3, 4)))
    with pytest.raises(ParameterError, match=r"W_xi has shape \(3, 5\), expected \(3, 4\)"):
        bk.set_params(bk.LSTMScratch(3, 4), bk.get_params(bk.LSTMScratch(3, 5)))
    model = bk.RNNLMScratch(bk.LSTMScratch(5, 4), 5)
    with pytest.raises(ValueError, match=r"tokens must lie in \[0, 5\)"):
        model(np.array([[0, 5]]))
    with pytest.raises(ValueError, match=r"tokens must have shape \(batch_size, num_steps\)"):
        bk.train_step(model, np.array([0, 1]), np.array([0, 1]), 1.0, 1.0)
    with pytest.raises(ValueError, match="targets must have the shape of tokens"):
        bk.loss_and_grads(model, np.zeros((2, 3), int), np.zeros((2, 4), int))
    with pytest.raises(ValueError, match="dropout must be a number in"):
        bk.LSTMScratch(3, 4, dropout=1.5)


def test_tensor_and_to_numpy():
    assert bk.tensor(np.zeros(3, np.float32)).dtype == np.float64
    assert bk.tensor(np.zeros(3, np.int32)).dtype == np.int64
    a = np.ones(2)
    b = bk.to_numpy(a)
    b[0] = 5
    assert a[0] == 1  # a copy
