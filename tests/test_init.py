"""The scratch initialisations (``init="d2l" | "xavier" | "orthogonal"``): one NumPy draw in
``core/family.py`` that every backend's scratch layer stores unchanged, the properties of each
draw, the default for one layer (d2l's, exactly as before) and for a stacked layer, and the errors.
"""

import math

import numpy as np
import pytest

from lstm_multi.core.family import D2L_SIGMA, INITS, STACKED_INIT, LayerConfig, init_layer_params
from lstm_multi.core.lm import build_layer, build_model
from lstm_multi.core.params import init_params

CONFIGS = [  # every cell, stacked and bidirectional, both peephole forms, the GRU's second bias
    LayerConfig("lstm", 5, 4, num_layers=2, bidirectional=True, peephole="full", forget_bias=1.0),
    LayerConfig("lstm", 5, 4, num_layers=2, peephole="diagonal"),
    LayerConfig("gru", 5, 4, num_layers=2, reset_after=True),
    LayerConfig("gru", 5, 4, reset_after=False),
    LayerConfig("rnn", 5, 4, num_layers=3, bidirectional=True),
]

BAD_INIT = (
    "Unknown init 'he'. Valid inits: 'd2l', 'xavier', 'orthogonal' (or None: d2l's for one "
    f"layer, {STACKED_INIT!r} for num_layers > 1)."
)


def config_id(config):
    return config.describe().replace(" ", "-")


def scratch_layer(bk, config, **kwargs):
    return build_layer(bk, "scratch", config, seed=kwargs.pop("seed", 0), **kwargs)


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
@pytest.mark.parametrize(
    "init,sigma", [("d2l", None), ("d2l", 0.3), ("xavier", None), ("orthogonal", None), (None, None)]
)
def test_every_backend_stores_the_same_draw(bk, config, init, sigma):
    layer = scratch_layer(bk, config, init=init, sigma=sigma, seed=3)
    expected = init_layer_params(config, sigma, seed=3, init=init)
    got = bk.get_params(layer)
    assert list(got) == list(expected)
    for name, value in expected.items():
        assert got[name].dtype == np.float32
        np.testing.assert_array_equal(got[name], value, err_msg=name)


def test_one_layer_default_is_d2l_exactly(bk):
    config = LayerConfig("lstm", 5, 4)
    layer = scratch_layer(bk, config)
    assert (layer.init, layer.sigma) == ("d2l", D2L_SIGMA)
    got = bk.get_params(layer)
    for name, value in init_params(5, 4, seed=0).items():  # d2l's one-layer draw, as before
        np.testing.assert_array_equal(got[name], value, err_msg=name)


def test_stacked_default_is_not_d2l(bk):
    config = LayerConfig("lstm", 5, 4, num_layers=2)
    layer = scratch_layer(bk, config)
    assert STACKED_INIT != "d2l" and STACKED_INIT in INITS
    assert (layer.init, layer.sigma) == (STACKED_INIT, None)
    d2l = init_layer_params(config, init="d2l")
    got = bk.get_params(layer)
    assert not np.allclose(got["l1.W_hi"], d2l["l1.W_hi"])
    assert np.std(got["l1.W_hi"]) > 10 * D2L_SIGMA
    # a sigma alone is d2l's knob: it selects d2l's init at any depth
    layer = scratch_layer(bk, config, sigma=0.1)
    assert (layer.init, layer.sigma) == ("d2l", 0.1)
    for name, value in init_layer_params(config, 0.1, init="d2l").items():
        np.testing.assert_array_equal(bk.get_params(layer)[name], value, err_msg=name)


def test_d2l_draw_scales_with_sigma():
    config = LayerConfig("gru", 6, 7, num_layers=2)
    small, large = init_layer_params(config, 0.01, init="d2l"), init_layer_params(config, 0.1, init="d2l")
    for name, value in small.items():
        np.testing.assert_allclose(large[name], 10 * value, rtol=1e-6, err_msg=name)


def test_biases_are_zero_but_the_forget_bias():
    config = CONFIGS[0]
    for init in INITS:
        params = init_layer_params(config, init=init)
        for name, value in params.items():
            base = name.rsplit(".", 1)[-1]
            if base.startswith("b_"):
                np.testing.assert_array_equal(value, np.full(value.shape, 1.0 if base == "b_f" else 0.0))


