"""The model family's parity contract: every cell, stacked and bidirectional, scratch and
native, on every installed backend, against the NumPy reference (float64).

Tolerances (float32 round-off over a few steps and up to three layers):
  outputs and final states:  atol 2e-6
  loss:                      rel 2e-6
  gradients:                 atol 2e-6 * max|reference gradient| + 1e-8, rtol 2e-5
"""

import numpy as np
import pytest
from conftest import assert_close

from lstm_multi.core.family import LayerConfig, init_layer_params
from lstm_multi.core.lm import build_layer, build_model
from lstm_multi.reference import layer_forward, lm_loss_and_grads

LAYERS = [  # (cell and options); num_inputs and num_hiddens come from the test
    dict(cell="lstm", num_layers=2),
    dict(cell="lstm", num_layers=3, bidirectional=True),
    dict(cell="lstm", peephole="diagonal"),
    dict(cell="lstm", peephole="full", num_layers=2, bidirectional=True),
    dict(cell="lstm", forget_bias=1.0),
    dict(cell="gru"),
    dict(cell="gru", num_layers=2, bidirectional=True),
    dict(cell="gru", reset_after=False),
    dict(cell="gru", reset_after=False, num_layers=2),
    dict(cell="rnn"),
    dict(cell="rnn", num_layers=3, bidirectional=True),
]

#: What a framework's native layer lacks (a clear ValueError, tested below).
NATIVE_LACKS = {
    "peephole": {"torch", "tensorflow", "jax", "mxnet"},
    "reset_before": {"torch", "jax", "mxnet"},
}


def layer_id(options):
    return "-".join(f"{k}={v}" for k, v in options.items() if k != "cell") or "plain"


def lacks(bk, impl, config):
    if impl == "scratch":
        return None
    if config.peephole and bk.NAME in NATIVE_LACKS["peephole"]:
        return "peephole"
    if config.cell == "gru" and not config.reset_after and bk.NAME in NATIVE_LACKS["reset_before"]:
        return "reset_before"
    return None


def canonical_random(config, seed, scale=0.4, vocab=None, embedding_dim=None):
    rng = np.random.default_rng(seed)
    shapes = {k: v.shape for k, v in init_layer_params(config).items()}
    if vocab is not None:
        shapes = (
            ({"W_e": (vocab, embedding_dim)} if embedding_dim else {})
            | shapes
            | {"W_hq": (config.num_hiddens, vocab), "b_q": (vocab,)}
        )
    return {k: (rng.standard_normal(s) * scale).astype(np.float32) for k, s in shapes.items()}


def api_state(config, parts):
    return tuple(parts) if len(config.spec.state) > 1 else parts[0]


def as_tuple(config, state):
    return tuple(state) if len(config.spec.state) > 1 else (state,)


@pytest.fixture(params=LAYERS, ids=layer_id)
def options(request):
    return dict(request.param)


def test_layer_forward_matches_reference(bk, impl, options):
    T, B, d, h = 5, 3, 4, 6
    config = LayerConfig(num_inputs=d, num_hiddens=h, **options)
    if lacks(bk, impl, config):
        pytest.skip(f"{bk.NAME}'s native layer has no {lacks(bk, impl, config)} (tested below)")
    layer = build_layer(bk, impl, config)
    params = canonical_random(config, seed=1)
    bk.set_params(layer, params)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((T, B, d)).astype(np.float32)
    parts = [(rng.standard_normal(config.state_shape(B)) * 0.5).astype(np.float32) for _ in config.spec.state]
    for state in (None, parts):
        given = None if state is None else api_state(config, [bk.tensor(s) for s in state])
        outputs, final = layer(bk.tensor(X), given)
        ref_outputs, ref_final, _ = layer_forward(
            config, params, X, None if state is None else api_state(config, state)
        )
        assert_close(bk.to_numpy(outputs), ref_outputs, atol=2e-6, what="outputs")
        for name, got, ref in zip(config.spec.state, as_tuple(config, final), as_tuple(config, ref_final)):
            assert_close(bk.to_numpy(got), ref, atol=2e-6, what=f"final {name}")


def test_params_round_trip(bk, impl, options):
    config = LayerConfig(num_inputs=3, num_hiddens=4, **options)
    if lacks(bk, impl, config):
        pytest.skip("native layer lacks this option")
    layer = build_layer(bk, impl, config)
    assert list(bk.get_params(layer)) == list(config.shapes())
    params = canonical_random(config, seed=5)
    bk.set_params(layer, params)
    got = bk.get_params(layer)
    for name, value in params.items():
        assert got[name].dtype == np.float32
        np.testing.assert_array_equal(got[name], value, err_msg=name)


@pytest.mark.parametrize("embedding_dim", [None, 3])
def test_lm_loss_and_gradients_match_reference(bk, impl, options, embedding_dim):
    if options.get("bidirectional"):
        options["bidirectional"] = False  # an LM runs forward only (tested below)
    if _native_lacks(bk, impl, options):
        pytest.skip("native layer lacks this option")
    vocab, h, B, T = 7, 5, 3, 6
    model = build_model(bk, impl, vocab, h, lr=1.0, model=options.pop("cell"), embedding_dim=embedding_dim, **options)
    config = model.rnn.config
    params = canonical_random(config, seed=3, vocab=vocab, embedding_dim=embedding_dim)
    bk.set_params(model, params)
    rng = np.random.default_rng(4)
    tokens, targets = (rng.integers(0, vocab, (B, T)).astype(np.int32) for _ in range(2))
    loss, grads = bk.loss_and_grads(model, tokens, targets)
    ref_loss, ref_grads = lm_loss_and_grads(params, tokens, targets, config=config)
    assert isinstance(loss, float)
    assert loss == pytest.approx(ref_loss, rel=2e-6)
    assert list(grads) == list(ref_grads)
    for name, ref in ref_grads.items():
        assert_close(
            grads[name], ref, atol=2e-6 * max(np.abs(ref).max(), 1e-3) + 1e-8, rtol=2e-5, what=f"d loss / d {name}"
        )


