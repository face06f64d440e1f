"""lstm-multi: the same LSTM language models on PyTorch, TensorFlow, JAX and MXNet.

``import lstm_multi`` imports no framework; :func:`get_backend` imports the one
chosen (argument, :func:`set_backend`, ``LSTM_MULTI_BACKEND``, or the first installed).
"""

from typing import Any

from .backend import (
    BACKENDS,
    BackendError,
    BackendNotInstalledError,
    UnknownBackendError,
    available_backends,
    backend_name,
    get_backend,
    set_backend,
)
from .core.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from .core.data import CorpusError, TimeMachine, Vocab
from .core.device import DeviceError
from .core.distributed import request_host_devices
from .core.gates import gate_table, plot_gates, trace_text
from .core.module import DataModule, HyperParameters, Module
from .core.optim import SGD, Adam, make_optimizer
from .core.params import ParameterError, init_params
from .core.plot import plot_history
from .core.sampling import predict
from .core.tasks import NOISE_FLOOR, Parentheses, TimeSeries
from .core.tokenfile import TokenFile, prepare
from .core.trainer import Callback, EpochRecord, Trainer

__version__ = "0.1.0"

__all__ = [
    "Adam",
    "BACKENDS",
    "BackendError",
    "BackendNotInstalledError",
    "Callback",
    "Checkpoint",
    "CheckpointError",
    "CorpusError",
    "DataModule",
    "DeviceError",
    "EpochRecord",
    "HyperParameters",
    "Module",
    "NOISE_FLOOR",
    "Parentheses",
    "ParameterError",
    "SGD",
    "TimeMachine",
    "TimeSeries",
    "TokenFile",
    "Trainer",
    "UnknownBackendError",
    "Vocab",
    "available_backends",
    "backend_name",
    "gate_table",
    "get_backend",
    "init_params",
    "load_checkpoint",
    "make_optimizer",
    "plot_gates",
    "plot_history",
    "predict",
    "prepare",
    "request_host_devices",
    "save_checkpoint",
    "set_backend",
    "trace_text",
]


def __getattr__(name: str) -> Any:
    """``lstm_multi.exercises`` (the autograder), ``export`` (a checkpoint -> another runtime's
    file) and ``import_model`` (another framework's file -> a checkpoint) are imported when first used."""
    import importlib

    if name == "exercises":
        return importlib.import_module(f"{__name__}.exercises")
    if name == "export":
        return importlib.import_module(f"{__name__}.formats").export
    if name == "import_model":
        return importlib.import_module(f"{__name__}.formats.importing").import_model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
