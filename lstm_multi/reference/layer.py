"""The reference layer: any cell of the family, stacked and bidirectional, with BPTT.

``X (T, B, d)`` time-major. Unit u = (layer k, direction) runs its cell over the
sequence (reversed for ``l{k}.rev.``, its outputs put back in time order); layer k > 0
reads ``[forward, reverse]`` outputs of layer k-1. States are in the API form: a
tuple ``(H, C)`` for an LSTM, ``H`` for a GRU or RNN; each ``(B, h)`` for a single
unit, else ``(units, B, h)`` stacked in the order l0, l0.rev, l1, ...
Dropout, given as ``masks``: ``masks[k]`` (inverted-dropout masks, ``(T, B, h * dirs)``)
multiplies layer k's outputs before layer k+1 reads them, forward and backward; without
masks (evaluation) nothing is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..core.family import LayerConfig
from ..core.types import Params, State
from . import gru, lstm, rnn
from .common import Array, Cache, UnitState

CELL_MODULES: dict[str, ModuleType] = {"lstm": lstm, "gru": gru, "rnn": rnn}


def f64(params: Mapping[str, ArrayLike]) -> Params:
    return {name: np.asarray(value, dtype=np.float64) for name, value in params.items()}


def infer_config(params: Mapping[str, ArrayLike], num_inputs: int | None = None) -> LayerConfig:
    """A single-unit layer's configuration from its canonical parameter names and shapes."""
    extra: dict[str, Any]  # the cell's options
    if "W_xi" in params:
        cell, extra = "lstm", {"peephole": "diagonal" if "w_ci" in params else "full" if "W_ci" in params else None}
    elif "W_xz" in params:
        cell, extra = "gru", {"reset_after": "b_hh" in params}
    elif "W_xh" in params:
        cell, extra = "rnn", {}
    else:
        raise ValueError("Cannot tell the model from these parameters: pass config=LayerConfig(...).")
    d, h = np.shape(params[{"lstm": "W_xi", "gru": "W_xz", "rnn": "W_xh"}[cell]])
    return LayerConfig(cell, d, h, **extra)


def to_unit_states(config: LayerConfig, state: State | None, batch_size: int) -> list[UnitState]:
    """API-form state (or None) -> one tuple of ``(B, h)`` arrays per unit."""
    n, units = len(config.spec.state), len(config.units())
    if state is None:
        return [tuple(np.zeros((batch_size, config.num_hiddens)) for _ in range(n))] * units
    given = tuple(state) if n > 1 else (state,)
    parts = [np.asarray(s, np.float64).reshape(units, batch_size, config.num_hiddens) for s in given]
    return [tuple(s[u] for s in parts) for u in range(units)]


def to_api_state(config: LayerConfig, unit_states: Sequence[UnitState]) -> State:
    """One tuple per unit -> the API form (inverse of :func:`to_unit_states`)."""
    stacked = [np.stack([s[i] for s in unit_states]) for i in range(len(config.spec.state))]
    if config.single:
        stacked = [s[0] for s in stacked]
    return tuple(stacked) if len(stacked) > 1 else stacked[0]


def unit_params(params: Params, prefix: str) -> Params:
    return {name[len(prefix) :]: value for name, value in params.items() if name.startswith(prefix)}


def layer_forward(
    config: LayerConfig, params: Params, X: ArrayLike, state: State | None = None, masks: Sequence[Array] | None = None
) -> tuple[Array, State, Cache]:
    """Run the layer over ``X (T, B, d)``; returns ``outputs (T, B, h * dirs)``, the final state
    (API form) and a cache for :func:`layer_backward` (its ``"traces"``: per unit, per step).
    ``masks``: one dropout mask per layer but the last (see the module's docstring)."""
    params, X = f64(params), np.asarray(X, np.float64)
    cell = CELL_MODULES[config.cell]
    T, B, _ = X.shape
    states = to_unit_states(config, state, B)
    units: list[Cache] = []  # per unit: its parameters, input and steps' caches
    finals: list[UnitState] = []
    layer_input = X
    layer_outputs: list[Array] = []  # the outputs of the current layer's units so far
    for u, (prefix, k, _, reverse) in enumerate(config.units()):
        if len(layer_outputs) == config.directions:  # layer k-1 complete: its outputs feed layer k
            layer_input, layer_outputs = np.concatenate(layer_outputs, axis=-1), []
            if masks is not None:
                layer_input = layer_input * masks[k - 1]
        p = unit_params(params, prefix)
        order = range(T - 1, -1, -1) if reverse else range(T)
        steps: dict[int, tuple[Cache, dict[str, Array]]] = {}  # t -> (step cache, traces)
        s, outputs = states[u], np.zeros((T, B, config.num_hiddens))
        for t in order:
            outputs[t], s, step_cache, traces = cell.step(p, layer_input[t], s, config)
            steps[t] = (step_cache, traces)
        units.append(dict(prefix=prefix, p=p, reverse=reverse, steps=steps, input=layer_input))
        finals.append(s)
        layer_outputs.append(outputs)
    outputs = np.concatenate(layer_outputs, axis=-1)
    cache = dict(config=config, units=units, T=T, B=B, masks=masks)
    return outputs, to_api_state(config, finals), cache


def layer_backward(cache: Cache, d_outputs: ArrayLike, d_state: State | None = None) -> tuple[Params, Array, State]:
    """Backpropagation through time and through the layers.

    Returns canonical ``grads``, ``dX (T, B, d)`` and the gradient of the initial state (API form).
    """
    config, units, T, B = cache["config"], cache["units"], cache["T"], cache["B"]
    cell = CELL_MODULES[config.cell]
    h, dirs = config.num_hiddens, config.directions
    d_finals = to_unit_states(config, d_state, B)
    d_initial: list[UnitState] = [()] * len(units)  # each unit's, filled below
    grads: Params = {}
    d_out = np.asarray(d_outputs, np.float64)
    for k in reversed(range(config.num_layers)):
        d_input = np.zeros_like(units[k * dirs]["input"])  # the sum of the directions' dX
        for j in range(dirs):
            u = k * dirs + j
            unit = units[u]
            unit_grads = {name: np.zeros_like(value) for name, value in unit["p"].items()}
            d_s = d_finals[u]
            dX = np.zeros_like(unit["input"])
            order = range(T) if unit["reverse"] else range(T - 1, -1, -1)
            for t in order:
                d_s = (d_s[0] + d_out[t, :, j * h : (j + 1) * h],) + tuple(d_s[1:])
                dX[t], d_s = cell.step_backward(unit["p"], unit["steps"][t][0], d_s, config, unit_grads)
            d_initial[u] = d_s
            grads.update({unit["prefix"] + name: g for name, g in unit_grads.items()})
            d_input = d_input + dX
        d_out = d_input if cache["masks"] is None or k == 0 else d_input * cache["masks"][k - 1]
    grads = {name: grads[name] for name in config.shapes()}
    return grads, d_out, to_api_state(config, d_initial)


def trace(config: LayerConfig, params: Params, X: ArrayLike, state: State | None = None) -> dict[str, np.ndarray]:
    """Every gate and state per step, each ``(T, B, h)`` in time order, names prefixed by unit."""
    _, _, cache = layer_forward(config, params, X, state)
    result: dict[str, np.ndarray] = {}
    for unit in cache["units"]:
        for name in config.spec.traces:
            result[unit["prefix"] + name] = np.stack([unit["steps"][t][1][name] for t in range(cache["T"])])
    return result
