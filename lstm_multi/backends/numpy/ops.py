"""The NumPy side of the backend API: arrays, parameters, gradients, the optimizer step (float64).

Gradients come from the reference's hand-written BPTT (each model's
``reference_loss_and_grads``: :func:`lstm_multi.reference.lm_loss_and_grads` or
:func:`lstm_multi.reference.heads.task_loss_and_grads`); a training step clips them by
global norm and applies the optimizer exactly as :func:`lstm_multi.reference.train` does,
so without dropout a training run here IS the reference's. With ``dropout > 0`` a training
step hands fresh inverted-dropout masks to the reference; evaluation never drops.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ...core.checks import as_numpy
from ...core.optim import Optimizer, as_optimizer, clip_scale, export_kept_state, kept_state, restore_kept_state
from ...core.params import check_params
from ...core.types import Params, State, Tensor
from ...reference import cross_entropy as reference_cross_entropy
from ...reference import trace as reference_trace

if TYPE_CHECKING:
    from .layers import ReferenceLayer
    from .lm import RNNLMScratch
    from .tasks import TaskModel

    Model = RNNLMScratch | TaskModel  # this backend's models


def tensor(array: Tensor) -> np.ndarray:
    """NumPy (or another backend's tensor) -> NumPy: floats become float64, integers int64."""
    array = as_numpy(array)
    if np.issubdtype(array.dtype, np.floating):
        return np.asarray(array, dtype=np.float64)
    return np.asarray(array, dtype=np.int64)


def to_numpy(t: Tensor) -> np.ndarray:
    """A copy as a NumPy array."""
    return np.array(as_numpy(t))


def concat(tensors: Sequence[np.ndarray], axis: int) -> np.ndarray:
    return np.concatenate(tensors, axis=axis)


def cross_entropy(logits: np.ndarray, targets: Tensor) -> float:
    """Mean cross-entropy of ``logits (..., C)`` against integer ``targets (...)`` (a float)."""
    return float(reference_cross_entropy(np.asarray(logits, np.float64), as_numpy(targets))[0])


def mse(outputs: np.ndarray, targets: Tensor) -> float:
    """Mean squared error of ``outputs (B, 1)`` against ``targets (B,)`` (a float)."""
    return float(np.mean((np.asarray(outputs, np.float64)[:, 0] - as_numpy(targets)) ** 2))


def get_params(obj: Model | ReferenceLayer) -> Params:
    """Canonical parameters of a layer or model, as float32 NumPy arrays (copies)."""
    return obj.to_canonical({name: value.astype(np.float32) for name, value in obj.native_params().items()})


def set_params(obj: Model | ReferenceLayer, params: Params) -> None:
    """Load canonical parameters (shapes checked first, with a clear error), stored as float64."""
    check_params(params, obj.canonical_shapes(), what=type(obj).__name__)
    obj.load_native(obj.from_canonical({k: np.asarray(v, dtype=np.float64) for k, v in params.items()}))


def loss_and_grads(model: Model, inputs: Tensor, targets: Tensor) -> tuple[float, Params]:
    """Mean loss (float) and its gradient (float64) for every canonical parameter, in evaluation
    mode (no dropout): the reference's own."""
    inputs, targets = model.check_batch(inputs, targets)
    loss, grads = model.reference_loss_and_grads(inputs, targets)
    return loss, {name: grads[name] for name in model.canonical_shapes()}


def train_step(
    model: Model, inputs: Tensor, targets: Tensor, optimizer: Optimizer | float, clip: float | None
) -> float:
    """One optimizer step (SGD or Adam; a number is SGD's lr), gradients clipped to global norm
    ``clip`` as :func:`lstm_multi.reference.train` does; dropout on. Returns the loss before it."""
    optimizer = as_optimizer(optimizer)
    inputs, targets = model.check_batch(inputs, targets)
    masks = model.rnn.dropout_masks(inputs.shape[1], inputs.shape[0])
    loss, grads = model.reference_loss_and_grads(inputs, targets, masks)
    grads = {name: grads[name] for name in model.canonical_shapes()}
    scale = clip_scale(float(np.sqrt(sum(np.sum(g**2) for g in grads.values()))), clip)
    native, native_grads = model.native_params(), model.from_canonical(grads)
    names = list(native)
    state = kept_state(model, optimizer, native, np.zeros_like)
    state["step"] += 1
    params, state["slots"] = optimizer.update(
        [native[n] for n in names],
        [native_grads[n] * scale for n in names],
        {slot: [state["slots"][slot][n] for n in names] for slot in optimizer.slots},
        state["step"],
        np.sqrt,
    )
    state["slots"] = {slot: dict(zip(names, values)) for slot, values in state["slots"].items()}
    model.load_native(dict(zip(names, params)))
    return loss


def get_optimizer_state(model: Model) -> dict[str, Any] | None:
    """``None`` before the first step; else name, step and slots in canonical names (float32)."""
    return export_kept_state(model, {n: p.shape for n, p in model.native_params().items()}, np.asarray)


def set_optimizer_state(model: Model, state: dict[str, Any]) -> None:
    """Continue from a saved state: the next step with an optimizer of its kind is ``step + 1``."""
    restore_kept_state(model, state, model.native_params(), lambda value, p: np.asarray(value, np.float64))


def evaluate(model: Model, inputs: Tensor, targets: Tensor) -> tuple[float, np.ndarray]:
    """The mean loss (float) and the model's outputs (NumPy), without any update (no dropout)."""
    inputs, targets = model.check_batch(inputs, targets)
    outputs = model(inputs)
    return float(model.loss(outputs, targets)), np.asarray(outputs)


def evaluate_loss(model: Model, inputs: Tensor, targets: Tensor) -> float:
    """The mean loss without any update (no dropout)."""
    return evaluate(model, inputs, targets)[0]


def trace(layer: ReferenceLayer, X: Tensor, state: State | None = None) -> dict[str, np.ndarray]:
    """Every gate and state of ``layer`` per step, each ``(T, B, h)``: the reference's trace."""
    X, state = layer.check_input(X, state)
    return reference_trace(layer.config, layer.params, X, state)
