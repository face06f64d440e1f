"""Shared fixtures: ``bk`` runs a test once per backend; an absent framework skips with its reason.

Which tests run where (``LSTM_MULTI_BACKEND`` names the tox environment's backend):

- a framework's environment (``tox -e torch``, ...) runs the tests that need that framework: its
  own ``test_<framework>.py`` and every test parametrized with it. The framework-neutral tests and
  the NumPy backend's run once, in ``tox -e numpy``;
- ``cross_environment`` tests (parity and portability between frameworks) run in ``tox -e cross``,
  which holds torch, TensorFlow and JAX together; MXNet, which cannot join it, runs its own;
- ``other_environments`` tests (runs through another tox environment's interpreter) run where
  ``LSTM_MULTI_TEST_OTHER_ENVIRONMENTS`` is set (``cross`` and ``mxnet``);
- ``slow`` tests (several framework processes at once: data-parallel runs, the benchmark's
  subprocesses) run where ``LSTM_MULTI_TEST_SLOW`` is set: ``make test-all``, what CI runs.

Without ``LSTM_MULTI_BACKEND`` (plain ``pytest``) everything installed runs.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from lstm_multi.backend import BACKENDS, get_backend, install_command, missing_modules
from lstm_multi.core.params import init_params

FRAMEWORKS = tuple(name for name in BACKENDS if name != "numpy")
CROSS_HOLDS = ("torch", "tensorflow", "jax")  # the frameworks of tox -e cross (tox.ini)
HERE = os.environ.get("LSTM_MULTI_BACKEND", "")


#: parameter values that name a framework by another name (an export format)
ALIASES = {"keras": "tensorflow"}


def needs_framework(item: pytest.Item, framework: str) -> bool:
    """Does the test exercise ``framework``: its own test file, a parameter naming it (a backend or
    its export format), or ``@pytest.mark.framework("<name>")``."""
    if item.path.name == f"test_{framework}.py":
        return True
    marker = item.get_closest_marker("framework")
    if marker is not None and framework in marker.args:
        return True
    callspec = getattr(item, "callspec", None)
    values = callspec.params.values() if callspec is not None else ()
    return any(isinstance(v, str) and ALIASES.get(v, v) == framework for v in values)


def why_not_here(item: pytest.Item) -> str | None:
    """The reason ``item`` runs in another tox environment than this one, or None."""
    if item.get_closest_marker("slow") and not os.environ.get("LSTM_MULTI_TEST_SLOW"):
        return "slow (several framework processes at once): runs in make test-all (LSTM_MULTI_TEST_SLOW=1)"
    asked = not HERE or os.environ.get("LSTM_MULTI_TEST_OTHER_ENVIRONMENTS")
    if item.get_closest_marker("other_environments") and not asked:
        return "runs other environments' interpreters: tested in tox -e cross and tox -e mxnet"
    if HERE not in FRAMEWORKS:
        return None
    if not needs_framework(item, HERE):
        return "framework-neutral (or the NumPy backend): runs once, in tox -e numpy"
    if HERE in CROSS_HOLDS and item.get_closest_marker("cross_environment"):
        return f"runs in tox -e cross, which holds {', '.join(CROSS_HOLDS)} together"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        reason = why_not_here(item)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


def backend_params(names=BACKENDS):
    params = []
    for name in names:
        missing = missing_modules(name)
        reason = (
            f"backend {name!r} needs {', '.join(missing)}, not installed in this environment ({install_command(name)})"
        )
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
    assert np.all(err <= bound), (
        f"{what}: max abs error {err.max():.3g} (bound {atol} + {rtol}*|x|); "
        f"at {worst}: {actual[worst]!r} vs {expected[worst]!r}"
    )


def random_params(d, h, vocab=None, seed=0, scale=0.4):
    """Canonical float32 parameters ~ N(0, scale^2), the LM's output layer when ``vocab``."""
    rng = np.random.default_rng(seed)
    return {k: (rng.standard_normal(v.shape) * scale).astype(np.float32) for k, v in init_params(d, h, vocab).items()}


def assert_scratch_lm_matches_reference(bk, lstm, T=6, B=4, seed=3):
    """``lstm`` (num_inputs = vocab) alone and in the scratch LM, on random canonical
    parameters: outputs, final state, loss and every gradient against the NumPy reference."""
    from lstm_multi.reference import lm_loss_and_grads, lstm_forward

    d, h = lstm.num_inputs, lstm.num_hiddens
    params = random_params(d, h, d, seed=seed)
    rng = np.random.default_rng(seed + 1)
    model = bk.RNNLMScratch(lstm, d)
    bk.set_params(model, params)
    X = rng.standard_normal((T, B, d)).astype(np.float32)
    outputs, (H, C) = lstm(bk.tensor(X))
    ref_outputs, (ref_H, ref_C), _ = lstm_forward(params, X)
    for name, value, ref in (("outputs", outputs, ref_outputs), ("H", H, ref_H), ("C", C, ref_C)):
        assert_close(bk.to_numpy(value), ref, atol=2e-6, what=name)
    tokens, targets = (rng.integers(0, d, (B, T)).astype(np.int32) for _ in range(2))
    loss, grads = bk.loss_and_grads(model, tokens, targets)
    ref_loss, ref_grads = lm_loss_and_grads(params, tokens, targets)
    assert loss == pytest.approx(ref_loss, rel=2e-6)
    for name, ref in ref_grads.items():
        assert_close(grads[name], ref, atol=2e-6 * np.abs(ref).max() + 1e-8, what=f"d loss / d {name}")
