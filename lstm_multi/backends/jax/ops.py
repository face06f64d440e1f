"""The JAX side of the backend API: arrays, parameters, gradients, the jitted SGD step.

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
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from ...core.checks import check_batch
from ...core.params import check_params

#: How many times each jitted function below was traced (= compiled): one per new shape.
TRACES = collections.Counter()


def tensor(array):
    """NumPy (or JAX) -> JAX: floats become float32, integers int32 (JAX's default int type)."""
    if not isinstance(array, jax.Array):
        array = np.asarray(array)
    if jnp.issubdtype(array.dtype, jnp.floating):
        return jnp.asarray(array, dtype=jnp.float32)
    return jnp.asarray(array, dtype=jnp.int32)


def to_numpy(t):
    """JAX -> NumPy (a writable copy, like torch's ``.numpy()`` of a fresh tensor)."""
    return np.array(t)


def cross_entropy(logits, targets):
    """Mean cross-entropy of ``logits (B, T, V)`` against ``targets (B, T)``."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, targets).mean()


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
    return {_name(path): np.array(value[...]) for path, value in nnx.to_flat_state(state)}


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


def _batch(model, tokens, targets):
    """Checked batch (NumPy or JAX) -> int32 arrays."""
    tokens, targets = check_batch(tokens, targets, model.vocab_size)
    return tensor(tokens), tensor(targets)


def _merge(graphdef, params, rest, training: bool):
    """The model from its parts, in training mode (dropout on) or evaluation mode. ``rest`` (the
    dropout RNG) is copied, so that its variables belong to this trace and may advance."""
    model = nnx.merge(graphdef, params, jax.tree.map(lambda x: x, rest))
    model.train() if training else model.eval()
    return model


def _loss(params, graphdef, rest, tokens, targets, training=False):
    """The mean cross-entropy as a pure function of the parameters; and the RNG state after it."""
    model = _merge(graphdef, params, rest, training)
    return model.loss(model(tokens), targets), nnx.state(model, nnx.RngState)


def _mask_frozen(model, grads):
    """Zero the gradients of the frozen entries (duplicate biases: ``model.frozen()``, constants
    of the compiled step, as they depend only on the architecture)."""
    keep = {name: ~mask for name, mask in model.frozen().items()}
    if not keep:
        return grads
    return nnx.from_flat_state([
        (path, g.replace(g[...] * keep[_name(path)]) if _name(path) in keep else g)
        for path, g in nnx.to_flat_state(grads)])


@functools.partial(jax.jit, static_argnums=0)
def _loss_and_grads(graphdef, params, rest, tokens, targets):
    TRACES["loss_and_grads"] += 1
    (loss, _), grads = jax.value_and_grad(_loss, has_aux=True)(params, graphdef, rest, tokens, targets)
    return loss, grads


@functools.partial(jax.jit, static_argnums=0)
def _eval_loss(graphdef, params, rest, tokens, targets):
    TRACES["evaluate_loss"] += 1
    return _loss(params, graphdef, rest, tokens, targets)[0]


@functools.partial(jax.jit, static_argnums=(0, 6))
def _train_step(graphdef, params, rest, tokens, targets, lr, clip):
    """Loss, the updated parameters ``p - lr * g * min(1, clip / ||g||)`` (core/optim.py) and the
    RNG state, dropout on; frozen entries' gradients are zeroed first.

    ``lr`` is an argument (a new value reuses the compiled step); ``clip`` is static,
    as ``None`` (no clipping) changes the computation.
    """
    TRACES["train_step"] += 1
    (loss, rngs), grads = jax.value_and_grad(_loss, has_aux=True)(params, graphdef, rest, tokens, targets,
                                                                  True)
    grads = _mask_frozen(nnx.merge(graphdef, params, rest), grads)
    if clip is not None:
        norm = jnp.sqrt(sum(jnp.sum(g ** 2) for g in jax.tree.leaves(grads)))
        grads = jax.tree.map(lambda g: g * jnp.minimum(1.0, clip / norm), grads)
    return loss, jax.tree.map(lambda p, g: p - lr * g, params, grads), rngs


def loss_and_grads(model, tokens, targets):
    """Mean cross-entropy (float) and its gradient for every canonical parameter (no dropout)."""
    tokens, targets = _batch(model, tokens, targets)
    loss, grads = _loss_and_grads(*nnx.split(model, nnx.Param, ...), tokens, targets)
    return float(loss), model.to_canonical(_native(grads), grads=True)


def train_step(model, tokens, targets, lr: float, clip: float | None) -> float:
    """One SGD step, gradients clipped to global norm ``clip``; returns the loss before it."""
    tokens, targets = _batch(model, tokens, targets)
    loss, params, rngs = _train_step(*nnx.split(model, nnx.Param, ...), tokens, targets, lr, clip)
    nnx.update(model, params, rngs)
    return float(loss)


def evaluate_loss(model, tokens, targets) -> float:
    tokens, targets = _batch(model, tokens, targets)
    return float(_eval_loss(*nnx.split(model, nnx.Param, ...), tokens, targets))
