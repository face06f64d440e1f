"""Sampling written once in NumPy: temperature, top-k, nucleus (top-p), seeded."""

import numpy as np
import pytest

from lstm_multi.core.sampling import check_sampling, choose_next, next_distribution

LOGITS = np.log(np.array([0.1, 0.4, 0.2, 0.3]))


def test_temperature_one_is_the_softmax():
    np.testing.assert_allclose(next_distribution(LOGITS, 1.0), [0.1, 0.4, 0.2, 0.3], atol=1e-12)


def test_low_temperature_sharpens_high_flattens():
    cold, hot = next_distribution(LOGITS, 0.1), next_distribution(LOGITS, 100.0)
    assert cold[1] > 0.94 and np.ptp(hot) < 0.02


def test_top_k_keeps_the_k_most_likely():
    np.testing.assert_allclose(next_distribution(LOGITS, 1.0, top_k=2), [0, 0.4 / 0.7, 0, 0.3 / 0.7])


def test_top_p_keeps_the_smallest_nucleus():
    # 0.4 alone < 0.6; 0.4 + 0.3 reaches it: the nucleus is {1, 3}
    np.testing.assert_allclose(next_distribution(LOGITS, 1.0, top_p=0.6), [0, 0.4 / 0.7, 0, 0.3 / 0.7])
    np.testing.assert_allclose(next_distribution(LOGITS, 1.0, top_p=0.4), [0, 1, 0, 0])
    np.testing.assert_allclose(next_distribution(LOGITS, 1.0, top_p=1.0), [0.1, 0.4, 0.2, 0.3], atol=1e-12)


def test_seeded_draws_repeat_and_follow_the_distribution():
    draws = lambda seed: [choose_next(LOGITS, 1.0, rng) for rng in [np.random.default_rng(seed)] for _ in range(4000)]
    a, b, c = draws(0), draws(0), draws(1)
    assert a == b and a != c
    np.testing.assert_allclose(np.bincount(a, minlength=4) / 4000, [0.1, 0.4, 0.2, 0.3], atol=0.03)
    assert choose_next(LOGITS, 0.0, None) == 1  # greedy


@pytest.mark.parametrize(
    "args,message",
    [
        ((-1, None, None), "temperature must be a number >= 0 (0: greedy), got -1."),
        ((1.0, 0, None), "top_k must be a positive integer, got 0."),
        ((1.0, None, 1.5), "top_p must be a number in (0, 1], got 1.5."),
        (
            (0, 3, None),
            "top_k and top_p choose among sampled characters: give a temperature > 0 "
            "(greedy decoding, temperature 0, always takes the most likely one).",
        ),
    ],
)
def test_bad_sampling_arguments(args, message):
    with pytest.raises(ValueError) as err:
        check_sampling(*args)
    assert str(err.value) == message
