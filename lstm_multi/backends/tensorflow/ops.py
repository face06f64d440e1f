"""The TensorFlow side of the backend API: tensors, parameters, gradients, the SGD step.

The loss, its gradients and the training step run as ``tf.function`` graphs, one
of each per model (:func:`compiled`), traced once: their input_signature leaves
batch size and num_steps open, so a last, smaller batch is no new trace, and the
learning rate and clipping norm are float32 scalar tensors, so a new value is none
either. They run ``model.forward``, the LM without its shape checks: each batch is
checked in NumPy before it becomes a tensor (NumPy arrays and TensorFlow tensors are
both accepted). Gradients come from ``tf.GradientTape``; the update is ``assign_sub``.
Only the training step runs the layer with dropout (``training=True``), and it first
multiplies the gradient of every frozen entry (``model.frozen()``: the duplicate
second-bias blocks of Keras' GRU) by 0, so the global norm and the update see exactly
the canonical parameters.
"""

from __future__ import annotations

import functools

import numpy as np

from ...core.checks import check_batch
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


def cross_entropy(logits, targets):
    """Mean cross-entropy of ``logits (B, T, V)`` against ``targets (B, T)``."""
    return tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits))


def get_params(obj) -> dict[str, np.ndarray]:
    """Canonical parameters of a layer or LM, as float32 NumPy arrays, in canonical order."""
    params = obj.to_canonical({name: to_numpy(v) for name, v in obj.named_variables().items()})
    return {name: params[name] for name in obj.canonical_shapes()}


def set_params(obj, params: dict) -> None:
    """Load canonical parameters (shapes checked first, with a clear error); frozen entries 0."""
    check_params(params, obj.canonical_shapes(), what=type(obj).__name__)
    native = obj.from_canonical({k: np.asarray(v, dtype=np.float32) for k, v in params.items()})
    frozen = obj.frozen()
    for name, v in obj.named_variables().items():
        v.assign(np.where(frozen[name], 0, native[name]) if name in frozen else native[name])


def _batch(model, tokens, targets):
    """Checked NumPy batch -> tensors."""
    tokens, targets = check_batch(tokens, targets, model.vocab_size)
    return tensor(tokens), tensor(targets)


def _loss(model, tokens, targets, training=False):
    return model.loss(model.forward(tokens, training=training), targets)


def _loss_and_param_grads(model, tokens, targets, training=False):
    """The loss and the gradient of every native variable (dense: ``tf.gather`` gives slices)."""
    with tf.GradientTape() as tape:
        loss = _loss(model, tokens, targets, training)
    grads = tape.gradient(loss, list(model.named_variables().values()))
    return loss, [tf.convert_to_tensor(g) for g in grads]


def _without_frozen(model, grads):
    """Gradients with the frozen entries (``model.frozen()``) multiplied by 0."""
    frozen = model.frozen()
    return [g * (~frozen[name]).astype(np.float32) if name in frozen else g
            for name, g in zip(model.named_variables(), grads)]


def _clipped_sgd_step(model, tokens, targets, lr, clip):
    """``p -= lr * g * min(1, clip / ||g||)`` for every parameter, dropout on; the loss before it."""
    loss, grads = _loss_and_param_grads(model, tokens, targets, training=True)
    grads = _without_frozen(model, grads)
    scale = tf.minimum(1.0, clip / tf.linalg.global_norm(grads))
    for p, g in zip(model.named_variables().values(), grads):
        p.assign_sub(lr * scale * g)
    return loss


#: Each compiled function's input_signature: batch size and num_steps open; lr, clip scalars.
SIGNATURES = {_loss: (TOKENS, TOKENS), _loss_and_param_grads: (TOKENS, TOKENS),
              _clipped_sgd_step: (TOKENS, TOKENS, SCALAR, SCALAR)}


def compiled(model, fn):
    """``fn(model, *tensors)`` as a ``tf.function`` of this model, made once and traced once."""
    functions = model.__dict__.setdefault("_tf_functions", {})  # not tracked by tf.Module
    if fn not in functions:
        functions[fn] = tf.function(functools.partial(fn, model), input_signature=SIGNATURES[fn])
    return functions[fn]


def loss_and_grads(model, tokens, targets):
    """Mean cross-entropy (float, no dropout) and its gradient for every canonical parameter."""
    loss, grads = compiled(model, _loss_and_param_grads)(*_batch(model, tokens, targets))
    native = {name: to_numpy(g) for name, g in zip(model.named_variables(), grads)}
    return float(loss), model.to_canonical(native, grads=True)


def train_step(model, tokens, targets, lr: float, clip: float | None) -> float:
    """One SGD step, gradients clipped to global norm ``clip``; returns the loss before it.

    ``clip=None`` runs the same graph with ``clip = inf``, where the scale is exactly 1.
    """
    step = compiled(model, _clipped_sgd_step)
    loss = step(*_batch(model, tokens, targets), lr, np.inf if clip is None else clip)
    return float(loss)


def evaluate_loss(model, tokens, targets) -> float:
    return float(compiled(model, _loss)(*_batch(model, tokens, targets)))
