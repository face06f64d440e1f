"""Backend registry: which framework runs the models.

Like einops' ``_backends.py``, a framework is imported only when its backend is
asked for, so ``import lstm_multi`` imports none of them. The backend is chosen by,
in order: the ``name`` passed to :func:`get_backend`, :func:`set_backend`, the
``LSTM_MULTI_BACKEND`` environment variable, and otherwise the first installed of
:data:`DEFAULT_ORDER`.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from types import ModuleType

from .core.allocator import tune_malloc

ENV_VAR = "LSTM_MULTI_BACKEND"

#: backend name -> the top-level modules it needs (what ``find_spec`` looks for).
REQUIREMENTS = {
    "torch": ("torch",),
    "tensorflow": ("tensorflow", "keras"),
    "jax": ("jax", "flax", "optax"),
    "mxnet": ("mxnet",),
    "numpy": ("numpy",),  # the reference itself, float64: exact and slow, needs no framework
}
BACKENDS = tuple(REQUIREMENTS)
#: the frameworks (the ``numpy`` backend is the reference, chosen only by name).
FRAMEWORKS = ("torch", "tensorflow", "jax", "mxnet")
#: the default is the first of these that is installed.
DEFAULT_ORDER = ("torch", "jax", "tensorflow", "mxnet")

_chosen: str | None = None


class BackendError(Exception):
    """Base class of the errors raised while choosing a backend."""


class UnknownBackendError(BackendError, ValueError):
    """The name is not one of :data:`BACKENDS`."""


class BackendNotInstalledError(BackendError, ImportError):
    """The framework behind a valid backend name is not installed."""


def install_command(name: str) -> str:
    return "pip install lstm-multi" if name == "numpy" else f'pip install "lstm-multi[{name}]"'


def validate_name(name: str, source: str = "backend") -> str:
    """Return ``name`` if it is a backend, else raise :class:`UnknownBackendError`."""
    if name not in REQUIREMENTS:
        raise UnknownBackendError(f"Unknown {source} {name!r}. Valid backends: {', '.join(BACKENDS)}.")
    return name


def missing_modules(name: str) -> list[str]:
    """The modules backend ``name`` needs that cannot be imported (none imported)."""
    return [m for m in REQUIREMENTS[validate_name(name)] if importlib.util.find_spec(m) is None]


def is_available(name: str) -> bool:
    return not missing_modules(name)


def available_backends() -> list[str]:
    """The installed backends, in :data:`DEFAULT_ORDER`."""
    return [name for name in DEFAULT_ORDER if is_available(name)]


def set_backend(name: str | None) -> None:
    """Choose the backend for this process (``None`` goes back to the default rule)."""
    global _chosen
    _chosen = None if name is None else validate_name(name)


def backend_name(name: str | None = None) -> str:
    """Resolve the backend name without importing any framework."""
    if name is not None:
        return validate_name(name)
    if _chosen is not None:
        return _chosen
    from_env = os.environ.get(ENV_VAR, "").strip()
    if from_env:
        return validate_name(from_env, source=f"{ENV_VAR} value")
    installed = available_backends()
    if not installed:
        raise BackendNotInstalledError(
            f"No backend framework is installed. Install one of {', '.join(DEFAULT_ORDER)}, "
            f"for example: {install_command('torch')}; or choose the NumPy reference backend "
            f"({ENV_VAR}=numpy: exact, float64, slow)"
        )
    return installed[0]


def get_backend(name: str | None = None, device: str | None = None) -> ModuleType:
    """Import and return the backend module ``lstm_multi.backends.<name>``.

    The module implements the same API on every framework: ``LSTMScratch``,
    ``LSTM``, ``RNNLMScratch``, ``RNNLM``, ``get_params``, ``set_params``,
    ``loss_and_grads``, ``train_step``, ``evaluate_loss``, ``tensor``, ``to_numpy``,
    ``place``, ``current_device``.

    ``device``: where the backend's models and tensors go from now on in this process
    (``backend.place(device)``): torch ``"cpu"``, ``"cuda"``, ``"cuda:N"``; MXNet, JAX and
    TensorFlow ``"cpu"``, ``"gpu"``, ``"gpu:N"``; numpy ``"cpu"`` (:mod:`lstm_multi.core.device`).
    None keeps the current one; the default is the first GPU the framework sees, else the CPU.
    A wrong form or a GPU the framework does not see is a :class:`~lstm_multi.DeviceError`
    (a ``ValueError``) saying what it sees.
    """
    name = backend_name(name)
    missing = missing_modules(name)
    if missing:
        raise BackendNotInstalledError(
            f"Backend {name!r} needs {', '.join(missing)}, which is not installed. "
            f"Install it with: {install_command(name)}"
        )
    if device is not None:
        from .core.device import parse_device

        parse_device(name, device)  # the form, before any framework is imported
    tune_malloc()  # before the framework allocates anything (core/allocator.py; LSTM_MULTI_MALLOC)
    module = importlib.import_module(f"lstm_multi.backends.{name}")
    if device is not None:
        module.place(device)
    return module
