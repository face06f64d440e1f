"""Canonical parameters: d2l's names and shapes, the common language of all backends.

An LSTM with ``num_inputs`` d and ``num_hiddens`` h has, for each gate
g in (i: input, f: forget, o: output, c: input node / candidate cell)::

    W_x{g}: (d, h)    W_h{g}: (h, h)    b_{g}: (h,)

and a language model adds the output layer ``W_hq: (h, vocab)``, ``b_q: (vocab,)``.
Every backend stores the four gates fused, in its own order; :func:`fuse_gates` and
:func:`split_gates` convert, given that order as a string such as ``"ifco"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import ArrayLike

from .types import NativeParams, Params, Shapes, Tensor

if TYPE_CHECKING:
    from .family import LayerConfig

#: d2l's gate order (the order its LSTMScratch declares them); the scratch cells use it.
GATES = "ifoc"


class ParameterError(ValueError):
    """Parameters that do not match what a model expects."""


def lstm_shapes(num_inputs: int, num_hiddens: int) -> Shapes:
    shapes: Shapes = {}
    for g in GATES:
        shapes[f"W_x{g}"] = (num_inputs, num_hiddens)
        shapes[f"W_h{g}"] = (num_hiddens, num_hiddens)
        shapes[f"b_{g}"] = (num_hiddens,)
    return shapes


def lm_shapes(num_inputs: int, num_hiddens: int, vocab_size: int) -> Shapes:
    return {**lstm_shapes(num_inputs, num_hiddens), "W_hq": (num_hiddens, vocab_size), "b_q": (vocab_size,)}


def check_params(params: Mapping[str, ArrayLike], expected: Mapping[str, tuple[int, ...]], what: str = "model") -> None:
    """Raise :class:`ParameterError` naming the missing, unexpected and mis-shaped tensors
    (the first few of each kind, and how many more)."""
    problems = []
    missing = [n for n in expected if n not in params]
    extra = [n for n in params if n not in expected]
    if missing:
        problems.append(f"missing {short_list(missing)}")
    if extra:
        problems.append(f"unexpected {short_list(extra)}")
    wrong = [
        f"{name} has shape {tuple(np.shape(params[name]))}, expected {tuple(shape)}"
        for name, shape in expected.items()
        if name in params and tuple(np.shape(params[name])) != tuple(shape)
    ]
    if wrong:
        more = f" and {len(wrong) - 2} more mis-shaped" if len(wrong) > 2 else ""
        problems.append("; ".join(wrong[:2]) + more)
    if problems:
        raise ParameterError(f"Parameters do not fit this {what}: " + "; ".join(problems) + ".")


def fuse_gates(params: Params, order: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Canonical LSTM parameters -> ``W_x (d, 4h)``, ``W_h (h, 4h)``, ``b (4h,)``, gates in ``order``."""
    W_x = np.concatenate([params[f"W_x{g}"] for g in order], axis=1)
    W_h = np.concatenate([params[f"W_h{g}"] for g in order], axis=1)
    b = np.concatenate([params[f"b_{g}"] for g in order])
    return W_x, W_h, b


def split_gates(W_x: ArrayLike, W_h: ArrayLike, b: ArrayLike, order: str) -> Params:
    """The inverse of :func:`fuse_gates`: fused arrays (gates in ``order``) -> canonical dict."""
    params: Params = {}
    for g, w_x, w_h, b_g in zip(
        order, np.split(np.asarray(W_x), 4, axis=1), np.split(np.asarray(W_h), 4, axis=1), np.split(np.asarray(b), 4)
    ):
        params[f"W_x{g}"], params[f"W_h{g}"], params[f"b_{g}"] = w_x, w_h, b_g
    return {name: params[name] for name in lstm_shapes(1, 1)}  # canonical order


