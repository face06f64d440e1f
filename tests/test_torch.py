"""What is particular to the PyTorch backend (the shared contract is tests/test_backends.py and
tests/test_family.py): the hand-written backward of the fused LSTM and its agreement with the
plain autograd cell, torch's native layouts and frozen biases, seeding, dropout and modes."""

import numpy as np
import pytest
from conftest import assert_close

torch = pytest.importorskip("torch", reason="torch is not installed in this environment")

from lstm_multi import get_backend  # noqa: E402
from lstm_multi.backends.torch.lstm import LSTMFunction  # noqa: E402
from lstm_multi.backends.torch.ops import named_parameters  # noqa: E402
from lstm_multi.core.family import LayerConfig, init_layer_params  # noqa: E402
from lstm_multi.core.lm import build_model  # noqa: E402
from lstm_multi.reference import layer_forward, lm_loss_and_grads  # noqa: E402

bk = get_backend("torch")


def random_canonical(shapes, seed, scale=0.4):
    rng = np.random.default_rng(seed)
    return {name: (rng.standard_normal(shape) * scale).astype(np.float32) for name, shape in shapes.items()}


def random_batch(vocab, batch_size, num_steps, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, vocab, (batch_size, num_steps)), rng.integers(0, vocab, (batch_size, num_steps))


# --- the fused scratch LSTM: hand-written backward, and the autograd cell beside it ------------


@pytest.mark.parametrize("T,B,d,h", [(1, 1, 3, 2), (4, 3, 2, 5)])
def test_lstm_backward_passes_gradcheck(T, B, d, h):
    """Every input's gradient (X, W_x, b, W_h, H0, C0), against finite differences in float64."""
    g = torch.Generator().manual_seed(T * 10 + B)
    args = [
        torch.randn(shape, generator=g, dtype=torch.float64, requires_grad=True)
        for shape in ((T, B, d), (d, 4 * h), (4 * h,), (h, 4 * h), (B, h), (B, h))
    ]
    assert torch.autograd.gradcheck(LSTMFunction.apply, args, eps=1e-6, atol=1e-8, rtol=1e-6)


def test_fused_is_the_default_without_peepholes():
    assert bk.LSTMScratch(3, 4).fused and bk.LSTMScratch(3, 4, num_layers=2, bidirectional=True).fused
    assert not bk.LSTMScratch(3, 4, fused=False).fused
    assert not bk.LSTMScratch(3, 4, peephole="diagonal").fused  # the autograd cell has them
    with pytest.raises(ValueError, match="fused=False"):
        bk.LSTMScratch(3, 4, peephole="full", fused=True)


def test_fused_path_is_the_one_that_runs(monkeypatch):
    calls = []
    apply = LSTMFunction.apply
    monkeypatch.setattr(LSTMFunction, "apply", lambda *args: calls.append(1) or apply(*args))
    X = bk.tensor(np.zeros((3, 2, 4), np.float32))
    bk.LSTMScratch(4, 5, num_layers=2, bidirectional=True)(X)
    assert len(calls) == 4  # one per unit
    bk.LSTMScratch(4, 5, num_layers=2, bidirectional=True, fused=False)(X)
    assert len(calls) == 4


