"""Backend selection: names, environment variable, defaults and the exact error messages."""

import os
import subprocess
import sys

import pytest

import lstm_multi
from lstm_multi import backend as registry
from lstm_multi.backend import (
    BackendNotInstalledError,
    UnknownBackendError,
    available_backends,
    get_backend,
    set_backend,
)

MISSING = [name for name in registry.BACKENDS if not registry.is_available(name)]


@pytest.fixture(autouse=True)
def clean_choice(monkeypatch):
    monkeypatch.delenv(registry.ENV_VAR, raising=False)
    set_backend(None)
    yield
    set_backend(None)


def test_import_loads_no_framework():
    code = (
        "import sys, lstm_multi; "
        "print(sorted(m for m in ('torch', 'tensorflow', 'jax', 'flax', 'mxnet', 'keras') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_name():
    with pytest.raises(UnknownBackendError) as err:
        get_backend("pytorch")
    assert str(err.value) == "Unknown backend 'pytorch'. Valid backends: torch, tensorflow, jax, mxnet, numpy."
    with pytest.raises(UnknownBackendError):
        set_backend("theano")
    assert isinstance(err.value, ValueError)


def test_unknown_name_from_environment(monkeypatch):
    monkeypatch.setenv("LSTM_MULTI_BACKEND", "caffe")
    with pytest.raises(UnknownBackendError) as err:
        get_backend()
    assert str(err.value) == (
        "Unknown LSTM_MULTI_BACKEND value 'caffe'. Valid backends: torch, tensorflow, jax, mxnet, numpy."
    )


@pytest.mark.parametrize(
    "name",
    MISSING
    or [pytest.param("none", marks=pytest.mark.skip(reason="every framework is installed in this environment"))],
)
def test_framework_not_installed(name):
    with pytest.raises(BackendNotInstalledError) as err:
        get_backend(name)
    needs = ", ".join(registry.missing_modules(name))
    assert str(err.value) == (
        f'Backend {name!r} needs {needs}, which is not installed. Install it with: pip install "lstm-multi[{name}]"'
    )
    assert isinstance(err.value, ImportError)


def test_hidden_framework_message(monkeypatch):
    """The message names exactly the missing modules (find_spec answers as if jax were absent)."""
    monkeypatch.setattr(
        registry.importlib.util, "find_spec", lambda name: None if name in ("jax", "optax") else object()
    )
    with pytest.raises(BackendNotInstalledError) as err:
        get_backend("jax")
    assert str(err.value) == (
        "Backend 'jax' needs jax, optax, which is not installed. Install it with: pip install \"lstm-multi[jax]\""
    )


def test_no_framework_at_all(monkeypatch):
    monkeypatch.setattr(registry, "available_backends", lambda: [])
    with pytest.raises(BackendNotInstalledError) as err:
        get_backend()
    assert str(err.value) == (
        "No backend framework is installed. Install one of torch, jax, "
        'tensorflow, mxnet, for example: pip install "lstm-multi[torch]"; or choose '
        "the NumPy reference backend (LSTM_MULTI_BACKEND=numpy: exact, float64, slow)"
    )


def test_resolution_order(monkeypatch):
    installed = available_backends()
    if not installed:
        pytest.skip("no framework installed in this environment")
    assert registry.backend_name() == installed[0]  # the default: first installed
    monkeypatch.setenv("LSTM_MULTI_BACKEND", "mxnet")
    assert registry.backend_name() == "mxnet"  # the environment variable
    set_backend("jax")
    assert registry.backend_name() == "jax"  # set_backend beats the environment
    assert registry.backend_name("tensorflow") == "tensorflow"  # an explicit name beats all
    bk = get_backend(installed[0])
    assert bk.NAME == installed[0]
    assert lstm_multi.get_backend is get_backend


def _malloc_status(**env):
    code = (
        "import ctypes, lstm_multi; from lstm_multi.core import allocator; "
        "lstm_multi.get_backend('numpy'); print(allocator.status)"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env})


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's malloc is tuned on Linux only")
def test_get_backend_tunes_glibc_malloc_unless_told_not_to():
    import platform

    tuned = _malloc_status(LSTM_MULTI_MALLOC="tuned", LD_PRELOAD="")
    assert tuned.stdout.strip() == ("tuned" if platform.libc_ver()[0] == "glibc" else "default (not glibc)")
    default = _malloc_status(LSTM_MULTI_MALLOC="default")
    assert default.stdout.strip() == "default (LSTM_MULTI_MALLOC=default)"
    bad = _malloc_status(LSTM_MULTI_MALLOC="fast")
    assert bad.returncode != 0
    assert "ValueError: LSTM_MULTI_MALLOC must be 'tuned' or 'default', got 'fast'." in bad.stderr


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's malloc is tuned on Linux only")
def test_tuned_malloc_keeps_freed_buffers_mapped():
    """With the thresholds raised, a freed 64 MiB buffer goes back to the heap, not to the kernel:
    glibc's own statistics (mallinfo2) show it as free heap memory, not as an mmapped region."""
    if "tuned" not in _malloc_status(LD_PRELOAD="").stdout:
        pytest.skip("not glibc")
    code = """
import ctypes, lstm_multi
lstm_multi.get_backend("numpy")
import numpy as np
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
before = libc.mallinfo2().hblkhd
a = np.ones(64 << 18, np.float32)
mapped = libc.mallinfo2().hblkhd - before
del a
print(mapped, libc.mallinfo2().fordblks >= 64 << 20)
"""
    tuned = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "LSTM_MULTI_MALLOC": "tuned", "LD_PRELOAD": ""},
    )
    default = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "LSTM_MULTI_MALLOC": "default"}
    )
    assert tuned.stdout.split() == ["0", "True"]  # in the heap, and kept there once freed
    assert int(default.stdout.split()[0]) >= 64 << 20  # glibc's default: its own mapping
