"""Export to JAX: a serialized ``jax.export`` function (StableHLO) with the parameters inside.

The function is the scratch layer's forward pass: the input table (see :mod:`.model`), then
each unit's ``jax.lax.scan`` over time of the JAX backend's own step (``lstm_step``,
``gru_step``, ``rnn_step``: the equations of ``backends/jax``) on its fused parameters, the
reverse units scanning backwards, and the head. Every parameter is a constant of the program,
so the whole family is expressible: peepholes (diagonal and full) and both GRU forms.

``jax.export.deserialize(bytearray(data))`` alone loads it; ``.call(tokens)`` runs it:
``tokens`` int32 or int64 ``(T, B)`` -> ``logits (T, B, V)``, then the final states
``(units, B, h)``; T and B are symbolic (any sizes), and it runs on CPU or an accelerator.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp

from ..backends.jax.gru import gru_step
from ..backends.jax.lstm import lstm_step
from ..backends.jax.rnn import rnn_step
from ..core.checkpoint import Checkpoint, write_atomically
from ..core.params import scratch_layout
from .model import ExportModel, describe

STEPS = {"lstm": lstm_step, "gru": gru_step, "rnn": rnn_step}


def forward_function(model: ExportModel):
    """``forward(inputs (T, B)) -> (y, *states)`` closing over the parameters (JAX arrays)."""
    config = model.config
    step_fn = STEPS[config.cell]
    units = [{k: jnp.asarray(v) for k, v in scratch_layout(config, "").from_canonical(p).items()} for p in model.units]
    table = None if model.table is None else jnp.asarray(model.table)
    dense = [(jnp.asarray(W), jnp.asarray(b)) for W, b in model.dense]
    reverse = [reverse for _, _, _, reverse in config.units()]

    def run_unit(p, X, backwards):
        state = tuple(jnp.zeros((X.shape[1], config.num_hiddens), X.dtype) for _ in config.spec.state)

        def step(state, X_t):
            new_state, _ = step_fn(config, p, state, X_t @ p["W_x"] + p["b"])
            return new_state, new_state[0]

        return jax.lax.scan(step, state, X, reverse=backwards)  # outputs in time order either way

    def forward(inputs):
        X = inputs[..., None] if table is None else table[inputs]  # (T, B, d)
        finals, layer = [], []
        for p, backwards in zip(units, reverse):
            final, outputs = run_unit(p, X, backwards)
            finals.append(final)
            layer.append(outputs)
            if len(layer) == config.directions:  # the layer is complete: the next one reads it
                X, layer = jnp.concatenate(layer, axis=-1), []
        states = tuple(jnp.stack(parts) for parts in zip(*finals))  # each (units, B, h)
        if model.kind == "lm":
            y = X
        else:  # the last layer's final H (both directions')
            y = jnp.concatenate(list(states[0][-config.directions :]), axis=-1)
        for i, (W, b) in enumerate(dense):
            y = y @ W + b
            y = jax.nn.relu(y) if i < len(dense) - 1 else y
        return (y, *states)

    return forward


def write(checkpoint: Checkpoint, out: Path) -> Path:
    """Write the serialized function of ``checkpoint``'s model to ``out``."""
    model = describe(checkpoint)
    dtype = jnp.float32 if model.kind == "regressor" else jnp.int32
    T, B = jax.export.symbolic_shape("T, B")
    exported = jax.export.export(jax.jit(forward_function(model)), platforms=("cpu", "cuda", "rocm", "tpu"))(
        jax.ShapeDtypeStruct((T, B), dtype)
    )
    return write_atomically(out, bytes(exported.serialize()))
