"""Where a backend computes: the ``device`` values each backend accepts, parsed and checked here,
once for every framework (each ``backends/<name>/device.py`` asks its framework what it sees
and places its tensors there).

Accepted values::

    torch                  cpu, cuda, cuda:N
    mxnet, jax, tensorflow cpu, gpu, gpu:N
    numpy                  cpu

``cuda`` / ``gpu`` is the framework's first GPU (index 0); ``None`` (the default) is the first GPU
when the framework sees one, else the CPU.
"""

from __future__ import annotations

import re

#: backend -> the name of its GPUs in a device value ("cuda:1", "gpu:1"); None: CPU only.
ACCELERATOR = {"torch": "cuda", "mxnet": "gpu", "jax": "gpu", "tensorflow": "gpu", "numpy": None}
#: backend -> how its framework calls one GPU, for the messages.
GPU_WORD = {"torch": "CUDA device", "mxnet": "GPU", "jax": "GPU", "tensorflow": "GPU", "numpy": "GPU"}


class DeviceError(ValueError):
    """A device value of the wrong form, or one the framework does not see.

    ``str(err)`` is ``"device 'cuda:1': <reason>"``; the command line says ``--device cuda:1: <reason>``.
    """

    def __init__(self, value: str, reason: str):
        super().__init__(f"device {value!r}: {reason}")
        self.value, self.reason = value, reason


def valid_forms(backend: str) -> str:
    """``"cpu, cuda, cuda:N (N the GPU's index)"``: what ``backend`` accepts."""
    accelerator = ACCELERATOR[backend]
    return "cpu" if accelerator is None else f"cpu, {accelerator}, {accelerator}:N (N the GPU's index)"


def parse_device(backend: str, value: str) -> int | None:
    """The GPU index ``value`` asks for (``cuda`` / ``gpu``: 0), or None for the CPU.

    Checks the form only (no framework is asked): a value of another form is a
    :class:`DeviceError` naming the valid forms for ``backend``."""
    if value == "cpu":
        return None
    accelerator = ACCELERATOR[backend]
    match = re.fullmatch(rf"{accelerator}(?::(\d+))?", value) if accelerator else None
    if match is None:
        only = " (it runs on the CPU only)" if accelerator is None else ""
        raise DeviceError(value, f"not a device the {backend} backend takes{only}; valid: {valid_forms(backend)}.")
    return int(match.group(1) or 0)


def device_name(backend: str, index: int | None) -> str:
    """``"cpu"`` for None, else ``"cuda:0"`` (torch) or ``"gpu:0"`` (the others)."""
    return "cpu" if index is None else f"{ACCELERATOR[backend]}:{index}"


def resolve_device(backend: str, value: str | None, gpus: int, why_none: str, framework: str | None = None) -> str:
    """The device to use, in its full name (``"cpu"``, ``"cuda:0"``, ``"gpu:1"``), checked against
    the ``gpus`` GPUs the framework sees (``why_none``: why it sees none, for the message).

    ``value`` None: the first GPU when there is one, else the CPU. A GPU the framework does not
    see is a :class:`DeviceError` that says what it sees, e.g. ``"device 'cuda:1': torch sees
    1 CUDA device (cuda:0); valid here: cpu, cuda, cuda:0."``
    """
    if value is None:
        return device_name(backend, 0 if gpus else None)
    index = parse_device(backend, value)
    if index is None or index < gpus:
        return device_name(backend, index)
    framework = framework or backend
    word = GPU_WORD[backend]
    if gpus == 0:
        raise DeviceError(value, f"{framework} sees no {word}; {why_none}. Use cpu.")
    seen = [device_name(backend, i) for i in range(gpus)]
    raise DeviceError(
        value,
        f"{framework} sees {gpus} {word}{'s' if gpus > 1 else ''} ({', '.join(seen)}); "
        f"valid here: cpu, {ACCELERATOR[backend]}, {', '.join(seen)}.",
    )
