"""The TensorFlow side of the backend API: tensors, parameters, gradients, the optimizer step.

One path for every kind of model (the language model and the task models): each batch is
checked in NumPy by ``model.check_batch`` (NumPy arrays and TensorFlow tensors are both
accepted) before it becomes a tensor, then ``outputs = model.forward(inputs)`` (the model
without its eager shape checks) and ``model.loss(outputs, targets)``.

The loss, its gradients, the evaluation and the training step run as ``tf.function``
graphs, one of each per model (:func:`compiled`; the training step one per optimizer
class), traced once: their input_signature leaves batch size and num_steps open, so a
last, smaller batch is no new trace, and the clipping norm and the optimizer's
hyperparameters (learning rate, Adam's betas and eps) are float32 scalar tensors, so a
new value is none either. Gradients come from ``tf.GradientTape``. Only the training
step runs the layer with dropout (``training=True``); it first multiplies the gradient of
every frozen entry (``model.frozen()``: the duplicate second-bias blocks of Keras' GRU) by
0, so the global norm and the update see exactly the canonical parameters, clips by
global norm, and applies :meth:`SGD.update <lstm_multi.core.optim.SGD.update>` or
:meth:`Adam.update <lstm_multi.core.optim.Adam.update>` to the variables inside the
graph. Adam's slots and the step counter are variables kept with the model
(:class:`OptimizerState`).
"""

from __future__ import annotations

import dataclasses
import functools
import types

import numpy as np

from ...core.optim import OPTIMIZERS, as_optimizer, canonical_state, native_state
from ...core.params import check_params
from ._imports import tf

TOKENS = tf.TensorSpec([None, None], tf.int32)
SCALAR = tf.TensorSpec([], tf.float32)


def tensor(array):
    """NumPy -> TensorFlow: floats become float32, integers int32 (what one_hot and losses take)."""
    array = np.asarray(array)
    if np.issubdtype(array.dtype, np.floating):
        return tf.constant(array, dtype=tf.float32)
    return tf.constant(array, dtype=tf.int32)


def to_numpy(t):
    return np.asarray(t)


def concat(tensors, axis: int):
    return tf.concat(tensors, axis=axis)


def cross_entropy(logits, targets):
    """Mean cross-entropy of ``logits (..., C)`` against integer ``targets (...)``, over all positions."""
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits))


def mse(outputs, targets):
    """Mean squared error of ``outputs (B, 1)`` against ``targets (B,)``."""
    return tf.reduce_mean(tf.square(outputs[:, 0] - targets))


def get_params(obj) -> dict[str, np.ndarray]:
    """Canonical parameters of a layer or model, as float32 NumPy arrays, in canonical order."""
    params = obj.to_canonical({name: to_numpy(v) for name, v in obj.named_variables().items()})
    return {name: params[name] for name in obj.canonical_shapes()}


def set_params(obj, params: dict) -> None:
    """Load canonical parameters (shapes checked first, with a clear error); frozen entries 0."""
    check_params(params, obj.canonical_shapes(), what=type(obj).__name__)
    native = obj.from_canonical({k: np.asarray(v, dtype=np.float32) for k, v in params.items()})
    _assign_native(obj, obj.named_variables(), native)


def _assign_native(model, variables, native):
    """``variables[name].assign(native[name])`` with the frozen entries at 0."""
    frozen = model.frozen()
    for name, v in variables.items():
        v.assign(np.where(frozen[name], 0, native[name]) if name in frozen else native[name])


def batch_signature(model):
    """The specs of a checked batch: the LM's ``(B, T)`` token ids and targets, a classifier's
    ``(B, T)`` ids and ``(B,)`` labels, a regressor's ``(B, T)`` values and ``(B,)`` targets."""
    task = getattr(model, "task", None)
    if task is None:
        return (TOKENS, TOKENS)
    dtype = tf.int32 if task == "classification" else tf.float32
    return (tf.TensorSpec([None, None], dtype), tf.TensorSpec([None], dtype))


def _batch(model, inputs, targets):
    """Checked NumPy batch -> tensors."""
    inputs, targets = model.check_batch(inputs, targets)
    return tensor(inputs), tensor(targets)


