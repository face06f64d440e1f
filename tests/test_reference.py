"""The NumPy reference's hand-written BPTT against central finite differences (float64)."""

import numpy as np
import pytest

from lstm_multi.core.params import init_params, lstm_shapes
from lstm_multi.reference import lm_forward, lm_loss_and_grads, lstm_backward, lstm_forward


def random_params(d, h, vocab=None, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    shapes = init_params(d, h, vocab)
    return {k: rng.standard_normal(v.shape) * scale for k, v in shapes.items()}


def numerical_grad(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        plus = f()
        x[idx] = old - eps
        minus = f()
        x[idx] = old
        grad[idx] = (plus - minus) / (2 * eps)
    return grad


@pytest.mark.parametrize("B,T", [(3, 4), (1, 1), (2, 6)])
def test_lm_gradients_match_finite_differences(B, T):
    V, h = 5, 4
    params = random_params(V, h, V, seed=B * 10 + T)
    rng = np.random.default_rng(1)
    tokens, targets = rng.integers(0, V, (B, T)), rng.integers(0, V, (B, T))
    loss, grads = lm_loss_and_grads(params, tokens, targets)
    assert set(grads) == set(params)
    for name, value in params.items():
        numeric = numerical_grad(lambda: lm_loss_and_grads(params, tokens, targets)[0], value)
        np.testing.assert_allclose(grads[name], numeric, atol=1e-8, rtol=1e-6, err_msg=name)


def test_lstm_backward_with_state_and_input_gradients():
    d, h, T, B = 3, 4, 5, 2
    params = random_params(d, h, seed=3)
    rng = np.random.default_rng(4)
    X = rng.standard_normal((T, B, d))
    H0, C0 = rng.standard_normal((B, h)), rng.standard_normal((B, h))
    R, RH, RC = rng.standard_normal((T, B, h)), rng.standard_normal((B, h)), rng.standard_normal((B, h))

    def objective():  # a scalar touching outputs and both final states
        outputs, (H, C), _ = lstm_forward(params, X, (H0, C0))
        return np.sum(outputs * R) + np.sum(H * RH) + np.sum(C * RC)

    _, _, cache = lstm_forward(params, X, (H0, C0))
    grads, dX, (dH0, dC0) = lstm_backward(cache, R, (RH, RC))
    assert list(grads) == list(lstm_shapes(d, h))
    for name, value in params.items():
        np.testing.assert_allclose(grads[name], numerical_grad(objective, value), atol=1e-8, rtol=1e-6, err_msg=name)
    for name, grad, value in (("X", dX, X), ("H0", dH0, H0), ("C0", dC0, C0)):
        np.testing.assert_allclose(grad, numerical_grad(objective, value), atol=1e-8, rtol=1e-6, err_msg=name)


def test_forward_carries_state_across_calls():
    V, h = 6, 3
    params = random_params(V, h, V, seed=5)
    tokens = np.random.default_rng(6).integers(0, V, (2, 7))
    whole, state, _ = lm_forward(params, tokens)
    first, mid, _ = lm_forward(params, tokens[:, :3])
    second, state2, _ = lm_forward(params, tokens[:, 3:], mid)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, atol=1e-12)
    np.testing.assert_allclose(state2[0], state[0], atol=1e-12)
    np.testing.assert_allclose(state2[1], state[1], atol=1e-12)


def test_loss_of_uniform_model_is_log_vocab():
    V, h = 7, 2
    params = {k: np.zeros_like(v) for k, v in random_params(V, h, V).items()}
    tokens = np.zeros((2, 3), dtype=int)
    loss, _ = lm_loss_and_grads(params, tokens, tokens)
    assert loss == pytest.approx(np.log(V), abs=1e-12)


FAMILY = [  # every cell, both peephole forms, both GRU forms, stacked and bidirectional
    dict(cell="lstm"),
    dict(cell="lstm", peephole="diagonal"),
    dict(cell="lstm", peephole="full", num_layers=2),
    dict(cell="lstm", num_layers=2, bidirectional=True),
    dict(cell="gru"),
    dict(cell="gru", reset_after=False),
    dict(cell="gru", num_layers=3, bidirectional=True),
    dict(cell="gru", reset_after=False, bidirectional=True),
    dict(cell="rnn"),
    dict(cell="rnn", num_layers=2, bidirectional=True),
]


def family_id(options):
    return "-".join(f"{k}={v}" for k, v in options.items())


@pytest.mark.parametrize("options", FAMILY, ids=family_id)
def test_family_layer_backward_matches_finite_differences(options):
    from lstm_multi.core.family import LayerConfig, init_layer_params
    from lstm_multi.reference import layer_backward, layer_forward

    config = LayerConfig(num_inputs=3, num_hiddens=2, **options)
    rng = np.random.default_rng(7)
    params = {k: rng.standard_normal(v.shape) * 0.6 for k, v in init_layer_params(config).items()}
    T, B = 4, 2
    X = rng.standard_normal((T, B, 3))
    shape = config.state_shape(B)
    n_state = len(config.spec.state)
    state = tuple(rng.standard_normal(shape) * 0.5 for _ in range(n_state))
    R = rng.standard_normal((T, B, config.num_outputs))
    R_state = tuple(rng.standard_normal(shape) for _ in range(n_state))
    api = (lambda s: s) if n_state > 1 else (lambda s: s[0])

    def objective():
        outputs, final, _ = layer_forward(config, params, X, api(state))
        final = final if n_state > 1 else (final,)
        return np.sum(outputs * R) + sum(np.sum(f * r) for f, r in zip(final, R_state))

    _, _, cache = layer_forward(config, params, X, api(state))
    grads, dX, d_state = layer_backward(cache, R, api(R_state))
    assert list(grads) == list(config.shapes())
    for name, value in params.items():
        np.testing.assert_allclose(grads[name], numerical_grad(objective, value), atol=1e-8, rtol=1e-6, err_msg=name)
    np.testing.assert_allclose(dX, numerical_grad(objective, X), atol=1e-8, rtol=1e-6, err_msg="X")
    d_state = d_state if n_state > 1 else (d_state,)
    for i, (grad, value) in enumerate(zip(d_state, state)):
        np.testing.assert_allclose(grad, numerical_grad(objective, value), atol=1e-8, rtol=1e-6, err_msg=f"state {i}")


@pytest.mark.parametrize("options", [dict(cell="gru", num_layers=2), dict(cell="lstm", peephole="full")], ids=family_id)
def test_family_lm_with_embedding_matches_finite_differences(options):
    from lstm_multi.core.family import LayerConfig, init_layer_params

    V, e, h = 5, 3, 2
    config = LayerConfig(num_inputs=e, num_hiddens=h, **options)
    rng = np.random.default_rng(8)
    shapes = {"W_e": (V, e), **{k: v.shape for k, v in init_layer_params(config).items()}, "W_hq": (h, V), "b_q": (V,)}
    params = {k: rng.standard_normal(s) * 0.6 for k, s in shapes.items()}
    tokens, targets = rng.integers(0, V, (2, 4)), rng.integers(0, V, (2, 4))
    _, grads = lm_loss_and_grads(params, tokens, targets, config=config)
    assert list(grads) == list(shapes)
    for name, value in params.items():
        numeric = numerical_grad(lambda: lm_loss_and_grads(params, tokens, targets, config=config)[0], value)
        np.testing.assert_allclose(grads[name], numeric, atol=1e-8, rtol=1e-6, err_msg=name)


def test_reverse_direction_reads_the_reversed_sequence():
    """A bidirectional layer's reverse half equals a forward layer run on X[::-1], flipped back."""
    from lstm_multi.core.family import LayerConfig, init_layer_params
    from lstm_multi.reference import layer_forward

    bi = LayerConfig("gru", 3, 2, bidirectional=True)
    params = init_layer_params(bi, sigma=0.5, seed=1)
    X = np.random.default_rng(2).standard_normal((5, 2, 3))
    outputs, H, _ = layer_forward(bi, params, X)
    one = LayerConfig("gru", 3, 2)
    rev = {k[len("l0.rev.") :]: v for k, v in params.items() if k.startswith("l0.rev.")}
    rev_out, rev_H, _ = layer_forward(one, rev, X[::-1])
    np.testing.assert_allclose(outputs[:, :, 2:], rev_out[::-1], atol=1e-12)
    np.testing.assert_allclose(H[1], rev_H, atol=1e-12)


@pytest.mark.parametrize(
    "kind,options,head",
    [
        ("classification", dict(cell="lstm"), "linear"),
        ("classification", dict(cell="gru", bidirectional=True), "mlp"),
        ("regression", dict(cell="rnn", num_layers=2), "linear"),
    ],
)
def test_task_heads_match_finite_differences(kind, options, head):
    from lstm_multi.core.family import LayerConfig, init_layer_params
    from lstm_multi.reference.heads import task_loss_and_grads

    rng = np.random.default_rng(9)
    d = 5 if kind == "classification" else 1
    config = LayerConfig(num_inputs=d, num_hiddens=3, **options)
    F = config.num_outputs
    shapes = {k: v.shape for k, v in init_layer_params(config).items()}
    out = 2 if kind == "classification" else 1
    shapes.update({"W_mlp": (F, 4), "b_mlp": (4,), "W_out": (4, out)} if head == "mlp" else {"W_out": (F, out)})
    shapes["b_out"] = (out,)
    params = {k: rng.standard_normal(s) * 0.6 for k, s in shapes.items()}
    if kind == "classification":
        inputs, targets = rng.integers(0, d, (3, 4)), rng.integers(0, 2, 3)
    else:
        inputs, targets = rng.standard_normal((3, 4)), rng.standard_normal(3)
    _, grads = task_loss_and_grads(config, params, inputs, targets, kind)
    assert set(grads) == set(params)
    for name, value in params.items():
        numeric = numerical_grad(lambda: task_loss_and_grads(config, params, inputs, targets, kind)[0], value)
        np.testing.assert_allclose(grads[name], numeric, atol=1e-8, rtol=1e-6, err_msg=name)


def test_dropout_masks_match_finite_differences():
    """Masks between layers (training with dropout) are backpropagated through, input and all."""
    from lstm_multi.core.family import LayerConfig, init_layer_params

    V, h = 4, 3
    config = LayerConfig("lstm", V, h, num_layers=3, dropout=0.5)
    rng = np.random.default_rng(10)
    params = {k: rng.standard_normal(v.shape) * 0.6 for k, v in init_layer_params(config).items()}
    params.update(W_hq=rng.standard_normal((h, V)) * 0.6, b_q=rng.standard_normal(V) * 0.6)
    tokens, targets = rng.integers(0, V, (2, 4)), rng.integers(0, V, (2, 4))
    masks = [(rng.random((4, 2, h)) >= 0.5) * 2.0 for _ in range(2)]
    loss, grads = lm_loss_and_grads(params, tokens, targets, config=config, masks=masks)
    assert loss != pytest.approx(lm_loss_and_grads(params, tokens, targets, config=config)[0])
    for name, value in params.items():
        numeric = numerical_grad(
            lambda: lm_loss_and_grads(params, tokens, targets, config=config, masks=masks)[0], value
        )
        np.testing.assert_allclose(grads[name], numeric, atol=1e-8, rtol=1e-6, err_msg=name)
