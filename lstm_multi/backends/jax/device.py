"""Where the JAX backend computes: ``cpu``, ``gpu`` or ``gpu:N``.

JAX puts new arrays and jitted calls on its default device, the first GPU when it sees one;
:func:`place` sets that default for the process (``jax.config.update("jax_default_device",
...)``), so ``cpu`` forces the CPU. Batches become arrays there once per step (:func:`~.ops.tensor`);
parameters leave it only through NumPy, so a checkpoint never names a device.
"""

from __future__ import annotations

import jax

from ...core.device import resolve_device


def gpus() -> list:
    """This process's GPUs (``jax.local_devices(backend="gpu")``, which raises when there is none;
    in a multi-process run ``jax.devices()`` also lists the other processes' devices)."""
    try:
        return jax.local_devices(backend="gpu")
    except RuntimeError:
        return []


def why_no_gpu() -> str:
    platforms = ", ".join(sorted({d.platform for d in jax.devices()}))
    return f"its platforms are {platforms} (jax {jax.__version__}; a GPU needs jax[cuda12])"


def full_float32() -> None:
    """Multiply float32 matrices in float32 on a GPU too. NVIDIA GPUs since Ampere round their
    inputs to TF32 (a 10-bit mantissa) by default, about 1e-3 relative: the implementations
    would then differ from the reference by more than float32's tolerances. (The CPU computes
    in float32 whatever this says.)"""
    jax.config.update("jax_default_matmul_precision", "highest")


full_float32()  # on import: JAX computes on its first GPU without being asked


def place(device: str | None = None) -> str:
    """Compute on ``device`` from now on in this process (None: the first GPU, else the CPU);
    returns its full name (``"cpu"``, ``"gpu:0"``)."""
    seen = gpus()
    name = resolve_device("jax", device, len(seen), why_no_gpu(), framework="JAX")
    if seen:  # with no GPU, JAX's own default is this process's CPU: nothing to force
        chosen = jax.local_devices(backend="cpu")[0] if name == "cpu" else seen[int(name.split(":")[1])]
        jax.config.update("jax_default_device", chosen)
    return name


def current_device() -> str:
    """The full name of the device new arrays go to (``"cpu"``, ``"gpu:0"``)."""
    chosen = jax.config.jax_default_device or jax.local_devices()[0]
    return "cpu" if chosen.platform == "cpu" else f"gpu:{gpus().index(chosen)}"
