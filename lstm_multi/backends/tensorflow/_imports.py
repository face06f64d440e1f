"""Imports TensorFlow and Keras 3 for this backend: quietly, and with Keras on TensorFlow.

Every file of the backend takes ``tf`` and ``keras`` from here, so this runs first.

* Start-up log: TensorFlow's C++ core (and absl, through it) prints info lines and
  warnings when it loads (CPU features, oneDNN, ``absl::InitializeLog``).
  ``TF_CPP_MIN_LOG_LEVEL`` is set to ``"2"`` (errors only) before ``tensorflow`` is
  imported, unless you set it yourself: ``TF_CPP_MIN_LOG_LEVEL=0`` shows everything.
  TensorFlow 2.21 logs some lines while loading before that setting is read (absl's
  pre-initialisation messages), so, unless the variable asks for them (0 or 1), the
  process's standard error is pointed at ``/dev/null`` while ``tensorflow`` is imported.
  A subprocess inherits ``TF_CPP_MIN_LOG_LEVEL=2`` from a process that imported the
  backend, and is as quiet.
* Keras 3 picks its backend once per process, when ``keras`` is first imported:
  ``KERAS_BACKEND``, else ``~/.keras/keras.json``, else TensorFlow. This backend needs
  TensorFlow-backed Keras. With ``KERAS_BACKEND`` unset, Keras is imported on TensorFlow
  whatever ``keras.json`` says (the variable is set for the import only and removed
  again). If ``KERAS_BACKEND`` names another framework, or ``keras`` was already
  imported on one, a :class:`~lstm_multi.backend.BackendError` says what to do; nothing
  is imported. Nothing here changes how torch or JAX compute in the same process
  (JAX's XLA runtime reads ``TF_CPP_MIN_LOG_LEVEL`` too: at most its info lines are
  hidden as well).
* Logical CPU devices: with ``LSTM_MULTI_HOST_DEVICES=N`` (N > 1, set by
  ``lstm_multi.request_host_devices`` and ``lstm-multi train --workers N``) the CPU is
  split into N logical devices before any TensorFlow op runs, one per data-parallel
  worker (``distributed.py``). They share the machine's cores.
"""

from __future__ import annotations

import contextlib
import os
import sys

from ...backend import BackendError
from ...core.distributed import HOST_DEVICES_VAR

_HOW = (
    "Keras chooses its backend once per process, at its first import. Unset KERAS_BACKEND "
    "or set KERAS_BACKEND=tensorflow before Python starts, or choose another lstm-multi "
    "backend (LSTM_MULTI_BACKEND=torch, jax or mxnet)."
)


@contextlib.contextmanager
def _native_stderr_silenced():
    """File descriptor 2 (what C++ writes to) goes to /dev/null inside the block."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _import_keras_on_tensorflow():
    if "keras" in sys.modules:
        import keras

        if keras.backend.backend() != "tensorflow":
            raise BackendError(
                f"The tensorflow backend needs Keras on TensorFlow, but Keras is "
                f"already imported on {keras.backend.backend()!r}. {_HOW}"
            )
        return keras
    original = os.environ.get("KERAS_BACKEND")
    if original and original != "tensorflow":
        raise BackendError(
            f"The tensorflow backend needs Keras on TensorFlow, but KERAS_BACKEND is {original!r}. {_HOW}"
        )
    level = os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before Keras imports TensorFlow
    quiet = level.strip() not in ("0", "1")  # info lines not asked for: hide the pre-initialisation log
    os.environ["KERAS_BACKEND"] = "tensorflow"  # for this import only: overrides keras.json
    try:
        with _native_stderr_silenced() if quiet else contextlib.nullcontext():
            import keras
    finally:
        if original is None:
            del os.environ["KERAS_BACKEND"]
        else:
            os.environ["KERAS_BACKEND"] = original
    return keras


def _split_host_cpu(tf) -> None:
    """``LSTM_MULTI_HOST_DEVICES=N`` (N > 1): the CPU as N logical devices, for data parallel
    on one machine (``lstm_multi.request_host_devices``). Only possible before TensorFlow's
    runtime starts (its first op); later, or when the CPU is already split, it stays as it is
    and ``DataParallel`` says how many devices it found."""
    count = os.environ.get(HOST_DEVICES_VAR, "").strip()
    if not count.isdigit() or int(count) < 2:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    if tf.config.get_logical_device_configuration(cpu) is not None:
        return
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(int(count))]
        )
    except RuntimeError:  # "Virtual devices cannot be modified after being initialized"
        pass


keras = _import_keras_on_tensorflow()
import tensorflow as tf  # noqa: E402  (Keras has imported it: after the settings above)

_split_host_cpu(tf)

__all__ = ["keras", "tf"]
