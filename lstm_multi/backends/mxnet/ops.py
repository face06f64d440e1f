"""The MXNet side of the backend API: tensors, parameters, gradients, the SGD step."""

from __future__ import annotations

import numpy as onp  # NumPy itself; np below is MXNet's NumPy interface
from mxnet import autograd, init, np, npx

from ...core.checks import check_batch
from ...core.params import check_params


def tensor(array):
    """NumPy (or MXNet) -> MXNet: floats become float32, integers int32 (what one_hot and pick take)."""
    if isinstance(array, np.ndarray):
        floating = onp.issubdtype(array.dtype, onp.floating)
        return array.astype(onp.float32 if floating else onp.int32, copy=False)
    array = onp.asarray(array)
    if onp.issubdtype(array.dtype, onp.floating):
        return np.array(array, dtype=onp.float32)
    return np.array(array, dtype=onp.int32)


def to_numpy(t):
    return t.asnumpy()


def cross_entropy(logits, targets, fast: bool = False):
    """Mean cross-entropy of ``logits (B, T, V)`` against ``targets (B, T)``.

    ``log_softmax`` runs on MXNet's own kernel, within a few float32 round-offs of exact:
    ``temperature=1.0`` (the same function) keeps it off the oneDNN kernel, which is faster
    but 6x less exact (errors near 4e-6 in the log-probabilities, 1e-6 relative in the
    gradient). ``fast=True`` takes the oneDNN kernel: the training step does, since the
    update does not need the last digits (it costs ~20% of a concise step at V = 28).
    """
    options = {} if fast else {"temperature": 1.0}
    return -npx.pick(npx.log_softmax(logits, axis=-1, **options), targets, axis=-1).mean()


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
    """Canonical parameters of a layer or LM, as float32 NumPy arrays, in canonical order."""
    params = obj.to_canonical({name: to_numpy(p.data()) for name, p in named_parameters(obj).items()})
    return {name: params[name] for name in obj.canonical_shapes()}


def set_params(obj, params: dict) -> None:
    """Load canonical parameters (shapes checked first, with a clear error); frozen entries become 0."""
    check_params(params, obj.canonical_shapes(), what=type(obj).__name__)
    native = obj.from_canonical({k: onp.asarray(v, dtype=onp.float32) for k, v in params.items()})
    frozen = obj.frozen()
    for name, p in named_parameters(obj).items():
        value = native[name] * ~frozen[name] if name in frozen else native[name]
        p.set_data(np.array(value, dtype=onp.float32))


def trained_parameters(model):
    """``[(name, parameter, keep)]`` for every parameter training updates; ``keep`` is the float32
    mask (0 on frozen entries) its gradient is multiplied by, or None. Cached on the model."""
    cached = model.__dict__.get("_trained_parameters")
    if cached is None:
        frozen = model.frozen()
        cached = [(name, p, None if name not in frozen else np.array(~frozen[name], dtype=onp.float32))
                  for name, p in named_parameters(model).items() if p.grad_req != "null"]
        model.__dict__["_trained_parameters"] = cached
    return cached


def _batch(model, tokens, targets):
    """Checked batch (NumPy or MXNet arrays) -> MXNet tensors."""
    tokens, targets = check_batch(tokens, targets, model.vocab_size)
    return tensor(tokens), tensor(targets)


def _loss_and_param_grads(model, tokens, targets, train: bool):
    """The loss and ``[(name, parameter, gradient)]`` for every trained parameter, frozen entries
    of the gradients zeroed. ``train``: training mode (dropout on)."""
    tokens, targets = _batch(model, tokens, targets)
    with autograd.record(train_mode=train):
        loss = cross_entropy(model(tokens), targets, fast=train)
    loss.backward()
    grads = []
    for name, p, keep in trained_parameters(model):
        g = p.grad()
        if keep is not None:
            g *= keep  # in place, before the norm and the update
        grads.append((name, p, g))
    return loss, grads


def loss_and_grads(model, tokens, targets):
    """Mean cross-entropy (float) and its gradient for every canonical parameter (no dropout)."""
    loss, grads = _loss_and_param_grads(model, tokens, targets, train=False)
    native = {name: onp.zeros(p.shape, onp.float32) for name, p in named_parameters(model).items()}
    native.update({name: to_numpy(g) for name, _, g in grads})  # frozen: zeros
    return loss.item(), model.to_canonical(native, grads=True)


def train_step(model, tokens, targets, lr: float, clip: float | None) -> float:
    """One SGD step, gradients clipped to global norm ``clip``, dropout on; returns the loss before it."""
    loss, grads = _loss_and_param_grads(model, tokens, targets, train=True)
    scale = 1.0
    if clip is not None:
        norm = np.sqrt(sum((g ** 2).sum() for _, _, g in grads))
        scale = np.minimum(1.0, clip / norm)  # an MXNet scalar: no wait for the device
    for _, p, g in grads:
        data = p.data()
        data -= lr * scale * g  # in place
    return loss.item()


def evaluate_loss(model, tokens, targets) -> float:
    """The mean cross-entropy in prediction mode (no dropout, no gradients)."""
    tokens, targets = _batch(model, tokens, targets)
    return model.loss(model(tokens), targets).item()
