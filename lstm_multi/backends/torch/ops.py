"""The PyTorch side of the backend API: tensors, parameters, gradients, the optimizer step."""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch.nn import functional as F

from ...core.optim import as_optimizer, export_kept_state, kept_state, restore_kept_state
from ...core.params import check_params
from .device import current_device


def tensor(array: ArrayLike | torch.Tensor) -> torch.Tensor:
    """NumPy (or torch) -> torch on the backend's device (:func:`~.device.place`): floats become
    float32, integers int64 (what one_hot and losses take). A batch is copied to a GPU once, here."""
    device = current_device()
    if isinstance(array, torch.Tensor):
        return array.to(device, torch.float32 if array.is_floating_point() else torch.int64)
    array = np.asarray(array)
    dtype = np.float32 if np.issubdtype(array.dtype, np.floating) else np.int64
    return torch.from_numpy(np.ascontiguousarray(array, dtype=dtype)).to(device)


def to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def concat(tensors: list[torch.Tensor], axis: int) -> torch.Tensor:
    return torch.cat(tensors, dim=axis)


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``logits (..., C)`` against integer ``targets (...)``: over all
    leading positions (the LM's ``(B, T, V)``, a classifier's ``(B, C)``)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1).long())


def mse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared error of ``outputs (B, 1)`` against ``targets (B,)``."""
    return torch.mean((outputs[:, 0] - targets) ** 2)


def named_parameters(module: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    """``{"rnn.W_x": Parameter, ...}``: every parameter by its attribute path (the native names)."""
    return dict(module.named_parameters())


def get_params(obj) -> dict[str, np.ndarray]:
    """Canonical parameters of a layer or LM, as float32 NumPy arrays, in canonical order.

    Copies: on the CPU ``.numpy()`` shares the parameter's memory, which the in-place
    training step then changes."""
    params = obj.to_canonical({name: to_numpy(p).copy() for name, p in named_parameters(obj).items()})
    return {name: params[name] for name in obj.canonical_shapes()}


def set_params(obj, params: dict) -> None:
    """Load canonical parameters (shapes checked first, with a clear error); frozen entries become 0."""
    check_params(params, obj.canonical_shapes(), what=type(obj).__name__)
    native = obj.from_canonical({k: np.asarray(v, dtype=np.float32) for k, v in params.items()})
    frozen = obj.frozen()
    with torch.no_grad():
        for name, p in named_parameters(obj).items():
            value = np.where(frozen[name], np.float32(0), native[name]) if name in frozen else native[name]
            p.copy_(torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32)))


def trained_parameters(model):
    """``[(name, parameter, keep)]`` for every parameter training updates; ``keep`` is the float32
    mask (0 on frozen entries) its gradient is multiplied by, or None. Cached on the model (the
    masks depend only on its architecture)."""
    cached = model.__dict__.get("_trained_parameters")
    if cached is None:
        frozen = model.frozen()
        cached = [
            (name, p, None if name not in frozen else torch.from_numpy((~frozen[name]).astype(np.float32)).to(p.device))
            for name, p in named_parameters(model).items()
            if p.requires_grad
        ]
        model.__dict__["_trained_parameters"] = cached
    return cached


@contextlib.contextmanager
def mode(model, training: bool):
    """``model`` in training (dropout on) or evaluation mode for a while, then as it was."""
    was = model.training
    model.train(training)
    try:
        yield
    finally:
        model.train(was)


def _batch(model, inputs, targets):
    """The model's checked batch (NumPy or torch) -> tensors."""
    inputs, targets = model.check_batch(inputs, targets)
    return tensor(inputs), tensor(targets)


def _loss_and_param_grads(model, inputs, targets, training: bool):
    """The loss, the trained parameters and their gradients (frozen entries zeroed), in training
    mode (dropout on) or not."""
    inputs, targets = _batch(model, inputs, targets)
    trained = trained_parameters(model)
    with mode(model, training):
        loss = model.loss(model(inputs), targets)
    params = [p for _, p, _ in trained]
    grads = list(torch.autograd.grad(loss, params))
    for i, (_, _, keep) in enumerate(trained):
        if keep is not None:
            grads[i] = grads[i] * keep  # before the norm and the update
    return loss, params, grads


