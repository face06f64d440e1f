"""Where the MXNet backend computes: ``cpu``, ``gpu`` or ``gpu:N``.

Gluon creates parameters and arrays on MXNet's current context (``mx.current_context()``, what a
``with mx.gpu(0):`` block sets). :func:`place` makes the chosen context the current one for the
rest of the process (the ``with`` block entered and never left); the backend chooses the default,
the first GPU when MXNet sees one, when it is imported. Parameters leave the device only through
NumPy, so a checkpoint never names one.
"""

from __future__ import annotations

import os

import mxnet as mx

from ...core.device import resolve_device


def gpu_count() -> int:
    """The GPUs MXNet sees (``mx.context.num_gpus()``: 0 on a CPU-only build)."""
    return mx.context.num_gpus()


def why_no_gpu() -> str:
    if not mx.runtime.Features().is_enabled("CUDA"):
        return f"this build is CPU-only (mxnet {mx.__version__})"
    return f"no GPU or driver is visible to this CUDA build (mxnet {mx.__version__})"


def full_float32() -> None:
    """Multiply float32 matrices in float32 on a GPU too. NVIDIA GPUs since Ampere round their
    inputs to TF32 (a 10-bit mantissa) by default, about 1e-3 relative: the implementations
    would then differ from the reference by more than float32's tolerances. (The CPU computes
    in float32 whatever this says.)"""
    os.environ.setdefault("NVIDIA_TF32_OVERRIDE", "0")  # read by cuBLAS and cuDNN when MXNet first uses them


def place(device: str | None = None) -> str:
    """Compute on ``device`` from now on in this process (None: the first GPU, else the CPU);
    returns its full name (``"cpu"``, ``"gpu:0"``). Models built before stay where they are."""
    name = resolve_device("mxnet", device, gpu_count(), why_no_gpu(), framework="MXNet")
    context = mx.cpu() if name == "cpu" else mx.gpu(int(name.split(":")[1]))
    if name != "cpu":
        full_float32()
    context.__enter__()  # the current context from now on (on this thread, the one that trains)
    return name


def current_device() -> str:
    """The current context's full name (``"cpu"``, ``"gpu:0"``)."""
    context = mx.context.current_context()
    return "cpu" if context.device_type == "cpu" else f"gpu:{context.device_id}"