def _loss(model, inputs, targets, training=False):
    return model.loss(model.forward(inputs, training=training), targets)


def _evaluate(model, inputs, targets):
    outputs = model.forward(inputs)
    return model.loss(outputs, targets), outputs


def _loss_and_param_grads(model, inputs, targets, training=False):
    """The loss and the gradient of every native variable (dense: ``tf.gather`` gives slices)."""
    with tf.GradientTape() as tape:
        loss = _loss(model, inputs, targets, training)
    grads = tape.gradient(loss, list(model.named_variables().values()))
    return loss, [tf.convert_to_tensor(g) for g in grads]


def _without_frozen(model, grads):
    """Gradients with the frozen entries (``model.frozen()``) multiplied by 0."""
    frozen = model.frozen()
    return [
        g * (~frozen[name]).astype(np.float32) if name in frozen else g
        for name, g in zip(model.named_variables(), grads)
    ]


class OptimizerState:
    """One optimizer's state for one model: its step counter ``t`` and its slots (Adam's
    ``"m"``, ``"v"``), one variable shaped like each native variable, in ``named_variables``
    order; all zero at the start. Not a ``tf.Module``, so the model's variables stay its own.
    """

    def __init__(self, model, optimizer_class):
        self.name = optimizer_class.name
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.slots = {
            slot: [tf.Variable(tf.zeros_like(v), trainable=False, name=slot) for v in model.named_variables().values()]
            for slot in optimizer_class.slots
        }

    def reset(self):
        self.step.assign(0)
        for variables in self.slots.values():
            for v in variables:
                v.assign(tf.zeros_like(v))


def _optimizer_state(model, optimizer_class, restart: bool) -> OptimizerState:
    """The model's state for ``optimizer_class`` (made once: the compiled step holds its
    variables), now the current one; ``restart``: back to zeros if another optimizer was."""
    states = model.__dict__.setdefault("_optimizer_states", {})  # not tracked by tf.Module
    state = states.get(optimizer_class.name)
    if state is None:
        state = states[optimizer_class.name] = OptimizerState(model, optimizer_class)
    elif restart and model.__dict__.get("_optimizer_name") != optimizer_class.name:
        state.reset()
    model.__dict__["_optimizer_name"] = optimizer_class.name
    return state


def _optimizer_step(model, optimizer_class, inputs, targets, clip, hyperparameters):
    """Loss and gradients with dropout on, frozen entries 0, clipped by global norm
    (``min(1, clip / ||g||)``), then ``optimizer_class.update`` on the variables with its
    hyperparameters as tensors; returns the loss before the update."""
    loss, grads = _loss_and_param_grads(model, inputs, targets, training=True)
    apply_gradients(model, optimizer_class, grads, clip, hyperparameters)
    return loss


def apply_gradients(model, optimizer_class, grads, clip, hyperparameters):
    """The update of :func:`_optimizer_step` from given native gradients (one per variable, in
    ``named_variables`` order): frozen entries 0, clipped by global norm, ``optimizer_class.update``
    on the variables and the current :class:`OptimizerState`. Traced inside a ``tf.function``."""
    grads = _without_frozen(model, grads)
    scale = tf.minimum(1.0, clip / tf.linalg.global_norm(grads))
    state = model.__dict__["_optimizer_states"][optimizer_class.name]
    step = state.step.assign_add(1)
    names = [f.name for f in dataclasses.fields(optimizer_class)]
    optimizer = types.SimpleNamespace(**dict(zip(names, hyperparameters)))  # fields as tensors
    variables = list(model.named_variables().values())
    params, slots = optimizer_class.update(
        optimizer,
        [tf.convert_to_tensor(v) for v in variables],
        [g * scale for g in grads],
        {slot: [tf.convert_to_tensor(v) for v in state.slots[slot]] for slot in optimizer_class.slots},
        tf.cast(step, tf.float32),
        tf.sqrt,
    )
    for v, value in zip(variables, params):
        v.assign(value)
    for slot, values in slots.items():
        for v, value in zip(state.slots[slot], values):
            v.assign(value)