def init_params(
    num_inputs: int, num_hiddens: int, vocab_size: int | None = None, sigma: float = 0.01, seed: int = 0
) -> Params:
    """d2l's scratch initialisation in NumPy (weights ~ N(0, sigma^2), biases 0), float32.

    The same seed gives the same parameters on every backend.
    """
    rng = np.random.default_rng(seed)
    shapes = (
        lstm_shapes(num_inputs, num_hiddens) if vocab_size is None else lm_shapes(num_inputs, num_hiddens, vocab_size)
    )
    return {
        name: (np.zeros(shape) if name.startswith("b_") else rng.standard_normal(shape) * sigma).astype(np.float32)
        for name, shape in shapes.items()
    }


def short_list(names: Iterable[str], limit: int = 4) -> str:
    """``"a, b, c, d and 5 more"``: messages name the first problems and count the rest."""
    listed = list(names)
    if len(listed) <= limit:
        return ", ".join(listed)
    return f"{', '.join(listed[:limit])} and {len(listed) - limit} more"


@dataclass(frozen=True)
class FusedLayout:
    """How one unit (a layer in one direction) stores its gates in a framework's parameters.

    Every backend's layer describes its storage with one of these and the conversion to
    and from canonical names is written here, once:

    - ``W_x``, ``W_h``, ``b``: the native names of the fused input weights, recurrent
      weights and bias (the gate blocks side by side, in ``order``);
    - ``rows``: blocks stacked as rows, ``(G h, d)`` (torch, Gluon), not columns ``(d, G h)``;
    - ``b_h``: a second bias the framework adds to the recurrent half (torch, Gluon, Keras'
      GRU). Canonical ``b_g`` is the sum of the two; the second's block is kept at zero and
      frozen (:meth:`frozen`), so ``dL/db_g`` is the first's gradient, except for the gates in
      ``separate``, whose second-bias block is a canonical parameter of its own (the GRU's
      ``b_hh``, inside the reset gate's product);
    - ``paired``: ``b`` is one ``(2, G h)`` array holding both biases (Keras' GRU);
    - ``extras``: canonical names stored as they are (peephole weights; the scratch GRU's ``b_hh``).
    """

    W_x: str
    W_h: str
    b: str
    order: str
    rows: bool = False
    b_h: str | None = None
    separate: tuple[tuple[str, str], ...] = ()
    paired: bool = False
    extras: dict[str, str] = field(default_factory=dict)  # canonical name -> native name

    def _biases(self, native: NativeParams) -> tuple[Tensor, Tensor | None]:
        if self.paired:
            return native[self.b][0], native[self.b][1]
        return native[self.b], (native[self.b_h] if self.b_h else None)

    def to_canonical(self, native: NativeParams, grads: bool = False) -> Params:
        G = len(self.order)
        W_x, W_h = np.asarray(native[self.W_x]), np.asarray(native[self.W_h])
        if self.rows:
            W_x, W_h = W_x.T, W_h.T
        b, b_h = self._biases(native)
        b_blocks = np.split(np.asarray(b), G)
        b_h_blocks = np.split(np.asarray(b_h), G) if b_h is not None else [None] * G
        separate = dict(self.separate)
        params: Params = {}
        for g, w_x, w_h, b_g, b2 in zip(
            self.order, np.split(W_x, G, axis=1), np.split(W_h, G, axis=1), b_blocks, b_h_blocks
        ):
            params[f"W_x{g}"], params[f"W_h{g}"] = w_x, w_h
            if g in separate and b2 is not None:  # the second bias's block is a parameter of its own
                params[f"b_{g}"], params[separate[g]] = b_g, b2
            else:
                params[f"b_{g}"] = b_g if (b2 is None or grads) else b_g + b2
        params.update({name: np.asarray(native[n]) for name, n in self.extras.items()})
        return params

    def from_canonical(self, params: Params) -> Params:
        W_x = np.concatenate([params[f"W_x{g}"] for g in self.order], axis=1)
        W_h = np.concatenate([params[f"W_h{g}"] for g in self.order], axis=1)
        b = np.concatenate([params[f"b_{g}"] for g in self.order])
        if self.rows:
            W_x, W_h = W_x.T, W_h.T
        native = {self.W_x: np.ascontiguousarray(W_x), self.W_h: np.ascontiguousarray(W_h)}
        separate = dict(self.separate)
        b_h = np.concatenate(
            [params[separate[g]] if g in separate else np.zeros_like(params[f"b_{g}"]) for g in self.order]
        )
        if self.paired:
            native[self.b] = np.stack([b, b_h])
        else:
            native[self.b] = b
            if self.b_h:
                native[self.b_h] = b_h
        native.update({n: params[name] for name, n in self.extras.items()})
        return native

    def frozen(self, h: int) -> Params:
        """Native name -> mask of the entries kept at zero (the duplicate biases)."""
        if not (self.b_h or self.paired):
            return {}
        separate = dict(self.separate)
        mask = np.concatenate([np.full(h, g not in separate) for g in self.order])
        if self.paired:
            return {self.b: np.stack([np.zeros_like(mask), mask])}
        return {self.b_h: mask} if self.b_h else {}


