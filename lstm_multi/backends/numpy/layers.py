"""What the NumPy backend's three layers share: the reference layer as a backend layer.

NumPy has no recurrent layer of its own, so every layer here (scratch and "native" alike)
runs :func:`lstm_multi.reference.layer_forward` (float64, exact, slow). Parameters live in
one dict of float64 arrays under their canonical names: the native names ARE the canonical
names, so :meth:`ReferenceLayer.unit_layout` returns an identity layout and
:class:`~lstm_multi.core.params.CanonicalLayer` converts without changing anything.

Dropout (training only): a training step draws inverted-dropout masks
(:meth:`ReferenceLayer.dropout_masks`) and hands them to the reference, which multiplies
the outputs of every layer but the last by them, forward and backward.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ...core.checks import as_numpy, check_sequence, check_state
from ...core.family import LayerConfig, init_layer_params, resolve_init
from ...core.params import CanonicalLayer
from ...core.types import NativeParams, Params, State, Tensor
from ...reference import layer_forward


class IdentityLayout:
    """A :class:`~lstm_multi.core.params.FusedLayout` stand-in for storage in canonical names:
    unit ``prefix`` stores each canonical parameter ``name`` as ``prefix + name``; nothing frozen."""

    def __init__(self, prefix: str, names: Iterable[str]) -> None:
        self.prefix, self.names = prefix, tuple(names)

    def to_canonical(self, native: NativeParams, grads: bool = False) -> Params:
        return {name: native[self.prefix + name] for name in self.names}

    def from_canonical(self, params: Params) -> Params:
        return {self.prefix + name: params[name] for name in self.names}

    def frozen(self, h: int) -> Params:
        return {}


class ReferenceLayer(CanonicalLayer):
    """A layer of the family on the NumPy reference: ``self.params`` holds every canonical
    parameter (float64), initialised by :func:`~lstm_multi.core.family.init_layer_params` (``init``:
    d2l's for one layer, orthogonal for a stacked one; the same as every backend's scratch layer
    for the same ``seed``, ``init`` and ``sigma``).

    ``outputs, state = layer(X, state=None)``: ``X (T, B, d)`` time-major; state in the API form
    (LSTM ``(H, C)``, GRU/RNN ``H``; ``(B, h)`` or stacked ``(units, B, h)``).
    """

    def __init__(self, config: LayerConfig, seed: int = 0, init: str | None = None, sigma: float | None = None) -> None:
        self.config, self.seed = config, seed
        self.init, self.sigma = resolve_init(config, init, sigma)
        self.params = {
            name: value.astype(np.float64)
            for name, value in init_layer_params(config, self.sigma, seed, self.init).items()
        }
        # inverted-dropout masks of the training steps, a stream of their own
        self.dropout_rng = np.random.default_rng([seed, 1])

    def unit_layout(self, index: int, prefix: str, layer: int, reverse: bool) -> IdentityLayout:
        """Identity: the unit's native names are its canonical names (prefixed)."""
        d = self.config.units()[index][2]
        return IdentityLayout(prefix, self.config.unit_shapes(d))

    def native_params(self) -> dict[str, np.ndarray]:
        """The stored arrays themselves (native names = canonical names)."""
        return self.params

    def load_native(self, native: NativeParams) -> None:
        self.params = {name: np.array(native[name], dtype=np.float64) for name in self.config.shapes()}

    def check_input(self, X: Tensor, state: State | None) -> tuple[np.ndarray, State | None]:
        X = as_numpy(X)
        check_sequence(X.shape, self.config)
        if state is not None:
            check_state(state, self.config, X.shape[1])
            state = tuple(as_numpy(s) for s in state) if isinstance(state, (tuple, list)) else as_numpy(state)
        return X, state

    def __call__(self, X: Tensor, state: State | None = None) -> tuple[np.ndarray, State]:
        """Evaluation (no dropout): ``outputs (T, B, h * directions)`` and the final state, float64."""
        X, state = self.check_input(X, state)
        outputs, state, _ = layer_forward(self.config, self.params, X, state)
        return outputs, state

    def dropout_masks(self, T: int, B: int) -> list[np.ndarray] | None:
        """Inverted-dropout masks ``(T, B, h * directions)`` for the outputs of every layer but the
        last (kept with probability 1 - p, scaled by 1 / (1 - p)); ``None`` without dropout."""
        p = self.config.dropout
        if not p or self.config.num_layers == 1:
            return None
        shape = (T, B, self.config.num_outputs)
        return [(self.dropout_rng.random(shape) >= p) / (1.0 - p) for _ in range(self.config.num_layers - 1)]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config.describe()}, {self.config.num_inputs} -> {self.config.num_hiddens})"