def _signature(model, fn, static):
    """``fn``'s input_signature: the batch, then the step's clip and hyperparameters."""
    if fn is _optimizer_step:
        (optimizer_class,) = static
        return batch_signature(model) + (SCALAR, (SCALAR,) * len(dataclasses.fields(optimizer_class)))
    return batch_signature(model)


def compiled(model, fn, *static):
    """``fn(model, *static, *tensors)`` as a ``tf.function`` of this model, made once for these
    ``static`` arguments (the optimizer class of a training step) and traced once."""
    functions = model.__dict__.setdefault("_tf_functions", {})  # not tracked by tf.Module
    key = (fn, *static)
    if key not in functions:
        # autograph off: the steps are straight-line code (a layer's time loop is its own
        # tf.function), and converting them took a fifth of each trace
        functions[key] = tf.function(
            functools.partial(fn, model, *static),
            input_signature=_signature(model, fn, static),
            autograph=False,
            # XLA for the gradient steps only: evaluation is cheap, and XLA compiles each new batch shape
            jit_compile=model.rnn.jit_compile and fn in (_loss_and_param_grads, _optimizer_step),
        )
    return functions[key]


def loss_and_grads(model, inputs, targets):
    """Mean loss (float, no dropout) and its gradient for every canonical parameter."""
    loss, grads = compiled(model, _loss_and_param_grads)(*_batch(model, inputs, targets))
    native = {name: to_numpy(g) for name, g in zip(model.named_variables(), grads)}
    return float(loss), model.to_canonical(native, grads=True)


def train_step(model, inputs, targets, optimizer, clip: float | None) -> float:
    """One optimizer step (``core.optim.SGD`` or ``Adam``; a number is SGD's lr), gradients
    clipped to global norm ``clip``; returns the loss before it.

    ``clip=None`` runs the same graph with ``clip = inf``, where the scale is exactly 1.
    """
    cls, scalars = step_arguments(model, optimizer, clip)
    return float(compiled(model, _optimizer_step, cls)(*_batch(model, inputs, targets), *scalars))


def step_arguments(model, optimizer, clip):
    """``optimizer``'s class (its :class:`OptimizerState` made the current one) and the step's
    scalar arguments: ``(clip, hyperparameters)``, ``clip=None`` as ``inf``."""
    optimizer = as_optimizer(optimizer)
    cls = type(optimizer)
    _optimizer_state(model, cls, restart=True)
    hyperparameters = tuple(float(getattr(optimizer, f.name)) for f in dataclasses.fields(cls))
    return cls, (np.inf if clip is None else clip, hyperparameters)


def get_optimizer_state(model):
    """``None`` before the first step; else name, step and slots in canonical names (float32)."""
    name = model.__dict__.get("_optimizer_name")
    if name is None:
        return None
    state = model.__dict__["_optimizer_states"][name]
    native = {
        slot: {name: to_numpy(v) for name, v in zip(model.named_variables(), variables)}
        for slot, variables in state.slots.items()
    }
    return canonical_state(model, name, int(state.step.numpy()), native)


def set_optimizer_state(model, state) -> None:
    """Continue from a saved state (checked, with a clear error): the next step with an
    optimizer of its kind is ``step + 1`` with its slots."""
    name, step, native = native_state(model, state)
    current = _optimizer_state(model, OPTIMIZERS[name], restart=False)
    current.reset()
    current.step.assign(step)
    names = list(model.named_variables())
    for slot, values in native.items():
        if slot in current.slots:
            _assign_native(model, dict(zip(names, current.slots[slot])), values)


def evaluate(model, inputs, targets):
    """The mean loss (float) and the model's outputs (NumPy), without any update (no dropout)."""
    loss, outputs = compiled(model, _evaluate)(*_batch(model, inputs, targets))
    return float(loss), to_numpy(outputs)


def evaluate_loss(model, inputs, targets) -> float:
    """The mean loss without any update (no dropout)."""
    return float(compiled(model, _loss)(*_batch(model, inputs, targets)))


def trace(layer, X, state=None) -> dict[str, np.ndarray]:
    """Every gate and state of ``layer`` per step, ``{name: (T, B, h)}`` (see ``Layer.trace``)."""
    return layer.trace(X, state)
