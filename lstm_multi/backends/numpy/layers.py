"""What the NumPy backend's three layers share: the reference layer as a backend layer.

NumPy has no recurrent layer of its own, so every layer here (scratch and "native" alike)
runs :func:`lstm_multi.reference.layer_forward` (float64, exact, slow). Parameters live in
one dict of float64 arrays under their canonical names: the native names ARE the canonical
names, so :meth:`ReferenceLayer.unit_layout` returns an identity layout and
:class:`~lstm_multi.core.params.CanonicalLayer` converts without changing anything.

Dropout (training only): the reference layer has no masks, so a training step with
``dropout > 0`` runs the stack one layer at a time (:func:`forward_layers`), multiplies
the outputs of every layer but the last by an inverted-dropout mask and backpropagates
through the same masks (:func:`backward_layers`). With no masks this is exactly
``layer_forward`` / ``layer_backward`` of the whole stack.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ...core.checks import as_numpy, check_sequence, check_state
from ...core.family import LayerConfig, init_layer_params
from ...core.params import CanonicalLayer
from ...reference import layer_backward, layer_forward
from ...reference.layer import to_api_state, to_unit_states


class IdentityLayout:
    """A :class:`~lstm_multi.core.params.FusedLayout` stand-in for storage in canonical names:
    unit ``prefix`` stores each canonical parameter ``name`` as ``prefix + name``; nothing frozen."""

    def __init__(self, prefix: str, names):
        self.prefix, self.names = prefix, tuple(names)

    def to_canonical(self, native, grads: bool = False):
        return {name: native[self.prefix + name] for name in self.names}

    def from_canonical(self, params):
        return {self.prefix + name: params[name] for name in self.names}

    def frozen(self, h: int):
        return {}


class ReferenceLayer(CanonicalLayer):
    """A layer of the family on the NumPy reference: ``self.params`` holds every canonical
    parameter (float64), initialised by :func:`~lstm_multi.core.family.init_layer_params` (d2l's
    scratch init, the same as every backend's scratch layer for the same ``seed`` and ``sigma``).

    ``outputs, state = layer(X, state=None)``: ``X (T, B, d)`` time-major; state in the API form
    (LSTM ``(H, C)``, GRU/RNN ``H``; ``(B, h)`` or stacked ``(units, B, h)``).
    """

    def __init__(self, config: LayerConfig, seed: int = 0, sigma: float = 0.01):
        self.config, self.seed, self.sigma = config, seed, sigma
        self.params = {name: value.astype(np.float64)
                       for name, value in init_layer_params(config, sigma, seed).items()}
        # inverted-dropout masks of the training steps, a stream of their own
        self.dropout_rng = np.random.default_rng([seed, 1])

    def unit_layout(self, index, prefix, layer, reverse):
        """Identity: the unit's native names are its canonical names (prefixed)."""
        d = self.config.units()[index][2]
        return IdentityLayout(prefix, self.config.unit_shapes(d))

    def native_params(self) -> dict[str, np.ndarray]:
        """The stored arrays themselves (native names = canonical names)."""
        return self.params

    def load_native(self, native) -> None:
        self.params = {name: np.array(native[name], dtype=np.float64) for name in self.config.shapes()}

    def check_input(self, X, state):
        X = as_numpy(X)
        check_sequence(X.shape, self.config)
        if state is not None:
            check_state(state, self.config, X.shape[1])
            state = tuple(as_numpy(s) for s in state) if isinstance(state, (tuple, list)) else as_numpy(state)
        return X, state

    def __call__(self, X, state=None):
        """Evaluation (no dropout): ``outputs (T, B, h * directions)`` and the final state, float64."""
        X, state = self.check_input(X, state)
        outputs, state, _ = layer_forward(self.config, self.params, X, state)
        return outputs, state

    def dropout_masks(self, T: int, B: int):
        """Inverted-dropout masks ``(T, B, h * directions)`` for the outputs of every layer but the
        last (kept with probability 1 - p, scaled by 1 / (1 - p)); ``None`` without dropout."""
        p = self.config.dropout
        if not p or self.config.num_layers == 1:
            return None
        shape = (T, B, self.config.num_outputs)
        return [(self.dropout_rng.random(shape) >= p) / (1.0 - p)
                for _ in range(self.config.num_layers - 1)]

    def __repr__(self):
        return f"{type(self).__name__}({self.config.describe()}, {self.config.num_inputs} -> " \
               f"{self.config.num_hiddens})"


def sub_layer(config: LayerConfig, k: int):
    """Layer ``k`` of ``config`` alone: its one-layer config and {its name: the stack's name}."""
    d = config.num_inputs if k == 0 else config.num_outputs
    sub = dataclasses.replace(config, num_inputs=d, num_layers=1, dropout=0.0)
    units = [u for u in config.units() if u[1] == k]
    names = {}
    for (sub_prefix, _, _, _), (prefix, _, _, _) in zip(sub.units(), units):
        names.update({sub_prefix + name: prefix + name for name in sub.unit_shapes(d)})
    return sub, names


def forward_layers(config: LayerConfig, params, X, state=None, masks=None):
    """The stack one layer at a time, ``masks[k]`` (or none) multiplying layer k's outputs.

    Returns the outputs, the final state (API form) and a cache for :func:`backward_layers`.
    """
    B, dirs = X.shape[1], config.directions
    initial = None if state is None else to_unit_states(config, state, B)
    finals, layers, inputs = [], [], np.asarray(X, np.float64)
    for k in range(config.num_layers):
        sub, names = sub_layer(config, k)
        sub_state = None if initial is None else to_api_state(sub, initial[k * dirs:(k + 1) * dirs])
        outputs, final, cache = layer_forward(sub, {s: params[n] for s, n in names.items()}, inputs, sub_state)
        finals += to_unit_states(sub, final, B)
        layers.append((names, cache))
        if masks is not None and k < config.num_layers - 1:
            outputs = outputs * masks[k]
        inputs = outputs
    return inputs, to_api_state(config, finals), dict(config=config, layers=layers, masks=masks)


def backward_layers(cache, d_outputs):
    """Canonical gradients of the whole stack and ``dX``, back through the masks."""
    grads, d_out, masks = {}, d_outputs, cache["masks"]
    for k in reversed(range(len(cache["layers"]))):
        names, layer_cache = cache["layers"][k]
        if masks is not None and k < len(cache["layers"]) - 1:
            d_out = d_out * masks[k]
        sub_grads, d_out, _ = layer_backward(layer_cache, d_out)
        grads.update({names[s]: g for s, g in sub_grads.items()})
    return {name: grads[name] for name in cache["config"].shapes()}, d_out
