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
        np.testing.assert_allclose(grads[name], numerical_grad(objective, value), atol=1e-8, rtol=1e-6,
                                   err_msg=name)
    for name, grad, value in (("X", dX, X), ("H0", dH0, H0), ("C0", dC0, C0)):
        np.testing.assert_allclose(grad, numerical_grad(objective, value), atol=1e-8, rtol=1e-6,
                                   err_msg=name)


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
