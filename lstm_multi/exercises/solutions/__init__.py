"""The package's own solutions, one file per backend with the same function names, written as a
student would: ``numpy.py``, ``torch.py``, ``tensorflow.py``, ``jax.py``, ``mxnet.py``."""

from __future__ import annotations

import importlib
from types import ModuleType

from ...backend import get_backend


def solution_module(backend: str) -> ModuleType:
    """``lstm_multi.exercises.solutions.<backend>``, after the backend itself (MXNet's ``npx.set_np()``)."""
    get_backend(backend)
    return importlib.import_module(f"{__name__}.{backend}")