class UnitLayout(Protocol):
    """What :class:`CanonicalLayer` needs of one unit's storage: a :class:`FusedLayout` (every
    framework), or the NumPy backend's identity layout."""

    def to_canonical(self, native: NativeParams, grads: bool = False) -> Params: ...

    def from_canonical(self, params: Params) -> Params: ...

    def frozen(self, h: int) -> Params: ...


class CanonicalLayer:
    """Canonical names for any layer of the family, from its units' :class:`FusedLayout`.

    A backend's layer class sets ``self.config`` (a :class:`~.family.LayerConfig`) and
    implements ``unit_layout(index, prefix, layer, reverse) -> FusedLayout`` with the native
    names of that unit; this mixin does the rest for every cell, stacked or bidirectional.
    """

    config: LayerConfig

    @property
    def num_inputs(self) -> int:
        return self.config.num_inputs

    @property
    def num_hiddens(self) -> int:
        return self.config.num_hiddens

    def unit_layout(self, index: int, prefix: str, layer: int, reverse: bool) -> UnitLayout:
        """Unit ``index`` (canonical ``prefix``, layer ``layer``, ``reverse`` direction): its storage."""
        raise NotImplementedError

    def canonical_shapes(self) -> Shapes:
        return self.config.shapes()

    def layouts(self) -> list[tuple[str, UnitLayout]]:
        """``(canonical prefix, FusedLayout)`` for every unit."""
        return [
            (prefix, self.unit_layout(i, prefix, k, reverse))
            for i, (prefix, k, _, reverse) in enumerate(self.config.units())
        ]

    def to_canonical(self, native: NativeParams, grads: bool = False) -> Params:
        return {
            prefix + name: value
            for prefix, layout in self.layouts()
            for name, value in layout.to_canonical(native, grads).items()
        }

    def from_canonical(self, params: Params) -> Params:
        native: Params = {}
        for prefix, layout in self.layouts():
            unit = {name[len(prefix) :]: value for name, value in params.items() if name.startswith(prefix)}
            native.update(layout.from_canonical(unit))
        return native

    def frozen(self) -> Params:
        """Native name -> mask of entries that training keeps at zero."""
        masks: Params = {}
        for _, layout in self.layouts():
            masks.update(layout.frozen(self.config.num_hiddens))
        return masks


def scratch_layout(config: LayerConfig, native_prefix: str) -> FusedLayout:
    """The scratch cells' storage of one unit: ``W_x (d, G h)``, ``W_h (h, G h)``, ``b (G h,)``
    fused in d2l's gate order, extras (peepholes, ``b_hh``) under their canonical names."""
    p = native_prefix
    extras = {name: p + name for name in config.spec.extra_shapes(config, 1, 1)}
    return FusedLayout(p + "W_x", p + "W_h", p + "b", config.spec.gates, extras=extras)


def fuse_unit(config: LayerConfig, params: Params, prefix: str = "") -> Params:
    """A unit's canonical parameters -> the scratch storage (``W_x``, ``W_h``, ``b``, extras)."""
    unit = {name[len(prefix) :]: value for name, value in params.items() if name.startswith(prefix)}
    return scratch_layout(config, "").from_canonical(unit)
