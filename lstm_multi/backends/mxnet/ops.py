"""The MXNet side of the backend API: tensors, parameters, gradients, the SGD step."""

from __future__ import annotations

import numpy as onp  # NumPy itself; np below is MXNet's NumPy interface
from mxnet import autograd, init, np, npx

from ...core.checks import check_batch
from ...core.params import check_params


def tensor(array):
    """NumPy -> MXNet: floats become float32, integers int32 (what one_hot and pick take)."""
    array = onp.asarray(array)
    if onp.issubdtype(array.dtype, onp.floating):
        return np.array(array, dtype=onp.float32)
    return np.array(array, dtype=onp.int32)


def to_numpy(t):
    return t.asnumpy()


def cross_entropy(logits, targets):
    """Mean cross-entropy of ``logits (B, T, V)`` against ``targets (B, T)``."""
    return -npx.pick(npx.log_softmax(logits, axis=-1), targets, axis=-1).mean()


def new_parameter(block, name, value):
    """A parameter of ``block`` named ``name``, holding the float32 NumPy array ``value``."""
    param = block.params.get(name, shape=value.shape, init=init.Zero())
    param.initialize()
    param.set_data(np.array(value, dtype=onp.float32))
    return param


def named_parameters(block, prefix=""):
    """``{"rnn.W_x": Parameter, ...}``: torch-style names, the attribute path to each parameter.

    (Gluon 1.x's own names carry a global counter, such as ``lstmscratch0_W_x``.)
    """
    params = {prefix + name: p for name, p in block._reg_params.items()}
    for name, child in block._children.items():
        params.update(named_parameters(child, f"{prefix}{name}."))
    return params


def get_params(obj) -> dict[str, onp.ndarray]:
    """Canonical parameters of an LSTM or LM, as float32 NumPy arrays."""
    return obj.to_canonical({name: to_numpy(p.data()) for name, p in named_parameters(obj).items()})


def set_params(obj, params: dict) -> None:
    """Load canonical parameters (shapes checked first, with a clear error)."""
    check_params(params, obj.canonical_shapes(), what=type(obj).__name__)
    native = obj.from_canonical({k: onp.asarray(v, dtype=onp.float32) for k, v in params.items()})
    for name, p in named_parameters(obj).items():
        p.set_data(np.array(native[name], dtype=onp.float32))


def _batch(model, tokens, targets):
    """Checked NumPy batch -> tensors."""
    tokens, targets = check_batch(tokens, targets, model.vocab_size)
    return tensor(tokens), tensor(targets)


def _loss_and_param_grads(model, tokens, targets):
    """The loss and ``{name: (parameter, gradient)}`` for every trained (not frozen) parameter."""
    tokens, targets = _batch(model, tokens, targets)
    with autograd.record():
        loss = model.loss(model(tokens), targets)
    loss.backward()
    return loss, {name: (p, p.grad()) for name, p in named_parameters(model).items()
                  if p.grad_req != "null"}


def loss_and_grads(model, tokens, targets):
    """Mean cross-entropy (float) and its gradient for every canonical parameter."""
    loss, params = _loss_and_param_grads(model, tokens, targets)
    return loss.item(), model.to_canonical({n: to_numpy(g) for n, (_, g) in params.items()}, grads=True)


def train_step(model, tokens, targets, lr: float, clip: float | None) -> float:
    """One SGD step, gradients clipped to global norm ``clip``; returns the loss before it."""
    loss, params = _loss_and_param_grads(model, tokens, targets)
    scale = 1.0
    if clip is not None:
        norm = np.sqrt(sum((g ** 2).sum() for _, g in params.values()))
        scale = np.minimum(1.0, clip / norm)  # an MXNet scalar: no wait for the device
    for p, g in params.values():
        data = p.data()
        data -= lr * scale * g  # in place
    return loss.item()


def evaluate_loss(model, tokens, targets) -> float:
    tokens, targets = _batch(model, tokens, targets)
    return model.loss(model(tokens), targets).item()
