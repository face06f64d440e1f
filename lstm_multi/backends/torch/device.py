"""Where the torch backend's models and tensors live: ``cpu``, ``cuda`` or ``cuda:N``.

:func:`place` chooses it for the process (``get_backend("torch", device=...)``, ``--device``);
the layers and models move there when built (``module.to(current_device())``) and
:func:`~.ops.tensor` moves each batch there once. Parameters leave it only through NumPy
(:func:`~.ops.get_params`), so a checkpoint never names a device.
"""

from __future__ import annotations

import torch

from ...core.device import resolve_device

_current: torch.device | None = None  # None: not chosen yet (the default on first use)


def gpu_count() -> int:
    """The CUDA devices torch sees (``torch.cuda.device_count()``: 0 on a CPU-only build)."""
    return torch.cuda.device_count()


def why_no_gpu() -> str:
    if torch.version.cuda is None and torch.version.hip is None:
        return f"this build is CPU-only (torch {torch.__version__})"
    return f"no GPU or driver is visible to this CUDA build (torch {torch.__version__}; CUDA_VISIBLE_DEVICES?)"


def full_float32() -> None:
    """Multiply float32 matrices in float32 on a GPU too. NVIDIA GPUs since Ampere round their
    inputs to TF32 (a 10-bit mantissa) by default, about 1e-3 relative: the implementations
    would then differ from the reference by more than float32's tolerances. (The CPU computes
    in float32 whatever this says.)"""
    torch.backends.cuda.matmul.allow_tf32 = False  # (torch's default)
    torch.backends.cudnn.allow_tf32 = False  # nn.LSTM's cuDNN kernels: True by default


def place(device: str | None = None) -> str:
    """Use ``device`` from now on in this process (None: the first CUDA device, else the CPU);
    returns its full name (``"cpu"``, ``"cuda:0"``). Models built before stay where they are."""
    global _current
    name = resolve_device("torch", device, gpu_count(), why_no_gpu())
    _current = torch.device(name)
    if name != "cpu":
        full_float32()
    return name


def current_device() -> torch.device:
    """The device models and batches go to (chosen by :func:`place`; the default until then)."""
    if _current is None:
        place()
    assert _current is not None
    return _current
