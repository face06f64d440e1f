"""Shared fixtures: ``bk`` runs a test once per backend; an absent framework skips with its reason."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_multi.backend import BACKENDS, get_backend, install_command, missing_modules


def backend_params(names=BACKENDS):
    params = []
    for name in names:
        missing = missing_modules(name)
        reason = (f"backend {name!r} needs {', '.join(missing)}, not installed in this environment "
                  f"({install_command(name)})")
        params.append(pytest.param(name, id=name, marks=pytest.mark.skipif(bool(missing), reason=reason)))
    return params


@pytest.fixture(params=backend_params())
def bk(request):
    """The backend module, once for each framework installed here."""
    return get_backend(request.param)


@pytest.fixture(params=["scratch", "concise"])
def impl(request):
    return request.param


def assert_close(actual, expected, atol, rtol=0.0, what="value"):
    """``|actual - expected| <= atol + rtol * |expected|`` everywhere, with a readable failure."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    err = np.abs(actual - expected)
    bound = atol + rtol * np.abs(expected)
    worst = np.unravel_index(np.argmax(err - bound), err.shape) if err.size else ()
    assert np.all(err <= bound), (f"{what}: max abs error {err.max():.3g} (bound {atol} + {rtol}*|x|); "
                                  f"at {worst}: {actual[worst]!r} vs {expected[worst]!r}")
