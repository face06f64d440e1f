"""Where the TensorFlow backend computes: ``cpu``, ``gpu`` or ``gpu:N``.

TensorFlow places every op on its first visible GPU when it has one. :func:`place` makes only
the chosen GPU visible, or none for ``cpu`` (``tf.config.set_visible_devices``), which TensorFlow
allows only before its runtime starts: choose the device before building a model. Parameters
leave the device only through NumPy, so a checkpoint never names one.
"""

from __future__ import annotations

from ...core.device import DeviceError, resolve_device
from ._imports import tf


def gpus() -> list:
    """The GPUs TensorFlow finds (``tf.config.list_physical_devices("GPU")``; starts no runtime)."""
    return tf.config.list_physical_devices("GPU")


def why_no_gpu() -> str:
    if not tf.test.is_built_with_cuda():
        return f"this build is CPU-only (tensorflow {tf.__version__})"
    return f"no GPU or driver is visible to this CUDA build (tensorflow {tf.__version__})"


def full_float32() -> None:
    """Multiply float32 matrices in float32 on a GPU too. NVIDIA GPUs since Ampere round their
    inputs to TF32 (a 10-bit mantissa) by default, about 1e-3 relative: the implementations
    would then differ from the reference by more than float32's tolerances. (The CPU computes
    in float32 whatever this says.)"""
    tf.config.experimental.enable_tensor_float_32_execution(False)


full_float32()  # on import: TensorFlow computes on its first GPU without being asked


def place(device: str | None = None) -> str:
    """Compute on ``device`` from now on in this process (None: the first GPU, else the CPU);
    returns its full name (``"cpu"``, ``"gpu:0"``)."""
    found = gpus()
    name = resolve_device("tensorflow", device, len(found), why_no_gpu(), framework="TensorFlow")
    visible = [] if name == "cpu" else [found[int(name.split(":")[1])]]
    if tf.config.get_visible_devices("GPU") != visible:
        try:
            tf.config.set_visible_devices(visible, "GPU")
        except RuntimeError as err:  # the runtime has started: its devices are fixed
            raise DeviceError(
                device or name,
                "TensorFlow has already started on its devices in this process; choose the device "
                "first (get_backend('tensorflow', device=...)) before building a model.",
            ) from err
    return name


def current_device() -> str:
    """``"cpu"`` when TensorFlow has no visible GPU, else ``"gpu:N"`` (its index among those it finds)."""
    visible = tf.config.get_visible_devices("GPU")
    return f"gpu:{gpus().index(visible[0])}" if visible else "cpu"
