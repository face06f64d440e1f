"""Canonical parameters: d2l's names and shapes, the common language of all backends.

An LSTM with ``num_inputs`` d and ``num_hiddens`` h has, for each gate
g in (i: input, f: forget, o: output, c: input node / candidate cell)::

    W_x{g}: (d, h)    W_h{g}: (h, h)    b_{g}: (h,)

and a language model adds the output layer ``W_hq: (h, vocab)``, ``b_q: (vocab,)``.
Every backend stores the four gates fused, in its own order; :func:`fuse_gates` and
:func:`split_gates` convert, given that order as a string such as ``"ifco"``.
"""

from __future__ import annotations

import numpy as np

#: d2l's gate order (the order its LSTMScratch declares them); the scratch cells use it.
GATES = "ifoc"


class ParameterError(ValueError):
    """Parameters that do not match what a model expects."""


def lstm_shapes(num_inputs: int, num_hiddens: int) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for g in GATES:
        shapes[f"W_x{g}"] = (num_inputs, num_hiddens)
        shapes[f"W_h{g}"] = (num_hiddens, num_hiddens)
        shapes[f"b_{g}"] = (num_hiddens,)
    return shapes


def lm_shapes(num_inputs: int, num_hiddens: int, vocab_size: int) -> dict[str, tuple[int, ...]]:
    return {**lstm_shapes(num_inputs, num_hiddens),
            "W_hq": (num_hiddens, vocab_size), "b_q": (vocab_size,)}


def check_params(params: dict, expected: dict[str, tuple[int, ...]], what: str = "model") -> None:
    """Raise :class:`ParameterError` naming every missing, unexpected or mis-shaped tensor."""
    problems = []
    missing = [n for n in expected if n not in params]
    extra = [n for n in params if n not in expected]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected {', '.join(extra)}")
    for name, shape in expected.items():
        if name in params and tuple(np.shape(params[name])) != tuple(shape):
            problems.append(f"{name} has shape {tuple(np.shape(params[name]))}, expected {tuple(shape)}")
    if problems:
        raise ParameterError(f"Parameters do not fit this {what}: " + "; ".join(problems) + ".")


def fuse_gates(params: dict, order: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Canonical LSTM parameters -> ``W_x (d, 4h)``, ``W_h (h, 4h)``, ``b (4h,)``, gates in ``order``."""
    W_x = np.concatenate([params[f"W_x{g}"] for g in order], axis=1)
    W_h = np.concatenate([params[f"W_h{g}"] for g in order], axis=1)
    b = np.concatenate([params[f"b_{g}"] for g in order])
    return W_x, W_h, b


def split_gates(W_x, W_h, b, order: str) -> dict[str, np.ndarray]:
    """The inverse of :func:`fuse_gates`: fused arrays (gates in ``order``) -> canonical dict."""
    params = {}
    for g, w_x, w_h, b_g in zip(order, np.split(np.asarray(W_x), 4, axis=1),
                                np.split(np.asarray(W_h), 4, axis=1), np.split(np.asarray(b), 4)):
        params[f"W_x{g}"], params[f"W_h{g}"], params[f"b_{g}"] = w_x, w_h, b_g
    return {name: params[name] for name in lstm_shapes(1, 1)}  # canonical order


def init_params(num_inputs: int, num_hiddens: int, vocab_size: int | None = None,
                sigma: float = 0.01, seed: int = 0) -> dict[str, np.ndarray]:
    """d2l's scratch initialisation in NumPy (weights ~ N(0, sigma^2), biases 0), float32.

    The same seed gives the same parameters on every backend.
    """
    rng = np.random.default_rng(seed)
    shapes = (lstm_shapes(num_inputs, num_hiddens) if vocab_size is None
              else lm_shapes(num_inputs, num_hiddens, vocab_size))
    return {name: (np.zeros(shape) if name.startswith("b_") else rng.standard_normal(shape) * sigma
                   ).astype(np.float32) for name, shape in shapes.items()}


class FusedGates:
    """Canonical conversion for an LSTM that stores its four gates fused.

    A class says how its framework lays the gates out, and this mixin converts
    (``to_canonical`` / ``from_canonical`` on flat dicts of NumPy arrays by native name):

    - ``NATIVE``: the names of the fused input weights, recurrent weights and bias;
    - ``GATE_ORDER``: the order of the four gate blocks (``"ifoc"``: d2l's; ``"ifco"``: cuDNN's);
    - ``ROWS``: blocks stacked as rows, ``(4h, d)`` (torch, Gluon), not columns ``(d, 4h)``;
    - ``SECOND_BIAS``: a second bias the layer adds (torch, Gluon). Canonical ``b`` is the
      sum; the backends keep the second at zero and frozen, so ``dL/db`` is the first's gradient.
    """

    NATIVE = ("W_x", "W_h", "b")
    GATE_ORDER = GATES
    ROWS = False
    SECOND_BIAS: str | None = None

    def canonical_shapes(self):
        return lstm_shapes(self.num_inputs, self.num_hiddens)

    def to_canonical(self, native, grads=False):
        W_x, W_h, b = (native[name] for name in self.NATIVE)
        if self.ROWS:
            W_x, W_h = W_x.T, W_h.T
        if self.SECOND_BIAS is not None and not grads:
            b = b + native[self.SECOND_BIAS]
        return split_gates(W_x, W_h, b, self.GATE_ORDER)

    def from_canonical(self, params):
        W_x, W_h, b = fuse_gates(params, self.GATE_ORDER)
        if self.ROWS:
            W_x, W_h = W_x.T, W_h.T
        native = dict(zip(self.NATIVE, (W_x, W_h, b)))
        if self.SECOND_BIAS is not None:
            native[self.SECOND_BIAS] = np.zeros_like(b)
        return native