def test_orthogonal_recurrent_blocks():
    config = LayerConfig("lstm", 5, 6, num_layers=2, bidirectional=True, peephole="full")
    params = init_layer_params(config, init="orthogonal", seed=4)
    xavier = init_layer_params(config, init="xavier", seed=4)
    blocks = [name for name in params if name.rsplit(".", 1)[-1].startswith("W_h")]
    assert len(blocks) == 4 * 4  # 4 units, one block per gate
    for name in blocks:
        W = params[name].astype(np.float64)
        np.testing.assert_allclose(W.T @ W, np.eye(6), atol=1e-5, err_msg=name)
        np.testing.assert_allclose(W @ W.T, np.eye(6), atol=1e-5, err_msg=name)
    for name in ("l0.W_xi", "l1.W_xc", "l1.rev.W_co"):  # the rest is Glorot uniform
        a = math.sqrt(6 / sum(params[name].shape))
        assert np.abs(params[name]).max() <= a
    assert not np.array_equal(params["l0.W_hi"], xavier["l0.W_hi"])


def test_xavier_bounds_and_variance():
    d, h = 300, 200
    config = LayerConfig("lstm", d, h, peephole="diagonal")
    params = init_layer_params(config, init="xavier", seed=1)
    for name, value in params.items():
        if name.startswith("b_"):
            continue
        fan_in, fan_out = value.shape[0], value.shape[-1]
        a = math.sqrt(6 / (fan_in + fan_out))  # U(-a, a): variance a^2 / 3 = 2 / (fan_in + fan_out)
        assert np.abs(value).max() <= a, name
        assert np.abs(value).max() > 0.99 * a, name  # uniform: it reaches the bound
        assert value.var() == pytest.approx(2 / (fan_in + fan_out), rel=0.1 if value.ndim == 1 else 0.02), name
        assert abs(value.mean()) < 4 * a / math.sqrt(3 * value.size), name  # 4 standard errors


def test_bad_init_is_a_clear_error(bk):
    with pytest.raises(ValueError) as err:
        bk.LSTMScratch(3, 4, init="he")
    assert str(err.value) == BAD_INIT
    with pytest.raises(ValueError) as err:
        init_layer_params(LayerConfig("gru", 3, 4), init="he")
    assert str(err.value) == BAD_INIT


@pytest.mark.parametrize("sigma", [0, -0.1, float("nan"), float("inf"), "0.1", True])
def test_sigma_must_be_positive(bk, sigma):
    with pytest.raises(ValueError) as err:
        bk.GRUScratch(3, 4, sigma=sigma)
    assert str(err.value) == f"sigma must be a positive number, got {sigma!r}."


@pytest.mark.parametrize("init", ["xavier", "orthogonal"])
def test_sigma_belongs_to_d2l(bk, init):
    with pytest.raises(ValueError) as err:
        bk.RNNScratch(3, 4, init=init, sigma=0.1)
    assert str(err.value) == (
        f"sigma is the standard deviation of d2l's init; the {init!r} init takes its "
        "scale from the shapes of the weights. Leave sigma out (None) or use init='d2l'."
    )


def test_build_model_passes_init_and_sigma(bk):
    model = build_model(bk, "scratch", 7, 5, lr=1.0, model="gru", num_layers=2, init="xavier", seed=2)
    assert model.rnn.init == "xavier"
    params = bk.get_params(model)
    layer = init_layer_params(model.config, seed=2, init="xavier")
    for name, value in layer.items():
        np.testing.assert_array_equal(params[name], value, err_msg=name)
    # the output layer keeps d2l's N(0, 0.01^2) draw from seed + 1 under xavier and orthogonal
    np.testing.assert_array_equal(params["W_hq"], init_params(5, 5, 7, sigma=0.01, seed=3)["W_hq"])
    model = build_model(bk, "scratch", 7, 5, lr=1.0, sigma=0.2, seed=2)
    assert (model.rnn.init, model.rnn.sigma) == ("d2l", 0.2)
    np.testing.assert_array_equal(bk.get_params(model)["W_hq"], init_params(5, 5, 7, sigma=0.2, seed=3)["W_hq"])


def test_native_layers_refuse_init(bk):
    with pytest.raises(ValueError) as err:
        build_model(bk, "concise", 7, 5, lr=1.0, num_layers=2, init="orthogonal")
    assert str(err.value) == (
        "init and sigma choose the initialisation of the scratch layers; the native LSTM "
        "(impl 'concise') starts from its framework's own. Leave them out (None) or use "
        "impl 'scratch'."
    )
