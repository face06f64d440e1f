"""PyTorch specifics: the hand-written backward of the scratch recurrence."""

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed in this environment")

from lstm_multi.backends.torch.lstm import LSTMFunction  # noqa: E402


@pytest.mark.parametrize("T,B,d,h", [(1, 1, 3, 2), (4, 3, 2, 5)])
def test_lstm_backward_passes_gradcheck(T, B, d, h):
    """Every input's gradient (X, W_x, b, W_h, H0, C0), against finite differences in float64."""
    g = torch.Generator().manual_seed(T * 10 + B)
    args = [torch.randn(shape, generator=g, dtype=torch.float64, requires_grad=True)
            for shape in ((T, B, d), (d, 4 * h), (4 * h,), (h, 4 * h), (B, h), (B, h))]
    assert torch.autograd.gradcheck(LSTMFunction.apply, args, eps=1e-6, atol=1e-8, rtol=1e-6)


def test_concise_layer_keeps_one_bias_per_gate():
    from lstm_multi.backends.torch import LSTM, get_params, train_step, RNNLM

    model = RNNLM(LSTM(5, 3, seed=1), 5, lr=1.0)
    bias_hh = model.rnn.rnn.bias_hh_l0
    assert not bias_hh.requires_grad and torch.count_nonzero(bias_hh) == 0
    import numpy as np

    tokens = np.arange(10, dtype=np.int32).reshape(2, 5) % 5
    train_step(model, tokens, tokens, 1.0, 1.0)
    assert torch.count_nonzero(model.rnn.rnn.bias_hh_l0) == 0
    assert set(get_params(model)) >= {"b_i", "b_f", "b_o", "b_c"}