@pytest.mark.parametrize(
    "options",
    [dict(), dict(num_layers=2, bidirectional=True), dict(forget_bias=1.0)],
    ids=["plain", "2-layer-bidirectional", "forget-bias"],
)
def test_fused_and_autograd_cells_agree_with_the_reference_and_each_other(options):
    """The same layer, fused (LSTMFunction) and fused=False (the step function under autograd):
    outputs and final states against the reference, and each other; then in an LM: loss and
    every gradient."""
    T, B, d, h = 6, 3, 4, 5
    config = LayerConfig("lstm", d, h, **options)
    params = random_canonical(config.shapes(), seed=1)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((T, B, d)).astype(np.float32)
    state = tuple((rng.standard_normal(config.state_shape(B)) * 0.5).astype(np.float32) for _ in range(2))
    ref_outputs, ref_state, _ = layer_forward(config, params, X, state)
    results = {}
    for fused in (True, False):
        lstm = bk.LSTMScratch(d, h, **options, fused=fused)
        bk.set_params(lstm, params)
        outputs, (H, C) = lstm(bk.tensor(X), tuple(map(bk.tensor, state)))
        results[fused] = [bk.to_numpy(t) for t in (outputs, H, C)]
        for got, ref, name in zip(results[fused], (ref_outputs, *ref_state), ("outputs", "H", "C")):
            assert_close(got, ref, atol=2e-6, what=f"fused={fused} {name}")
    for a, b, name in zip(results[True], results[False], ("outputs", "H", "C")):
        assert_close(a, b, atol=1e-6, what=name)

    options = {k: v for k, v in options.items() if k != "bidirectional"}  # an LM runs forward only
    vocab = d
    lm_config = LayerConfig("lstm", vocab, h, **options)
    lm_params = random_canonical({**lm_config.shapes(), "W_hq": (h, vocab), "b_q": (vocab,)}, seed=3)
    tokens, targets = random_batch(vocab, B, T, seed=4)
    ref_loss, ref_grads = lm_loss_and_grads(lm_params, tokens, targets, config=lm_config)
    grads = {}
    for fused in (True, False):
        model = bk.RNNLMScratch(bk.LSTMScratch(vocab, h, **options, fused=fused), vocab)
        bk.set_params(model, lm_params)
        loss, grads[fused] = bk.loss_and_grads(model, tokens, targets)
        assert loss == pytest.approx(ref_loss, rel=2e-6)
        for name, ref in ref_grads.items():
            assert_close(
                grads[fused][name],
                ref,
                atol=2e-6 * np.abs(ref).max() + 1e-8,
                rtol=2e-5,
                what=f"fused={fused} d loss / d {name}",
            )
    for name in ref_grads:
        assert_close(
            grads[True][name],
            grads[False][name],
            atol=1e-6 * np.abs(ref_grads[name]).max() + 1e-8,
            what=f"d loss / d {name}",
        )


def test_scratch_parameters_are_named_per_unit():
    """One unit: d2l's W_x, W_h, b (as before the family); stacked: l{k}_ and l{k}_rev_ prefixes."""
    assert {n: tuple(p.shape) for n, p in named_parameters(bk.LSTMScratch(3, 4)).items()} == {
        "W_x": (3, 16),
        "W_h": (4, 16),
        "b": (16,),
    }
    names = list(named_parameters(bk.GRUScratch(3, 4, num_layers=2, bidirectional=True)))
    assert names == [f"{p}{n}" for p in ("l0_", "l0_rev_", "l1_", "l1_rev_") for n in ("W_x", "W_h", "b", "b_hh")]
    assert tuple(bk.GRUScratch(3, 4, num_layers=2, bidirectional=True).l1_W_x.shape) == (8, 12)


def test_d2l_baseline_computes_what_the_fused_cell_computes():
    """backends/torch/d2l.py (the benchmark baseline: eight matmuls a step, no hoisting)."""
    from lstm_multi.backends.torch.d2l import D2LLSTMScratch

    fused, d2l = bk.LSTMScratch(4, 6), D2LLSTMScratch(4, 6)
    params = {k: v * 40 for k, v in bk.get_params(fused).items()}
    bk.set_params(fused, params)
    bk.set_params(d2l, params)
    X = bk.tensor(np.random.default_rng(0).standard_normal((5, 3, 4)))
    (outputs, (H, C)), (d2l_outputs, (d2l_H, d2l_C)) = fused(X), d2l(X)
    for a, b in ((outputs, d2l_outputs), (H, d2l_H), (C, d2l_C)):
        assert_close(bk.to_numpy(a), bk.to_numpy(b), atol=1e-6)


# --- nn.LSTM / nn.GRU / nn.RNN: layouts, the frozen second biases -------------------------------


def test_concise_layer_keeps_one_bias_per_gate():
    model = bk.RNNLM(bk.LSTM(5, 3, seed=1), 5, lr=1.0)
    bias_hh = model.rnn.rnn.bias_hh_l0
    assert not bias_hh.requires_grad and torch.count_nonzero(bias_hh) == 0
    tokens = np.arange(10, dtype=np.int32).reshape(2, 5) % 5
    bk.train_step(model, tokens, tokens, 1.0, 1.0)
    assert torch.count_nonzero(model.rnn.rnn.bias_hh_l0) == 0
    assert set(bk.get_params(model)) >= {"b_i", "b_f", "b_o", "b_c"}