def _native_lacks(bk, impl, options):
    if impl == "scratch":
        return False
    cell = options.get("cell", "lstm")
    return bool(
        (options.get("peephole") and bk.NAME in NATIVE_LACKS["peephole"])
        or (cell == "gru" and options.get("reset_after") is False and bk.NAME in NATIVE_LACKS["reset_before"])
    )


@pytest.mark.parametrize(
    "model_name,options",
    [
        ("lstm", dict(num_layers=2)),
        ("gru", dict()),
        ("rnn", dict(num_layers=2)),
        ("lstm", dict(peephole="full")),
    ],
)
def test_train_step_is_clipped_sgd(bk, impl, model_name, options):
    """One step equals the reference update p - lr * g * min(1, clip / ||g||), frozen entries included."""
    if _native_lacks(bk, impl, dict(options, cell=model_name)):
        pytest.skip("native layer lacks this option")
    vocab, h, lr, clip = 6, 5, 0.7, 0.05
    model = build_model(bk, impl, vocab, h, lr=lr, model=model_name, **options)
    config = model.rnn.config
    params = canonical_random(config, seed=9, vocab=vocab)
    bk.set_params(model, params)
    rng = np.random.default_rng(2)
    tokens, targets = rng.integers(0, vocab, (4, 6)), rng.integers(0, vocab, (4, 6))
    ref_loss, ref_grads = lm_loss_and_grads(params, tokens, targets, config=config)
    norm = np.sqrt(sum((g**2).sum() for g in ref_grads.values()))
    assert norm > clip  # so clipping is exercised
    for _ in range(2):  # a second step: frozen duplicate biases must still be zero
        loss = bk.train_step(model, tokens, targets, lr, clip)
        if _ == 0:
            assert loss == pytest.approx(ref_loss, rel=2e-6)
            new = bk.get_params(model)
            for name, value in params.items():
                assert_close(new[name], value - lr * ref_grads[name] * (clip / norm), atol=1e-6, what=name)
        params = new
    ref_loss, ref_grads = lm_loss_and_grads(new, tokens, targets, config=config)
    norm = np.sqrt(sum((g**2).sum() for g in ref_grads.values()))
    newer = bk.get_params(model)
    for name, value in new.items():
        assert_close(newer[name], value - lr * ref_grads[name] * min(1, clip / norm), atol=2e-6, what=name)


def test_native_layers_say_what_they_lack(bk):
    if bk.NAME in NATIVE_LACKS["peephole"]:
        with pytest.raises(ValueError, match="LSTMScratch"):
            bk.LSTM(3, 4, peephole="full")
    if bk.NAME in NATIVE_LACKS["reset_before"]:
        with pytest.raises(ValueError, match="GRUScratch"):
            bk.GRU(3, 4, reset_after=False)


def test_bidirectional_layer_cannot_drive_a_language_model(bk, impl):
    cls = bk.RNNLMScratch if impl == "scratch" else bk.RNNLM
    layer = build_layer(bk, impl, LayerConfig("gru", 5, 4, bidirectional=True))
    with pytest.raises(ValueError) as err:
        cls(layer, 5)
    assert str(err.value) == (
        "A bidirectional GRU cannot drive a next-character language model: its "
        "reverse direction reads the characters it should predict. "
        "Use bidirectional=False."
    )


def test_state_shapes_are_clear_errors(bk, impl):
    layer = build_layer(bk, impl, LayerConfig("gru", 3, 4, num_layers=2))
    X = bk.tensor(np.zeros((2, 5, 3), np.float32))
    with pytest.raises(ValueError) as err:
        layer(X, bk.tensor(np.zeros((5, 4), np.float32)))
    assert str(err.value) == "GRU state must be H of shape (2, 5, 4), got (5, 4)."
    layer = build_layer(bk, impl, LayerConfig("rnn", 3, 4))
    with pytest.raises(ValueError) as err:
        layer(bk.tensor(np.zeros((2, 5, 7), np.float32)))
    assert str(err.value) == (
        "RNN input must have shape (num_steps, batch_size, 3) (time-major, num_inputs=3), got (2, 5, 7)."
    )


def test_dropout_acts_in_training_only(bk, impl):
    vocab, h = 6, 8
    model = build_model(bk, impl, vocab, h, lr=1e-6, model="lstm", num_layers=2, dropout=0.5)
    config = model.rnn.config
    params = canonical_random(config, seed=11, vocab=vocab, scale=0.8)
    bk.set_params(model, params)
    rng = np.random.default_rng(3)
    tokens, targets = rng.integers(0, vocab, (4, 6)), rng.integers(0, vocab, (4, 6))
    ref_loss, _ = lm_loss_and_grads(params, tokens, targets, config=config)
    loss, _ = bk.loss_and_grads(model, tokens, targets)  # evaluation: no dropout
    assert loss == pytest.approx(ref_loss, rel=2e-6)
    assert bk.evaluate_loss(model, tokens, targets) == pytest.approx(ref_loss, rel=2e-6)
    train_losses = [bk.train_step(model, tokens, targets, 1e-6, None) for _ in range(3)]
    assert all(abs(t - ref_loss) > 1e-4 for t in train_losses)  # dropped units change the loss
    assert len(set(train_losses)) == 3  # a new mask every step
    assert bk.evaluate_loss(model, tokens, targets) == pytest.approx(ref_loss, rel=1e-4)
