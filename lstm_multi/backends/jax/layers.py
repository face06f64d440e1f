"""What the JAX layers share: the API wrapper (checks, stacking, both directions, dropout).

Every layer takes time-major ``X (T, B, d)`` and an optional state in the API form
(LSTM ``(H, C)``, GRU/RNN ``H``; each ``(B, h)`` for one layer in one direction, else
``(layers * directions, B, h)`` stacked in the order l0, l0.rev, l1, ...) and returns
``outputs (T, B, h * directions)`` and the final state in the same form.

A layer is a list of *units* (one per layer and direction, ``self.units``) and
:meth:`Layer.forward` runs them, compiled as one function (:func:`.ops.jit_method`):
each unit's recurrence is a ``jax.lax.scan`` over the time axis; layer k > 0 reads
``[forward, reverse]`` outputs of layer k-1, after inverted dropout in training.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ...core.checks import check_sequence, check_state
from ...core.family import LayerConfig, init_layer_params, resolve_init
from ...core.params import CanonicalLayer, FusedLayout, fuse_unit, scratch_layout
from .ops import get_params, jit_method, tensor, to_numpy


class Layer(CanonicalLayer, nnx.Module):
    """The API every JAX layer shares: checks, the zero state, stacking, dropout.

    A subclass holds ``self.units`` (an ``nnx.List``, one entry per unit in
    ``config.units()`` order) and implements :meth:`run_unit`. Dropout between layers is
    ``nnx.Dropout`` seeded from ``seed`` and built in evaluation mode (``deterministic``);
    the training step (:func:`.ops.train_step`) switches its own copy of the model to
    training and carries the RNG state, so every step draws a new mask.
    """

    def __init__(self, config: LayerConfig, seed: int):
        self.config = config
        self.seed = seed
        self.dropout = nnx.data(None)
        if config.dropout and config.num_layers > 1:
            self.dropout = nnx.Dropout(config.dropout, deterministic=True, rngs=nnx.Rngs(dropout=seed))

    def __call__(self, inputs, state=None):
        """``outputs (T, B, h * directions)`` and the final state (API form)."""
        check_sequence(inputs.shape, self.config)
        batch_size = inputs.shape[1]
        names = self.config.spec.state
        if state is None:
            parts = tuple(jnp.zeros(self.config.state_shape(batch_size), jnp.float32) for _ in names)
        else:
            check_state(state, self.config, batch_size)
            parts = tuple(state) if len(names) > 1 else (state,)
        outputs, parts = self.forward(inputs, parts)
        return outputs, (parts if len(names) > 1 else parts[0])

    @staticmethod
    def step(config: LayerConfig, p: dict, state: tuple, XW_t):
        """One time step of the cell's equations on a unit's fused scratch arrays ``p`` (``W_x``,
        ``W_h``, ``b``, extras), ``state`` a tuple of ``(B, h)`` and ``XW_t = X_t W_x + b (B, G h)``.
        Returns the new state (its first tensor is the output H) and the gates and states
        computed on the way (``config.spec.traces``). The scratch layers scan it (XLA drops the
        unused gates); for native layers too, :func:`trace` runs it on their weights."""
        raise NotImplementedError

    def run_unit(self, index: int, X, state: tuple):
        """Unit ``index`` over ``X (T, B, d_k)`` (in time order, whatever its direction) from
        ``state`` (a tuple of ``(B, h)``): ``outputs (T, B, h)`` in time order, the final state."""
        raise NotImplementedError

    @jit_method
    def forward(self, inputs, parts):
        """``inputs (T, B, d)``, ``parts`` (the state's tensors) -> outputs, final parts."""
        config = self.config
        if config.single:  # one unit, (B, h) states
            return self.run_unit(0, inputs, parts)
        finals, layer_input = [], inputs
        for k in range(config.num_layers):
            if k and self.dropout is not None:
                layer_input = self.dropout(layer_input)  # identity unless training
            outputs = []
            for u in range(k * config.directions, (k + 1) * config.directions):
                out, final = self.run_unit(u, layer_input, tuple(s[u] for s in parts))
                outputs.append(out)
                finals.append(final)
            layer_input = outputs[0] if len(outputs) == 1 else jnp.concatenate(outputs, axis=-1)
        return layer_input, tuple(jnp.stack([f[i] for f in finals]) for i in range(len(parts)))


class Unit(nnx.Module):
    """One scratch unit's parameters, by name: ``W_x (d, G h)``, ``W_h (h, G h)``, ``b (G h,)``
    (gate blocks in d2l's order) and the cell's extras (peepholes, ``b_hh``)."""

    def __init__(self, params: dict):
        self.names = tuple(params)
        for name, value in params.items():
            setattr(self, name, nnx.Param(jnp.asarray(value)))

    def arrays(self) -> dict:
        return {name: getattr(self, name)[...] for name in self.names}


class ScratchLayer(Layer):
    """Any cell of the family from scratch, stacked and bidirectional.

    Parameters per unit (``self.units[i]``, native names ``units.{i}.W_x``, ...): see
    :class:`Unit`. Initialisation: ``init`` and ``sigma`` (d2l's N(0, sigma^2) for one layer,
    orthogonal for a stacked one; biases zero, ``b_f = forget_bias``) drawn by NumPy from ``seed``
    (:func:`~lstm_multi.core.family.init_layer_params`), so every backend starts from the
    same model. A subclass writes one step of its cell, :meth:`step`; the reverse
    direction runs it over the flipped sequence and flips its outputs back.

    The input half ``X_t W_x + b`` does not depend on H, so it can be computed for all
    steps before the loop, one large matmul (``hoist_input=True``); by default it is
    computed in the step, where XLA fuses it with the rest (see :class:`.lstm.LSTMScratch`).
    """

    hoist_input = False

    def __init__(self, config: LayerConfig, init: str | None = None, sigma: float | None = None, seed: int = 0):
        super().__init__(config, seed)
        self.init, self.sigma = resolve_init(config, init, sigma)
        params = init_layer_params(config, self.sigma, seed, self.init)
        self.units = nnx.List([Unit(fuse_unit(config, params, prefix)) for prefix, *_ in config.units()])

    def unit_layout(self, index, prefix, layer, reverse) -> FusedLayout:
        return scratch_layout(self.config, f"units.{index}.")

    def run_unit(self, index, X, state):
        p = self.units[index].arrays()
        reverse = self.config.units()[index][3]
        if reverse:
            X = jnp.flip(X, axis=0)
        W_x, b = p["W_x"], p["b"]
        if self.hoist_input:
            xs, input_half = X @ W_x + b, lambda XW_t: XW_t  # (T, B, G h) before the loop
        else:
            xs, input_half = X, lambda X_t: X_t @ W_x + b

        # jax.checkpoint: the backward pass recomputes each step from its saved state instead
        # of reading a dozen (T, B, h) stacks of intermediates that the scan would otherwise
        # keep (writing and reading them took half of the LM's gradient at h 32, batch 1024)
        @jax.checkpoint
        def scan_step(state, x_t):
            state, _ = self.step(self.config, p, state, input_half(x_t))
            return state, state[0]  # (carry to step t+1, output H of step t)

        state, outputs = jax.lax.scan(scan_step, tuple(state), xs)
        return (jnp.flip(outputs, axis=0) if reverse else outputs), state


class NativeLayer(Layer):
    """Flax's ``nnx.RNN`` (time-major, the carry given by us) over one cell per unit, stacked
    by the wrapper; the reverse direction is ``nnx.RNN(reverse=True, keep_order=True)``.

    A subclass sets :meth:`make_cell` and the conversions between the API state and the
    cell's carry. Native names: ``units.{i}.cell.dense_i.kernel``, ... Initialisation is
    Flax's, the cells drawn in unit order from one ``nnx.Rngs(seed)``.
    """

    def __init__(self, config: LayerConfig, seed: int = 0):
        super().__init__(config, seed)
        rngs = nnx.Rngs(seed)
        # rngs=False: the carry always comes from us, so the RNN needs no random state.
        self.units = nnx.List(
            [
                nnx.RNN(
                    self.make_cell(d, rngs),
                    time_major=True,
                    return_carry=True,
                    reverse=reverse,
                    keep_order=True,
                    rngs=False,
                )
                for _, _, d, reverse in config.units()
            ]
        )

    def make_cell(self, num_inputs: int, rngs: nnx.Rngs):
        raise NotImplementedError

    def to_carry(self, state: tuple):
        return state[0]  # GRU, RNN: the carry is H

    def from_carry(self, carry) -> tuple:
        return (carry,)

    def cell_name(self, index: int) -> str:
        """The native prefix of unit ``index``'s cell."""
        return f"units.{index}.cell."

    def run_unit(self, index, X, state):
        carry, outputs = self.units[index](X, initial_carry=self.to_carry(state))
        return outputs, self.from_carry(carry)


def trace(layer: Layer, X, state=None) -> dict:
    """Every gate and state of ``layer`` (scratch or native) per step over ``X (T, B, d)``:
    ``{name: NumPy (T, B, h)}``, names ``config.spec.traces`` prefixed like the parameters
    (``""``, ``"l{k}."``, ``"l{k}.rev."``), reverse units' values in time order.

    Read out with the cell's step equations (``layer.step``, the scratch cell's) from the
    layer's current weights (:func:`.ops.get_params`), step by step in a Python loop: each
    unit of layer k > 0 reads layer k-1's outputs (no dropout).
    """
    config = layer.config
    X = tensor(X)
    check_sequence(X.shape, config)
    T, batch_size = X.shape[:2]
    names = config.spec.state
    if state is None:
        parts = tuple(jnp.zeros(config.state_shape(batch_size), jnp.float32) for _ in names)
    else:
        check_state(state, config, batch_size)
        parts = tuple(map(tensor, state)) if len(names) > 1 else (tensor(state),)
    if config.single:
        parts = tuple(s[None] for s in parts)  # (1, B, h): one unit
    params = get_params(layer)
    traces: dict[str, np.ndarray] = {}
    layer_input = X
    outputs: list[jax.Array] = []  # the outputs of the current layer's units so far
    for u, (prefix, _, _, reverse) in enumerate(config.units()):
        if len(outputs) == config.directions:  # layer k-1 complete: its outputs feed layer k
            layer_input, outputs = jnp.concatenate(outputs, axis=-1), []
        p = {name: jnp.asarray(value) for name, value in fuse_unit(config, params, prefix).items()}
        unit_state = tuple(s[u] for s in parts)
        steps: list[Any] = [None] * T  # steps[t]: {trace name: value}
        for t in range(T - 1, -1, -1) if reverse else range(T):
            unit_state, steps[t] = layer.step(config, p, unit_state, layer_input[t] @ p["W_x"] + p["b"])
        outputs.append(jnp.stack([values["H"] for values in steps]))
        for name in config.spec.traces:
            traces[prefix + name] = to_numpy(jnp.stack([values[name] for values in steps]))
    return traces