def test_concise_gate_orders_are_torchs():
    """LSTM rows i, f, g, o; GRU rows r, z, n (torch/nn/modules/rnn.py), read from canonical names."""
    lstm = bk.LSTM(2, 3)
    zero = {name: np.zeros(shape, np.float32) for name, shape in lstm.canonical_shapes().items()}
    bk.set_params(lstm, {**zero, "b_c": np.full(3, 0.5, np.float32)})
    np.testing.assert_array_equal(bk.to_numpy(lstm.rnn.bias_ih_l0), [0] * 6 + [0.5] * 3 + [0] * 3)
    _, (H, C) = lstm(bk.tensor(np.ones((1, 1, 2))))  # I = sigmoid(0), C = I * tanh(0.5)
    assert_close(bk.to_numpy(C), np.full((1, 3), 0.5 * np.tanh(0.5)), atol=1e-7)
    gru = bk.GRU(2, 3)
    zero = {name: np.zeros(shape, np.float32) for name, shape in gru.canonical_shapes().items()}
    blocks = {"b_r": 1.0, "b_z": 2.0, "b_h": 3.0, "b_hh": 4.0}
    bk.set_params(gru, {**zero, **{k: np.full(3, v, np.float32) for k, v in blocks.items()}})
    np.testing.assert_array_equal(bk.to_numpy(gru.rnn.bias_ih_l0), [1] * 3 + [2] * 3 + [3] * 3)
    np.testing.assert_array_equal(bk.to_numpy(gru.rnn.bias_hh_l0), [0] * 6 + [4] * 3)


def test_gru_frozen_blocks_stay_zero_and_b_hh_trains():
    """nn.GRU's bias_hh: its r and z blocks are masked (zero, never updated); its n block is b_hh."""
    model = build_model(bk, "concise", 6, 5, lr=1.0, model="gru", num_layers=2)
    params = random_canonical(model.canonical_shapes(), seed=0)
    bk.set_params(model, params)
    assert model.frozen() == {
        f"rnn.rnn.bias_hh_l{k}": pytest.approx(np.repeat([True, True, False], 5)) for k in range(2)
    }
    tokens, targets = random_batch(6, 4, 7)
    for _ in range(3):
        bk.train_step(model, tokens, targets, 1.0, None)
    for k in range(2):
        bias_hh = bk.to_numpy(getattr(model.rnn.rnn, f"bias_hh_l{k}"))
        assert bias_hh.shape == (15,) and not bias_hh[:10].any()
        assert np.all(bias_hh[10:] != params[f"l{k}.b_hh"])
    _, grads = bk.loss_and_grads(model, tokens, targets)
    assert set(grads) == set(params)


def test_concise_stacked_state_and_no_second_bias_gradient():
    """torch's state order (layer-major, direction inner) is ours; no bias_hh of the LSTM or RNN trains."""
    lstm = bk.LSTM(3, 4, num_layers=2, bidirectional=True)
    outputs, (H, C) = lstm(bk.tensor(np.random.default_rng(0).standard_normal((5, 2, 3))))
    assert outputs.shape == (5, 2, 8) and H.shape == C.shape == (4, 2, 4)
    out = bk.to_numpy(outputs)
    np.testing.assert_array_equal(out[-1, :, :4], bk.to_numpy(H[2]))  # l1 forward ends at T-1
    np.testing.assert_array_equal(out[0, :, 4:], bk.to_numpy(H[3]))  # l1.rev ends at 0
    for layer in (lstm, bk.RNN(3, 4, num_layers=2, bidirectional=True)):
        untrained = sorted(n for n, p in named_parameters(layer).items() if not p.requires_grad)
        assert untrained == sorted(layer.frozen()) and all("bias_hh" in n for n in untrained)


def test_native_layers_refuse_what_torch_lacks():
    with pytest.raises(ValueError, match="No framework's native LSTM has peephole connections"):
        bk.LSTM(3, 4, peephole=True)
    with pytest.raises(ValueError, match=r"GRUScratch\(reset_after=False\)"):
        bk.GRU(3, 4, reset_after=False)