def loss_and_grads(model, inputs, targets):
    """Mean loss (float) and its gradient for every canonical parameter (no dropout)."""
    loss, _, grads = _loss_and_param_grads(model, inputs, targets, training=False)
    native = {name: np.zeros(tuple(p.shape), np.float32) for name, p in named_parameters(model).items()}
    native.update({name: to_numpy(g) for (name, _, _), g in zip(trained_parameters(model), grads)})
    return loss.item(), model.to_canonical(native, grads=True)  # frozen entries: zeros


def train_step(model, inputs, targets, optimizer, clip: float | None) -> float:
    """One optimizer step (``core.optim.SGD`` or ``Adam``; a number is SGD's lr), gradients
    clipped to global norm ``clip``, dropout on; returns the loss before it.

    SGD updates in place, ``p += -lr * g`` (the same arithmetic as ``p - lr * g``); Adam runs
    :meth:`Adam.update <lstm_multi.core.optim.Adam.update>` itself on torch tensors, its slots
    (m, v) and step kept on the model (:func:`get_optimizer_state`).
    """
    optimizer = as_optimizer(optimizer)
    loss, params, grads = _loss_and_param_grads(model, inputs, targets, training=True)
    apply_gradients(model, params, grads, optimizer, clip)
    return loss.item()


def apply_gradients(model, params, grads, optimizer, clip: float | None) -> None:
    """Clip ``grads`` to global norm ``clip`` and update ``params`` in place (``train_step``'s second
    half; data-parallel workers call it with the averaged gradients)."""
    state = _optimizer_state(model, optimizer)
    state["step"] += 1
    with torch.no_grad():
        if clip is not None:
            norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
            torch._foreach_mul_(grads, torch.clamp(clip / norm, max=1.0))
        if not optimizer.slots:  # SGD
            torch._foreach_add_(params, grads, alpha=-optimizer.lr)
        else:
            names = [name for name, _, _ in trained_parameters(model)]
            slots = {slot: [state["slots"][slot][name] for name in names] for slot in optimizer.slots}
            new, slots = optimizer.update(params, grads, slots, state["step"], torch.sqrt)
            torch._foreach_copy_(params, new)
            state["slots"] = {slot: dict(zip(names, values)) for slot, values in slots.items()}


def _optimizer_state(model, optimizer):
    """Adam's m and v for the trained parameters, and the step (:func:`~lstm_multi.core.optim.kept_state`)."""
    return kept_state(model, optimizer, {name: p for name, p, _ in trained_parameters(model)}, torch.zeros_like)


def get_optimizer_state(model):
    """None before the first step; else the optimizer's name, step and slots in canonical names
    (NumPy float32; zeros for the parameters training does not update)."""
    shapes = {name: tuple(p.shape) for name, p in named_parameters(model).items()}
    return export_kept_state(model, shapes, to_numpy)


def set_optimizer_state(model, state) -> None:
    """Continue from a saved state (checked): the next step with an optimizer of its kind is ``step + 1``."""
    trained = {name: p for name, p, _ in trained_parameters(model)}
    restore_kept_state(
        model, state, trained, lambda value, p: torch.tensor(value, dtype=torch.float32, device=p.device)
    )


def evaluate(model, inputs, targets):
    """The mean loss (float) and the model's outputs (NumPy), in evaluation mode (no dropout,
    no gradients)."""
    inputs, targets = _batch(model, inputs, targets)
    with torch.no_grad(), mode(model, False):
        outputs = model(inputs)
        return model.loss(outputs, targets).item(), to_numpy(outputs)


def evaluate_loss(model, inputs, targets) -> float:
    """The mean loss in evaluation mode (no dropout, no gradients)."""
    inputs, targets = _batch(model, inputs, targets)
    with torch.no_grad(), mode(model, False):
        return model.loss(model(inputs), targets).item()
