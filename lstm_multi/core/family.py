"""The model family: a registry of recurrent cells and the configuration of a layer.

A *cell* is one set of equations for one time step (LSTM, GRU, vanilla RNN). A *layer*
runs a cell over a sequence, possibly in both directions and stacked ``num_layers``
deep; it is described by a :class:`LayerConfig`, the same on every backend and stored
in checkpoints. Everything the rest of the package needs to know about a cell (its
gate letters, state, trace names, canonical parameters and the gate order of each
framework's native layer) is one :class:`Cell` entry in :data:`CELLS`.

Canonical parameter names, per (layer, direction) *unit*: for each gate letter g,
``W_x{g} (d, h)``, ``W_h{g} (h, h)``, ``b_{g} (h,)`` (d2l's names), plus the cell's
extras. One layer in one direction has no prefix; otherwise layer k's forward
direction is ``l{k}.`` and its reverse direction ``l{k}.rev.``; layer k > 0 reads
layer k-1's outputs, [forward, reverse] concatenated on the feature axis.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

import numpy as np

#: ``peephole`` spellings -> the stored form.
PEEPHOLES = {False: None, None: None, True: "diagonal", "diagonal": "diagonal", "full": "full"}


@dataclass(frozen=True)
class Cell:
    """What the package knows about one cell.

    Attributes:
        name: the registry key (``"lstm"``).
        title: for messages and plots (``"LSTM"``).
        gates: gate letters in the order the scratch cells fuse them (d2l's order).
        state: the names of the state tensors (``("H", "C")`` for an LSTM).
        traces: what :func:`trace` records per step, in order.
        native_gate_order: for each framework, the order of the gate blocks in its fused
            native layer (checked against each framework's source; see the backends).
        options: the cell's own options and their defaults.
    """

    name: str
    title: str
    gates: str
    state: tuple[str, ...]
    traces: tuple[str, ...]
    native_gate_order: dict[str, str]
    options: dict = field(default_factory=dict)

    def extra_shapes(self, config: LayerConfig, d: int, h: int) -> dict[str, tuple[int, ...]]:
        """Parameters beyond ``W_x*``, ``W_h*``, ``b_*`` (peepholes, the GRU's second bias)."""
        if self.name == "lstm" and config.peephole == "diagonal":
            return {"w_ci": (h,), "w_cf": (h,), "w_co": (h,)}
        if self.name == "lstm" and config.peephole == "full":
            return {"W_ci": (h, h), "W_cf": (h, h), "W_co": (h, h)}
        if self.name == "gru" and config.reset_after:
            return {"b_hh": (h,)}
        return {}


CELLS: dict[str, Cell] = {
    cell.name: cell
    for cell in (
        Cell(
            "lstm",
            "LSTM",
            gates="ifoc",
            state=("H", "C"),
            traces=("i", "f", "o", "c_tilde", "C", "H"),
            native_gate_order={"torch": "ifco", "tensorflow": "ifco", "jax": "ifco", "mxnet": "ifco"},
            options={"peephole": None, "forget_bias": 0.0},
        ),
        Cell(
            "gru",
            "GRU",
            gates="zrh",
            state=("H",),
            traces=("z", "r", "h_tilde", "H"),
            native_gate_order={"torch": "rzh", "tensorflow": "zrh", "jax": "rzh", "mxnet": "rzh"},
            options={"reset_after": True},
        ),
        Cell(
            "rnn",
            "RNN",
            gates="h",
            state=("H",),
            traces=("H",),
            native_gate_order={"torch": "h", "tensorflow": "h", "jax": "h", "mxnet": "h"},
        ),
    )
}
MODELS = tuple(CELLS)


def get_cell(name: str) -> Cell:
    if name not in CELLS:
        raise ValueError(f"Unknown model {name!r}. Valid models: {', '.join(MODELS)}.")
    return CELLS[name]


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


@dataclass(frozen=True)
class LayerConfig:
    """A recurrent layer of the family, the same on every backend.

    Args:
        cell: ``"lstm"``, ``"gru"`` or ``"rnn"``.
        num_inputs, num_hiddens: d and h.
        num_layers: layers stacked; layer k > 0 reads layer k-1's outputs.
        bidirectional: each layer also runs over the reversed sequence; outputs are
            ``[forward, reverse]`` concatenated, ``(T, B, 2h)``.
        dropout: inverted dropout on the outputs of every layer but the last, in training only.
        peephole: LSTM only. ``None``; ``"diagonal"`` (Gers et al. 2002: vectors ``w_ci``,
            ``w_cf`` read C_{t-1}, ``w_co`` reads C_t); ``"full"`` (matrices ``W_ci``, ``W_cf``,
            ``W_co`` read C_{t-1}).
        forget_bias: LSTM only: the initial value of ``b_f``.
        reset_after: GRU only: the reset gate after the recurrent matmul (cuDNN's form, with
            a second candidate bias ``b_hh``), else before it (d2l's).
    """

    cell: str = "lstm"
    num_inputs: int = 1
    num_hiddens: int = 1
    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    peephole: str | None = None
    forget_bias: float = 0.0
    reset_after: bool = True

    def __post_init__(self) -> None:
        spec = get_cell(self.cell)
        for name in ("num_inputs", "num_hiddens", "num_layers"):
            object.__setattr__(self, name, _positive_int(name, getattr(self, name)))
        if not isinstance(self.bidirectional, (bool, np.bool_)):
            raise ValueError(f"bidirectional must be True or False, got {self.bidirectional!r}.")
        dropout = self.dropout
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}.")
        if self.peephole not in PEEPHOLES:
            raise ValueError(f"peephole must be False, True, 'diagonal' or 'full', got {self.peephole!r}.")
        object.__setattr__(self, "peephole", PEEPHOLES[self.peephole])
        fb = self.forget_bias
        if isinstance(fb, bool) or not isinstance(fb, (int, float)) or not math.isfinite(fb):
            raise ValueError(f"forget_bias must be a finite number, got {fb!r}.")
        if not isinstance(self.reset_after, (bool, np.bool_)):
            raise ValueError(f"reset_after must be True or False, got {self.reset_after!r}.")
        for option, default in (("peephole", None), ("forget_bias", 0.0), ("reset_after", True)):
            if option not in spec.options and getattr(self, option) != default:
                raise ValueError(f"{option} is an option of {self._owner(option)}, not of the {spec.title}.")

    @staticmethod
    def _owner(option: str) -> str:
        return " and ".join(c.title for c in CELLS.values() if option in c.options)

    @property
    def spec(self) -> Cell:
        return CELLS[self.cell]

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def num_outputs(self) -> int:
        """Features of each output step: ``h * directions``."""
        return self.num_hiddens * self.directions

    @property
    def single(self) -> bool:
        """One layer, one direction: unprefixed names and ``(B, h)`` states."""
        return self.num_layers == 1 and not self.bidirectional

    def units(self) -> list[tuple[str, int, int, bool]]:
        """``(prefix, layer, input_size, reverse)`` for every unit, in state order."""
        units = []
        for k in range(self.num_layers):
            d = self.num_inputs if k == 0 else self.num_outputs
            for reverse in (False, True) if self.bidirectional else (False,):
                prefix = "" if self.single else f"l{k}.{'rev.' if reverse else ''}"
                units.append((prefix, k, d, reverse))
        return units

    def unit_shapes(self, d: int) -> dict[str, tuple[int, ...]]:
        """One unit's canonical parameters, unprefixed, in canonical order."""
        h = self.num_hiddens
        shapes: dict[str, tuple[int, ...]] = {}
        for g in self.spec.gates:
            shapes[f"W_x{g}"] = (d, h)
            shapes[f"W_h{g}"] = (h, h)
            shapes[f"b_{g}"] = (h,)
        return {**shapes, **self.spec.extra_shapes(self, d, h)}

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Every canonical parameter of the layer, prefixed, in canonical order."""
        return {prefix + name: shape for prefix, _, d, _ in self.units() for name, shape in self.unit_shapes(d).items()}

    def state_shape(self, batch_size: int) -> tuple[int, ...]:
        """Each state tensor: ``(B, h)``, or ``(layers * directions, B, h)`` stacked."""
        if self.single:
            return (batch_size, self.num_hiddens)
        return (len(self.units()), batch_size, self.num_hiddens)

    def describe(self) -> str:
        """``"2-layer bidirectional LSTM (peephole: full)"``, for messages and logs."""
        words = [f"{self.num_layers}-layer"] if self.num_layers > 1 else []
        words += ["bidirectional"] if self.bidirectional else []
        words.append(self.spec.title)
        notes = []
        if self.peephole:
            notes.append(f"peephole: {self.peephole}")
        if self.cell == "gru":
            notes.append("reset after" if self.reset_after else "reset before")
        if self.dropout:
            notes.append(f"dropout {self.dropout}")
        return " ".join(words) + (f" ({', '.join(notes)})" if notes else "")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> LayerConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"Unknown layer options {', '.join(unknown)}; valid: {', '.join(sorted(known))}.")
        return cls(**values)


#: The scratch initialisations (:func:`init_layer_params`).
INITS = ("d2l", "xavier", "orthogonal")
#: d2l's standard deviation of the scratch weights.
D2L_SIGMA = 0.01
#: What a stacked scratch layer (``num_layers > 1``) draws when no ``init`` is given: with d2l's
#: N(0, 0.01^2) the signal through two stacks of small weights starts tiny and a 2-layer LSTM
#: stays at perplexity 16.7 on the Time Machine; see README.md ("The rest of the family").
STACKED_INIT = "orthogonal"


def resolve_init(config: LayerConfig, init: str | None = None, sigma: float | None = None) -> tuple[str, float | None]:
    """The ``(init, sigma)`` a scratch layer of ``config`` draws with, checked.

    ``init=None`` means the default: d2l's for one layer, :data:`STACKED_INIT` for a
    stacked layer, and d2l's whenever ``sigma`` is given (sigma is d2l's knob).
    ``sigma=None`` with d2l's init means :data:`D2L_SIGMA`. Xavier and orthogonal take
    their scale from the shapes, so they refuse a ``sigma`` (None is returned for it).
    """
    if init is not None and init not in INITS:
        raise ValueError(
            f"Unknown init {init!r}. Valid inits: {', '.join(map(repr, INITS))} "
            "(or None: d2l's for one layer, "
            f"{STACKED_INIT!r} for num_layers > 1)."
        )
    if sigma is not None:
        if (
            isinstance(sigma, bool)
            or not isinstance(sigma, (int, float, np.floating, np.integer))
            or not math.isfinite(sigma)
            or sigma <= 0
        ):
            raise ValueError(f"sigma must be a positive number, got {sigma!r}.")
        if init not in (None, "d2l"):
            raise ValueError(
                f"sigma is the standard deviation of d2l's init; the {init!r} init takes "
                "its scale from the shapes of the weights. Leave sigma out (None) or "
                "use init='d2l'."
            )
        return "d2l", float(sigma)
    if init is None:
        init = "d2l" if config.num_layers == 1 else STACKED_INIT
    return init, (D2L_SIGMA if init == "d2l" else None)


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Glorot & Bengio (2010), uniform: U(-a, a), ``a = sqrt(6 / (fan_in + fan_out))``, so the
    variance is ``2 / (fan_in + fan_out)``. A matrix ``(fan_in, fan_out)``; a vector ``(h,)``
    (a diagonal peephole) counts ``fan_in = fan_out = h``, as Keras does."""
    fan_in, fan_out = (shape[0], shape[-1])
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape)


def orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    """A random orthogonal ``(n, n)`` matrix (Saxe et al. 2014; Keras' ``Orthogonal``, gain 1):
    the Q of a standard normal matrix's QR, its columns' signs fixed by ``diag(R)`` so that Q
    is uniform over the orthogonal group."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def init_layer_params(
    config: LayerConfig, sigma: float | None = None, seed: int = 0, init: str | None = None
) -> dict[str, np.ndarray]:
    """The scratch initialisation of every canonical parameter, in NumPy, float32.

    Every backend's scratch layer calls this, so the same ``seed`` gives the same model
    everywhere. Weights are drawn in canonical order from one generator seeded with ``seed``;
    biases are 0 except ``b_f = forget_bias``. ``init`` (see :func:`resolve_init` for the
    default, which depends on ``num_layers``):

    - ``"d2l"``: every weight ~ N(0, sigma^2), sigma 0.01 unless given (for one LSTM layer
      exactly :func:`~lstm_multi.core.params.init_params`).
    - ``"xavier"``: every weight Glorot *uniform*, per gate block: ``W_x{g} (d, h)``
      ~ U(-a, a) with ``a = sqrt(6 / (d + h))``, ``W_h{g} (h, h)`` with ``a = sqrt(3 / h)``;
      peepholes too (``w_c* (h,)`` and ``W_c* (h, h)`` both with ``a = sqrt(3 / h)``).
    - ``"orthogonal"``: Keras' recurrent default, per gate block: every ``W_h{g}`` a random
      orthogonal ``(h, h)`` matrix, everything else as ``"xavier"``.
    """
    init, sigma = resolve_init(config, init, sigma)
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in config.shapes().items():
        base = name.rsplit(".", 1)[-1]
        if base.startswith("b_"):
            value = np.full(shape, config.forget_bias if base == "b_f" else 0.0)
        elif init == "d2l":
            assert sigma is not None  # resolve_init gives d2l's init its sigma
            value = rng.standard_normal(shape) * sigma
        elif init == "orthogonal" and base.startswith("W_h"):
            value = orthogonal(rng, shape[0])
        else:
            value = glorot_uniform(rng, shape)
        params[name] = value.astype(np.float32)
    return params
