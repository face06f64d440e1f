"""The JAX side of the backend API: arrays, parameters, gradients, the jitted optimizer step.

JAX differentiates and compiles pure functions, and a Flax NNX model is an object
that holds its parameters. The bridge is ``nnx.split`` / ``nnx.merge``: split the
model into its graph definition (the structure: static, hashable) and its state
(the parameter arrays), run a pure jitted function of the state, and write the new
state back with ``nnx.update``. ``jax.jit`` caches the compiled function per graph
definition and input shapes, so a training run compiles each step function once
per batch shape (:data:`TRACES` counts the traces).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import types
import weakref
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from numpy.typing import ArrayLike

from ...core.optim import as_optimizer, canonical_state, native_state
from ...core.params import check_params

#: How many times each jitted function below was traced (= compiled): one per new shape.
TRACES: collections.Counter[str] = collections.Counter()


def tensor(array: ArrayLike) -> jax.Array:
    """NumPy (or JAX) -> JAX: floats become float32, integers int32 (JAX's default int type)."""
    if not isinstance(array, jax.Array):
        array = np.asarray(array)
    if jnp.issubdtype(array.dtype, jnp.floating):
        return jnp.asarray(array, dtype=jnp.float32)
    return jnp.asarray(array, dtype=jnp.int32)


def local(t: jax.Array) -> jax.Array:
    """This process's copy of a replicated array (data parallel over several processes: the
    array spans other processes' devices, which cannot be read); ``t`` itself otherwise."""
    if isinstance(t, jax.Array) and not t.is_fully_addressable:
        return t.addressable_data(0)
    return t


def to_numpy(t: jax.Array) -> np.ndarray:
    """JAX -> NumPy (a writable copy, like torch's ``.numpy()`` of a fresh tensor)."""
    return np.array(local(t))


def concat(tensors: Sequence[jax.Array], axis: int) -> jax.Array:
    return jnp.concatenate(tensors, axis=axis)


def cross_entropy(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """Mean cross-entropy of ``logits (..., C)`` against integer ``targets (...)``: over all
    leading positions (the LM's ``(B, T, V)``, a classifier's ``(B, C)``)."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, targets).mean()


def mse(outputs: jax.Array, targets: jax.Array) -> jax.Array:
    """Mean squared error of ``outputs (B, 1)`` against ``targets (B,)``."""
    return jnp.mean((outputs[:, 0] - targets) ** 2)


def _tracing(args) -> bool:
    return any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(args))


def jit_method(method):
    """Compile ``method(module, *args)`` with ``jax.jit``, the module split into (graphdef, state).

    An eager call (``lstm(X)``, ``model(tokens)``) then runs one compiled function,
    traced once per graph definition and input shapes. Inside another jitted function
    (the training step) the method runs as it is, part of that trace, so what it changes
    on the module (the dropout RNG's counter) reaches that function's state.
    """

    @functools.partial(jax.jit, static_argnums=0)
    def pure(graphdef, state, *args):
        TRACES[method.__qualname__] += 1
        return method(nnx.merge(graphdef, state), *args)

    @functools.wraps(method)
    def wrapper(module, *args):
        if _tracing(args):
            return method(module, *args)
        return pure(*nnx.split(module), *args)

    return wrapper


def _name(path) -> str:
    return ".".join(map(str, path))


def _native(state) -> dict[str, np.ndarray]:
    """An ``nnx.State`` (parameters or their gradients) by dotted path (``"rnn.units.0.W_x"``), as NumPy."""
    return {_name(path): to_numpy(value[...]) for path, value in nnx.to_flat_state(state)}


def get_params(obj) -> dict[str, np.ndarray]:
    """Canonical parameters of a layer or LM, as float32 NumPy arrays, in canonical order."""
    params = obj.to_canonical(_native(nnx.state(obj, nnx.Param)))
    return {name: params[name] for name in obj.canonical_shapes()}


def set_params(obj, params: dict) -> None:
    """Load canonical parameters (shapes checked first, with a clear error); frozen entries are 0."""
    check_params(params, obj.canonical_shapes(), what=type(obj).__name__)
    native = obj.from_canonical({k: np.asarray(v, dtype=np.float32) for k, v in params.items()})
    for name, mask in obj.frozen().items():
        native[name] = np.where(mask, np.float32(0), native[name])
    paths = {_name(path): path for path, _ in nnx.to_flat_state(nnx.state(obj, nnx.Param))}
    nnx.update(obj, nnx.from_flat_state({paths[name]: jnp.asarray(value) for name, value in native.items()}))


def _batch(model, inputs, targets, sharding=None):
    """The model's checked batch (NumPy or JAX in, NumPy out) -> JAX arrays, laid out by
    ``sharding`` if given (data parallel: rows split across devices)."""
    inputs, targets = model.check_batch(inputs, targets)
    if sharding is None:
        return tensor(inputs), tensor(targets)
    return tuple(jax.device_put(tensor(np.asarray(a)), sharding) for a in (inputs, targets))


def _merge(graphdef, params, rest, training: bool):
    """The model from its parts, in training mode (dropout on) or evaluation mode. ``rest`` (the
    dropout RNG) is copied, so that its variables belong to this trace and may advance."""
    model = nnx.merge(graphdef, params, jax.tree.map(lambda x: x, rest))
    model.train() if training else model.eval()
    return model


def _loss(params, graphdef, rest, inputs, targets, training=False):
    """The mean loss as a pure function of the parameters; and the outputs and RNG state after it."""
    model = _merge(graphdef, params, rest, training)
    outputs = model(inputs)
    return model.loss(outputs, targets), (outputs, nnx.state(model, nnx.RngState))


def _mask_frozen(model, grads):
    """Zero the gradients of the frozen entries (duplicate biases: ``model.frozen()``, constants
    of the compiled step, as they depend only on the architecture)."""
    keep = {name: ~mask for name, mask in model.frozen().items()}
    if not keep:
        return grads
    return nnx.from_flat_state(
        [
            (path, g.replace(g[...] * keep[_name(path)]) if _name(path) in keep else g)
            for path, g in nnx.to_flat_state(grads)
        ]
    )


@functools.partial(jax.jit, static_argnums=0)
def _loss_and_grads(graphdef, params, rest, inputs, targets):
    TRACES["loss_and_grads"] += 1
    (loss, _), grads = jax.value_and_grad(_loss, has_aux=True)(params, graphdef, rest, inputs, targets)
    return loss, grads


@functools.partial(jax.jit, static_argnums=0)
def _eval_loss(graphdef, params, rest, inputs, targets):
    TRACES["evaluate_loss"] += 1
    return _loss(params, graphdef, rest, inputs, targets)[0]


@functools.partial(jax.jit, static_argnums=0)
def _evaluate(graphdef, params, rest, inputs, targets):
    TRACES["evaluate"] += 1
    loss, (outputs, _) = _loss(params, graphdef, rest, inputs, targets)
    return loss, outputs


@functools.partial(jax.jit, static_argnums=(0, 5, 6))
def _train_step(graphdef, params, rest, inputs, targets, kind, clip, hyper, slots, step):
    """Loss, the updated parameters and slots, and the RNG state, dropout on: the gradients'
    frozen entries zeroed, scaled by ``min(1, clip / ||g||)``, then ``kind.update`` (SGD's or
    Adam's, core/optim.py) on the lists of parameters, gradients and slots, at step ``step``.

    ``kind`` (the optimizer's class) and ``clip`` are static (``None``, no clipping, changes
    the computation); the optimizer's numbers (``hyper``: lr, Adam's betas and eps) and the
    step are arguments, so a new learning rate or the next step reuses the compiled step.
    """
    TRACES["train_step"] += 1
    (loss, (_, rngs)), grads = jax.value_and_grad(_loss, has_aux=True)(params, graphdef, rest, inputs, targets, True)
    grads = _mask_frozen(nnx.merge(graphdef, params, rest), grads)
    if clip is not None:
        norm = jnp.sqrt(sum(jnp.sum(g**2) for g in jax.tree.leaves(grads)))
        grads = jax.tree.map(lambda g: g * jnp.minimum(1.0, clip / norm), grads)
    values, treedef = jax.tree.flatten(params)
    # The optimizer's own update (core/optim.py), its numbers read from ``hyper`` (traced values).
    new, new_slots = kind.update(
        types.SimpleNamespace(**hyper),
        values,
        jax.tree.leaves(grads),
        {slot: jax.tree.leaves(v) for slot, v in slots.items()},
        step,
        jnp.sqrt,
    )
    return (loss, treedef.unflatten(new), {slot: treedef.unflatten(v) for slot, v in new_slots.items()}, rngs)


def loss_and_grads(model, inputs, targets):
    """Mean loss (float) and its gradient for every canonical parameter (no dropout)."""
    inputs, targets = _batch(model, inputs, targets)
    loss, grads = _loss_and_grads(*nnx.split(model, nnx.Param, ...), inputs, targets)
    return float(local(loss)), model.to_canonical(_native(grads), grads=True)


#: model -> its optimizer's state ``{"name", "step", "slots": {slot: nnx.State like the
#: parameters}}``; kept beside the model, not in it, so its graph definition (the key of the
#: compiled step) does not change when training starts.
_OPTIMIZER_STATE: weakref.WeakKeyDictionary[nnx.Module, dict[str, Any]] = weakref.WeakKeyDictionary()


def train_step(model, inputs, targets, optimizer, clip: float | None, batch_sharding=None) -> float:
    """One optimizer step (``core.optim.SGD`` or ``Adam``; a number is SGD's lr), gradients
    clipped to global norm ``clip``, dropout on, all in one compiled function; returns the loss
    before it. The optimizer's slots and step count stay with the model (a different kind of
    optimizer starts afresh). ``batch_sharding``: the batch's layout over devices (data parallel,
    ``distributed.py``); the same step then runs partitioned by XLA."""
    optimizer = as_optimizer(optimizer)
    inputs, targets = _batch(model, inputs, targets, batch_sharding)
    # mypy cannot unpack flax's variadic return type (two filters: three parts); unused without flax
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)  # type: ignore[misc, unused-ignore]
    state = _OPTIMIZER_STATE.get(model)
    if state is None or state["name"] != optimizer.name:
        state = {
            "name": optimizer.name,
            "step": 0,
            "slots": {slot: jax.tree.map(jnp.zeros_like, params) for slot in optimizer.slots},
        }
    hyper = {f.name: getattr(optimizer, f.name) for f in dataclasses.fields(optimizer)}
    loss, params, slots, rngs = _train_step(
        graphdef, params, rest, inputs, targets, type(optimizer), clip, hyper, state["slots"], state["step"] + 1
    )
    nnx.update(model, params, rngs)
    _OPTIMIZER_STATE[model] = {"name": optimizer.name, "step": state["step"] + 1, "slots": slots}
    return float(local(loss))


def get_optimizer_state(model):
    """``None`` before the first step; else the optimizer's name, step and slots (canonical
    names, float32 NumPy; every parameter, frozen entries' slots zero)."""
    state = _OPTIMIZER_STATE.get(model)
    if state is None:
        return None
    return canonical_state(
        model, state["name"], state["step"], {slot: _native(values) for slot, values in state["slots"].items()}
    )


def set_optimizer_state(model, state) -> None:
    """Continue from a saved state (checked): the next step with an optimizer of its kind is ``step + 1``."""
    name, step, native = native_state(model, state)
    params = nnx.state(model, nnx.Param)
    slots = {
        slot: nnx.from_flat_state(
            [
                (path, value.replace(jnp.asarray(values[_name(path)], jnp.float32)))
                for path, value in nnx.to_flat_state(params)
            ]
        )
        for slot, values in native.items()
    }
    _OPTIMIZER_STATE[model] = {"name": name, "step": step, "slots": slots}


def evaluate(model, inputs, targets):
    """The mean loss (float) and the model's outputs (NumPy), without any update (no dropout)."""
    inputs, targets = _batch(model, inputs, targets)
    loss, outputs = _evaluate(*nnx.split(model, nnx.Param, ...), inputs, targets)
    return float(local(loss)), to_numpy(outputs)


def evaluate_loss(model, inputs, targets) -> float:
    """The mean loss without any update (no dropout)."""
    inputs, targets = _batch(model, inputs, targets)
    return float(local(_eval_loss(*nnx.split(model, nnx.Param, ...), inputs, targets)))