# --- initialisation, seeding, dropout, modes ---------------------------------------------------


@pytest.mark.parametrize("impl", ["scratch", "concise"])
def test_seeded_initialisation_leaves_the_global_rng_alone(impl):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    options = dict(model="gru", num_layers=2, embedding_dim=3)
    params = [bk.get_params(build_model(bk, impl, 7, 5, lr=1.0, seed=seed, **options)) for seed in (0, 0, 1)]
    assert torch.equal(torch.get_rng_state(), before)
    for name in params[0]:
        np.testing.assert_array_equal(params[0][name], params[1][name], err_msg=name)
    assert not np.array_equal(params[0]["l0.W_xz"], params[2]["l0.W_xz"])
    if impl == "scratch":  # d2l's initialisation, the same NumPy draw on every backend
        expected = init_layer_params(LayerConfig("gru", 3, 5, num_layers=2), seed=0)
        for name, value in expected.items():
            np.testing.assert_array_equal(params[0][name], value, err_msg=name)


def test_concise_forget_bias_sets_b_f_of_every_unit():
    lstm = bk.LSTM(3, 4, num_layers=2, bidirectional=True, forget_bias=1.5)
    params = bk.get_params(lstm)
    for prefix in ("l0.", "l0.rev.", "l1.", "l1.rev."):
        np.testing.assert_array_equal(params[prefix + "b_f"], np.full(4, 1.5, np.float32))
        assert params[prefix + "b_i"].any()  # the rest keeps torch's own init


@pytest.mark.parametrize("impl", ["scratch", "concise"])
def test_dropout_is_seeded_and_models_stay_in_evaluation_mode(impl):
    losses = []
    for _ in range(2):
        model = build_model(bk, impl, 6, 8, lr=1e-6, num_layers=3, dropout=0.5, seed=4)
        bk.set_params(model, random_canonical(model.canonical_shapes(), seed=5, scale=0.8))
        assert not model.training and not model.rnn.training
        tokens, targets = random_batch(6, 4, 6)
        torch.manual_seed(0)
        before = torch.get_rng_state()
        losses.append([bk.train_step(model, tokens, targets, 1e-6, None) for _ in range(3)])
        assert torch.equal(torch.get_rng_state(), before)  # masks from the layer's own stream
        assert not model.training and not model.rnn.training  # the step's training mode ends with it
    assert losses[0] == losses[1] and len(set(losses[0])) == 3


def test_tensors_and_numpy_are_both_accepted():
    model = build_model(bk, "scratch", 5, 4, lr=1.0)
    tokens = np.array([[0, 1, 2], [3, 4, 0]])
    assert bk.tensor(tokens).dtype == torch.int64 and bk.tensor(tokens.astype(np.float64)).dtype == torch.float32
    assert bk.tensor(torch.tensor(tokens, dtype=torch.int32)).dtype == torch.int64
    loss, grads = bk.loss_and_grads(model, tokens, tokens)
    loss_t, grads_t = bk.loss_and_grads(model, torch.tensor(tokens), torch.tensor(tokens))
    assert loss == loss_t and all(np.array_equal(grads[n], grads_t[n]) for n in grads)
    assert bk.evaluate_loss(model, torch.tensor(tokens), tokens) == pytest.approx(loss, rel=1e-7)
    logits_np, _ = model.forward_with_state(tokens)
    np.testing.assert_array_equal(bk.to_numpy(logits_np), bk.to_numpy(model(bk.tensor(tokens))))


def test_get_params_returns_copies():
    """``.numpy()`` of a CPU parameter shares its memory; the in-place SGD step must not change
    parameters read before it."""
    model = build_model(bk, "scratch", 5, 4, lr=1.0)
    before = bk.get_params(model)
    saved = {k: v.copy() for k, v in before.items()}
    tokens = np.array([[0, 1, 2], [3, 4, 0]])
    bk.train_step(model, tokens, tokens, 1.0, None)
    for name in before:
        np.testing.assert_array_equal(before[name], saved[name], err_msg=name)
