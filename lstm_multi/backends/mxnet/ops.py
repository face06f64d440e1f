"""The MXNet side of the backend API: tensors, parameters, gradients, the optimizer step.

One path for every model kind (language model, classifier, regressor): the batch is
checked by the model (``model.check_batch``), converted with :func:`tensor`, run as
``model(inputs)`` and scored by ``model.loss`` (cross-entropy, or the regressor's MSE).
"""

from __future__ import annotations

import numpy as onp  # NumPy itself; np below is MXNet's NumPy interface
from mxnet import autograd, init, np, npx

from ...core.optim import as_optimizer, export_kept_state, kept_state, restore_kept_state
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


def concat(tensors, axis: int):
    return np.concatenate(tensors, axis=axis)


def cross_entropy(logits, targets, fast: bool | None = None):
    """Mean cross-entropy of ``logits (..., C)`` against ``targets (...)``, over all leading
    positions (an LM's ``(B, T, V)``, a classifier's ``(B, C)``).

    ``log_softmax`` runs on MXNet's own kernel, within a few float32 round-offs of exact:
    ``temperature=1.0`` (the same function) keeps it off the oneDNN kernel, which is faster
    but 6x less exact (errors near 4e-6 in the log-probabilities, 1e-6 relative in the
    gradient). ``fast=True`` takes the oneDNN kernel; ``None`` (the default) takes it in
    training mode only (:func:`train_step` records in it): the update does not need the
    last digits (it costs ~20% of a concise step at V = 28).
    """
    if fast is None:
        fast = autograd.is_training()
    options = {} if fast else {"temperature": 1.0}
    return -npx.pick(npx.log_softmax(logits, axis=-1, **options), targets, axis=-1).mean()


def mse(outputs, targets):
    """Mean squared error of ``outputs (B, 1)`` against ``targets (B,)`` (an MXNet scalar)."""
    return ((outputs[:, 0] - targets) ** 2).mean()


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
    """Canonical parameters of a layer or model, as float32 NumPy arrays, in canonical order."""
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
        cached = [
            (name, p, None if name not in frozen else np.array(~frozen[name], dtype=onp.float32))
            for name, p in named_parameters(model).items()
            if p.grad_req != "null"
        ]
        model.__dict__["_trained_parameters"] = cached
    return cached


def _batch(model, inputs, targets):
    """The model's checked batch (NumPy or MXNet arrays) -> MXNet tensors."""
    inputs, targets = model.check_batch(inputs, targets)
    return tensor(inputs), tensor(targets)


def _backward(model, inputs, targets, train: bool):
    """The batch's loss, its gradients left in every parameter's ``grad()`` (the current
    context's copy). ``train``: training mode (dropout on)."""
    inputs, targets = _batch(model, inputs, targets)
    with autograd.record(train_mode=train):
        loss = model.loss(model(inputs), targets)
    loss.backward()
    return loss


def _trained_gradients(model):
    """``[(name, parameter, gradient)]`` for every trained parameter (the current context's
    gradients), frozen entries zeroed in place, before the norm and the update."""
    grads = []
    for name, p, keep in trained_parameters(model):
        g = p.grad()
        if keep is not None:
            g *= keep
        grads.append((name, p, g))
    return grads


def _loss_and_param_grads(model, inputs, targets, train: bool):
    """The loss and ``[(name, parameter, gradient)]`` for every trained parameter, frozen entries
    of the gradients zeroed. ``train``: training mode (dropout on)."""
    loss = _backward(model, inputs, targets, train)
    return loss, _trained_gradients(model)


def loss_and_grads(model, inputs, targets):
    """Mean loss (float) and its gradient for every canonical parameter (no dropout)."""
    loss, grads = _loss_and_param_grads(model, inputs, targets, train=False)
    native = {name: onp.zeros(p.shape, onp.float32) for name, p in named_parameters(model).items()}
    native.update({name: to_numpy(g) for name, _, g in grads})  # frozen: zeros
    return loss.item(), model.to_canonical(native, grads=True)


def train_step(model, inputs, targets, optimizer, clip: float | None) -> float:
    """One optimizer step (``core.optim.SGD`` or ``Adam``; a number is SGD's lr), gradients
    clipped to global norm ``clip``, dropout on; returns the loss before it
    (:func:`apply_gradients`)."""
    loss, grads = _loss_and_param_grads(model, inputs, targets, train=True)
    apply_gradients(model, grads, optimizer, clip)
    return loss.item()


def apply_gradients(model, grads, optimizer, clip: float | None) -> None:
    """The update of ``grads`` (``[(name, parameter, gradient)]``, frozen entries already zero):
    clipped to global norm ``clip``, then one step of ``optimizer``, in place on ``p.data()``
    (the current context's copy; :class:`~.distributed.DataParallel` copies it to the others).

    The update is :meth:`optimizer.update <lstm_multi.core.optim.Adam.update>` itself, run in
    MXNet arrays (asynchronous, nothing waits for the device until the loss is read); its
    slots (Adam's m and v) and step live on the model.
    """
    optimizer = as_optimizer(optimizer)
    if clip is not None:
        norm = np.sqrt(sum((g**2).sum() for _, _, g in grads))
        scale = np.minimum(1.0, clip / norm)  # an MXNet scalar: no wait for the device
        for _, _, g in grads:
            g *= scale  # in place
    state = _optimizer_state(model, optimizer)
    state["step"] += 1
    names = [name for name, _, _ in grads]
    slots = {slot: [state["slots"][slot][name] for name in names] for slot in optimizer.slots}
    new, slots = optimizer.update(
        [p.data() for _, p, _ in grads], [g for _, _, g in grads], slots, state["step"], np.sqrt
    )
    for (_, p, _), value in zip(grads, new):
        p.data()[:] = value  # in place
    state["slots"] = {slot: dict(zip(names, values)) for slot, values in slots.items()}


def _optimizer_state(model, optimizer):
    """Adam's m and v for the trained parameters, and the step (:func:`~lstm_multi.core.optim.kept_state`)."""
    trained = {name: p for name, p, _ in trained_parameters(model)}
    return kept_state(model, optimizer, trained, lambda p: np.zeros(p.shape, dtype=onp.float32))


def get_optimizer_state(model):
    """None before the first step; else the optimizer's name, step and slots in canonical names
    (NumPy float32; zeros for the parameters training does not update)."""
    return export_kept_state(model, {name: p.shape for name, p in named_parameters(model).items()}, to_numpy)


def set_optimizer_state(model, state) -> None:
    """Continue from a saved state (checked): the next step with an optimizer of its kind is ``step + 1``."""
    trained = {name: p for name, p, _ in trained_parameters(model)}
    restore_kept_state(model, state, trained, lambda value, p: np.array(value, dtype=onp.float32))


def evaluate(model, inputs, targets):
    """The mean loss (float) and the model's outputs (NumPy), in prediction mode (no dropout,
    no gradients)."""
    inputs, targets = _batch(model, inputs, targets)
    outputs = model(inputs)
    return model.loss(outputs, targets).item(), to_numpy(outputs)


def evaluate_loss(model, inputs, targets) -> float:
    """The mean loss in prediction mode (no dropout, no gradients)."""
    inputs, targets = _batch(model, inputs, targets)
    return model.loss(model(inputs), targets).item()
