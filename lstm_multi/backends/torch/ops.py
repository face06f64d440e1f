"""The PyTorch side of the backend API: tensors, parameters, gradients, the SGD step."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from ...core.checks import check_batch
from ...core.params import check_params


def tensor(array):
    """NumPy -> torch: floats become float32, integers int64 (what one_hot and losses take)."""
    array = np.asarray(array)
    if np.issubdtype(array.dtype, np.floating):
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.int64))


def to_numpy(t):
    return t.detach().cpu().numpy()


def cross_entropy(logits, targets):
    """Mean cross-entropy of ``logits (B, T, V)`` against ``targets (B, T)``."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1).long())


def get_params(obj) -> dict[str, np.ndarray]:
    """Canonical parameters of an LSTM or LM, as float32 NumPy arrays."""
    return obj.to_canonical({name: to_numpy(p) for name, p in obj.named_parameters()})


def set_params(obj, params: dict) -> None:
    """Load canonical parameters (shapes checked first, with a clear error)."""
    check_params(params, obj.canonical_shapes(), what=type(obj).__name__)
    native = obj.from_canonical({k: np.asarray(v, dtype=np.float32) for k, v in params.items()})
    with torch.no_grad():
        for name, p in obj.named_parameters():
            p.copy_(torch.from_numpy(np.ascontiguousarray(native[name])))


def _batch(model, tokens, targets):
    """Checked NumPy batch -> tensors."""
    tokens, targets = check_batch(tokens, targets, model.vocab_size)
    return tensor(tokens), tensor(targets)


def _loss_and_param_grads(model, tokens, targets):
    tokens, targets = _batch(model, tokens, targets)
    loss = model.loss(model(tokens), targets)
    params = [p for p in model.parameters() if p.requires_grad]
    return loss, params, torch.autograd.grad(loss, params)


def loss_and_grads(model, tokens, targets):
    """Mean cross-entropy (float) and its gradient for every canonical parameter."""
    loss, _, grads = _loss_and_param_grads(model, tokens, targets)
    names = [name for name, p in model.named_parameters() if p.requires_grad]
    return loss.item(), model.to_canonical({n: to_numpy(g) for n, g in zip(names, grads)}, grads=True)


def train_step(model, tokens, targets, lr: float, clip: float | None) -> float:
    """One SGD step, gradients clipped to global norm ``clip``; returns the loss before it."""
    loss, params, grads = _loss_and_param_grads(model, tokens, targets)
    with torch.no_grad():
        if clip is not None:
            norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
            torch._foreach_mul_(grads, torch.clamp(clip / norm, max=1.0))
        torch._foreach_add_(params, grads, alpha=-lr)
    return loss.item()


def evaluate_loss(model, tokens, targets) -> float:
    tokens, targets = _batch(model, tokens, targets)
    with torch.no_grad():
        return model.loss(model(tokens), targets).item()
