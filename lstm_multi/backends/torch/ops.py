"""The PyTorch side of the backend API: tensors, parameters, gradients, the SGD step."""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch.nn import functional as F

from ...core.checks import check_batch
from ...core.params import check_params


def tensor(array):
    """NumPy (or torch) -> torch: floats become float32, integers int64 (what one_hot and losses take)."""
    if isinstance(array, torch.Tensor):
        return array.to(torch.float32 if array.is_floating_point() else torch.int64)
    array = np.asarray(array)
    if np.issubdtype(array.dtype, np.floating):
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.int64))


def to_numpy(t):
    return t.detach().cpu().numpy()


def cross_entropy(logits, targets):
    """Mean cross-entropy of ``logits (B, T, V)`` against ``targets (B, T)``."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1).long())


def named_parameters(module) -> dict:
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
    """``[(parameter, keep)]`` for every parameter training updates; ``keep`` is the float32 mask
    (0 on frozen entries) its gradient is multiplied by, or None. Cached on the model (the
    masks depend only on its architecture)."""
    cached = model.__dict__.get("_trained_parameters")
    if cached is None:
        frozen = model.frozen()
        cached = [(p, None if name not in frozen else torch.from_numpy((~frozen[name]).astype(np.float32)))
                  for name, p in named_parameters(model).items() if p.requires_grad]
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


def _batch(model, tokens, targets):
    """Checked batch (NumPy or torch) -> tensors."""
    tokens, targets = check_batch(tokens, targets, model.vocab_size)
    return tensor(tokens), tensor(targets)


def _loss_and_param_grads(model, tokens, targets, training: bool):
    """The loss, the trained parameters and their gradients, frozen entries zeroed."""
    tokens, targets = _batch(model, tokens, targets)
    trained = trained_parameters(model)
    with mode(model, training):
        loss = model.loss(model(tokens), targets)
    params = [p for p, _ in trained]
    grads = list(torch.autograd.grad(loss, params))
    for i, (_, keep) in enumerate(trained):
        if keep is not None:
            grads[i] = grads[i] * keep.to(grads[i].device)  # before the norm and the update
    return loss, params, grads


def loss_and_grads(model, tokens, targets):
    """Mean cross-entropy (float) and its gradient for every canonical parameter (no dropout)."""
    loss, params, grads = _loss_and_param_grads(model, tokens, targets, training=False)
    native = {name: np.zeros(tuple(p.shape), np.float32) for name, p in named_parameters(model).items()}
    names = {id(p): name for name, p in named_parameters(model).items()}
    native.update({names[id(p)]: to_numpy(g) for p, g in zip(params, grads)})  # frozen: zeros
    return loss.item(), model.to_canonical(native, grads=True)


def train_step(model, tokens, targets, lr: float, clip: float | None) -> float:
    """One SGD step, gradients clipped to global norm ``clip``, dropout on; returns the loss before it."""
    loss, params, grads = _loss_and_param_grads(model, tokens, targets, training=True)
    with torch.no_grad():
        if clip is not None:
            norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
            torch._foreach_mul_(grads, torch.clamp(clip / norm, max=1.0))
        torch._foreach_add_(params, grads, alpha=-lr)
    return loss.item()


def evaluate_loss(model, tokens, targets) -> float:
    """The mean cross-entropy in evaluation mode (no dropout, no gradients)."""
    tokens, targets = _batch(model, tokens, targets)
    with torch.no_grad(), mode(model, False):
        return model.loss(model(tokens), targets).item()
