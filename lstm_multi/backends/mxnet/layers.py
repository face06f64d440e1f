"""What the MXNet layers share: the scratch wrapper (stacking, both directions) and the native base.

Every layer takes time-major ``X (T, B, d)`` and an optional state in the API form
(LSTM ``(H, C)``, GRU/RNN ``H``; each ``(B, h)`` for one layer in one direction, else
``(layers * directions, B, h)`` stacked in the order l0, l0.rev, l1, ...) and returns
``outputs (T, B, h * directions)`` and the final state in the same form.

Both kinds are Gluon ``HybridBlock``s, hybridized when built: a call traces
``hybrid_forward`` into a symbolic graph that MXNet runs as one cached operator
(forward and backward). The native layer's one graph serves every shape; the scratch
layer unrolls its loop over time, so it traces one graph per number of steps and keeps a
cached operator per input shape (:meth:`ScratchLayer.forward`). Inside a graph the inputs
are symbols without shapes, so :meth:`checked_state` checks them in ``forward`` first.

Why the scratch cells run as they do (MXNet 1.9.1's pip wheel, CPU): its plain kernels
(``np.dot``, element-wise NumPy operators) are built without AVX, its oneDNN operators
(``npx.fully_connected``, ``npx.activation``, ``npx.slice``) use AVX-512; so the matmuls
are inner products (:func:`matmul`), the gate blocks slices (:func:`split`). An unrolled
graph of fixed length runs 2-3x faster than ``contrib.foreach`` (one subgraph call per
step); at small sizes each operator's ~3 us is the bound, so a step has few of them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import mxnet as mx
from mxnet import gluon, np

from ...core.checks import check_sequence, check_state
from ...core.family import LayerConfig, init_layer_params, resolve_init
from ...core.params import CanonicalLayer, FusedLayout, fuse_unit, scratch_layout
from .ops import get_params, named_parameters, new_parameter, set_params, tensor, to_numpy

#: Gluon's hybridize options: reuse the memory of the cached graph between calls.
HYBRIDIZE = {"static_alloc": True}
#: the scratch layers': also plan the memory once per input shape (each shape has its own graph).
SCRATCH_HYBRIDIZE = {"static_alloc": True, "static_shape": True}


def matmul(api, A, W):
    """``A W`` for ``A (..., k)`` and a weight ``W (k, n)``, on oneDNN's inner product.

    MXNet 1.9.1's pip wheel runs ``np.dot`` on kernels built without AVX, while
    ``npx.fully_connected`` (oneDNN, AVX-512) is 3-10x faster at the cells' shapes; it takes
    its weight as ``(n, k)``, so ``W`` is transposed: in a cached graph the transposes of one
    weight by every step are one node (MXNet eliminates common expressions). ``n`` is read
    from the array, or from the symbol's inferred shape when tracing (weights have shapes).
    """
    return api.npx.fully_connected(A, W.T, no_bias=True, num_hidden=_width(W), flatten=False)


def split(api, A, sections: int, width: int):
    """``A (B, sections * width)`` -> its ``sections`` column blocks ``(B, width)``, as ``np.split``
    does, with one ``slice`` operator each (oneDNN): ``A[:, a:b]`` costs two (a slice and a
    reshape, forward and backward), ``np.split`` and the legacy ``split`` 5-10x one slice at
    small sizes. (``width``: a symbol's shape is unknown when tracing.)"""
    return [api.npx.slice(A, begin=(None, k * width), end=(None, (k + 1) * width)) for k in range(sections)]


def _width(A):
    """The last dimension of an array, or of a symbol (its inferred shape: parameters have shapes)."""
    return A.infer_shape_partial()[1][0][-1] if isinstance(A, mx.sym.Symbol) else A.shape[-1]


def input_projection(api, X, p):
    """``X_t W_x + b`` for every step at once (it does not depend on the state):
    ``X (T, B, d)`` -> ``(T, B, G h)``, one inner product."""
    return api.npx.fully_connected(X, p["W_x"].T, p["b"], num_hidden=_width(p["b"]), flatten=False)


def unstack(api, XW, num_steps: int):
    """``(T, B, k)`` -> the list of its ``T`` steps ``(B, k)``: one operator (the legacy ``split``)."""
    if num_steps == 1:
        return [api.np.squeeze(XW, axis=0)]
    parts = api.split(XW.as_nd_ndarray(), num_outputs=num_steps, axis=0, squeeze_axis=True)
    return [part.as_np_ndarray() for part in parts]


def scan(api, step, xs, state):
    """``ys, state`` of ``y_t, state = step(x_t, state)`` for each ``x_t`` along axis 0 of ``xs``.

    This is ``api.contrib.foreach`` (``api`` is Gluon's ``F``): a Python loop when run op by op, one loop
    operator in the graph when hybridized, for any number of steps. The scratch layer
    uses it only inside a hybridized parent, whose symbols have no shapes (a Python ``for``
    over ``range(num_steps)`` needs the number). MXNet 1.9's foreach takes only legacy NDArrays and
    Symbols, so the arrays cross it as legacy views (no copies) and ``step`` sees
    NumPy-interface arrays.
    """

    def legacy_step(x_t, state):
        y_t, state = step(x_t.as_np_ndarray(), [s.as_np_ndarray() for s in state])
        return y_t.as_nd_ndarray(), [s.as_nd_ndarray() for s in state]

    ys, state = api.contrib.foreach(legacy_step, xs.as_nd_ndarray(), [s.as_nd_ndarray() for s in state])
    return ys.as_np_ndarray(), [s.as_np_ndarray() for s in state]


class Layer(CanonicalLayer, gluon.HybridBlock):
    """The API every MXNet layer shares: checks, zero state, the state's form."""

    def __init__(self, config: LayerConfig, seed: int):
        gluon.HybridBlock.__init__(self)
        self.config = config
        self.seed = seed

    def checked_state(self, inputs, state):
        """Check ``inputs`` and ``state`` (clear errors, before MXNet sees them); zeros if ``state``
        is None. Symbols (inside a hybridized parent's graph) pass unchecked."""
        if isinstance(inputs, mx.sym.Symbol):
            return state
        check_sequence(inputs.shape, self.config)
        batch_size = inputs.shape[1]
        if state is None:
            shape = self.config.state_shape(batch_size)
            parts = [np.zeros(shape, dtype=inputs.dtype, ctx=inputs.ctx) for _ in self.config.spec.state]
            return tuple(parts) if len(parts) > 1 else parts[0]
        check_state(state, self.config, batch_size)
        return tuple(state) if len(self.config.spec.state) > 1 else state

    def forward(self, inputs, state=None):
        outputs, state = super().forward(inputs, self.checked_state(inputs, state))
        return outputs, (tuple(state) if isinstance(state, list) else state)  # the graph returns lists

    def state_parts(self, state):
        """The API form -> a list of its tensors (``[H, C]`` or ``[H]``)."""
        return list(state) if len(self.config.spec.state) > 1 else [state]

    def api_state(self, parts):
        return tuple(parts) if len(parts) > 1 else parts[0]


class ScratchLayer(Layer):
    """Any cell of the family from scratch, stacked and bidirectional.

    One set of fused parameters per unit: ``W_x (d, G h)``, ``W_h (h, G h)``, ``b (G h,)``
    (gates in d2l's order) and the cell's extras, named ``W_x`` ... for a single unit,
    else ``l0_W_x``, ``l0_rev_W_x``, ``l1_W_x`` ... (the canonical prefix, "." -> "_").
    A subclass gives its cell's equations for one step, :attr:`step` (a function in the
    cell's file, which :func:`trace` also runs); :meth:`recurrence` runs it over one
    unit's sequence, and this class runs each unit (the reverse direction over the
    flipped sequence, its outputs flipped back), concatenates ``[forward, reverse]`` as
    the next layer's input, applies inverted dropout between layers (only in training:
    MXNet's dropout operator reads the mode at run time, so the traced graph serves both)
    and stacks the final states. Initialisation: ``init`` and ``sigma`` (d2l's for one layer,
    orthogonal for a stacked one), drawn by NumPy from ``seed``
    (:func:`~lstm_multi.core.family.init_layer_params`), the same on every backend.
    """

    def __init__(self, config: LayerConfig, init: str | None = None, sigma: float | None = None, seed: int = 0):
        super().__init__(config, seed)
        self.init, self.sigma = resolve_init(config, init, sigma)
        params = init_layer_params(config, self.sigma, seed, self.init)
        for prefix, _, _, _ in config.units():
            for name, value in fuse_unit(config, params, prefix).items():
                name = native_prefix(prefix) + name
                setattr(self, name, new_parameter(self, name, value))
        mx.random.seed(seed)  # the dropout masks (MXNet has one global generator)
        self.__dict__.update(_num_steps=None, _graphs={}, _ops=OrderedDict(), _shape=None)
        self.hybridize(**SCRATCH_HYBRIDIZE)

    def unit_layout(self, index, prefix, layer, reverse) -> FusedLayout:
        return scratch_layout(self.config, native_prefix(prefix))

    #: the cell's equations for one step (set by each cell): ``step(config, p, state, XW_t, api)``
    #: -> the new state and ``{name: value}`` for every name in ``CELLS[cell].traces``.
    step: Callable[..., Any]

    #: cached graphs kept, one per input shape (the least recently used is dropped first)
    MAX_GRAPHS = 8

    def forward(self, inputs, state=None):
        """Runs the cached graph of ``inputs``' shape: the loop is unrolled over its ``num_steps``,
        so each number of steps is traced once (:meth:`hybrid_forward`) and each input shape
        gets its own cached operator (memory planned once: ``static_shape``)."""
        if isinstance(inputs, mx.sym.Symbol):  # inside a hybridized parent: no shapes, contrib.foreach
            self._num_steps = None
        elif self._active:
            self._select_graph(tuple(inputs.shape))
        return super().forward(inputs, state)

    def _select_graph(self, shape):
        """Swap in Gluon's cached graph and operator for ``shape`` (saving the current ones).

        These are ``HybridBlock``'s private attributes (``_cached_graph``, ``_cached_op``, ...)
        in MXNet 1.9.1, the last release (pinned, so they cannot move under us); the test of
        traces per number of steps in tests/test_mxnet.py holds them to it."""
        self._num_steps = shape[0]
        if shape == self._shape:
            return
        if self._shape is not None and self._cached_op is not None:
            self._ops[self._shape] = (self._cached_op, self._cached_op_args)
            self._graphs[self._shape[0]] = (self._cached_graph, self._in_format, self._out_format)
        self._shape = shape
        graph = self._graphs.get(shape[0])
        self._cached_graph, self._in_format, self._out_format = graph if graph else ((), None, None)
        self._cached_op, self._cached_op_args = self._ops.pop(shape, (None, []))
        while len(self._ops) >= self.MAX_GRAPHS:
            self._ops.popitem(last=False)

    def _clear_cached_op(self):
        super()._clear_cached_op()
        if "_graphs" in self.__dict__:
            self.__dict__.update(_graphs={}, _ops=OrderedDict(), _shape=None)

    def recurrence(self, api, X, state, p):
        """One unit over ``X (T, B, d)`` from ``state`` (a list of ``(B, h)``): returns
        ``outputs (T, B, h)`` and the final state (a list). ``p``: the unit's parameters.

        The cell's :attr:`step` runs once per step, a Python loop unrolled into the graph when
        tracing (the number of steps is the input's, :meth:`forward`), each step starting with
        its input half ``X_t W_x + b`` (:func:`input_projection`). That half does not depend on
        the state and could be computed for all steps before the loop, as torch does; but then
        the cached graph holds the whole ``(T, B, G h)`` tensor and its gradient (256 MB at
        h 256, batch 1024, 32 steps). Measured on 2 cores, per step is as fast at batch 1024
        and 5-12% slower at batch 32 (one more operator a step), and the LSTM's peak memory
        falls from 2.2x to 1.5x ``gluon.rnn.LSTM``'s. Inside a hybridized parent (whose symbols
        have no shapes) the loop is :func:`scan` (``contrib.foreach``) over the hoisted half.
        """
        num_steps = X.shape[0] if isinstance(X, np.ndarray) else self._num_steps
        if num_steps is None:

            def loop_step(XW_t, state):
                state, _ = self.step(self.config, p, state, XW_t, api)
                return state[0], list(state)

            return scan(api, loop_step, input_projection(api, X, p), state)  # XW (T, B, G h) hoisted
        outputs = []
        for X_t in unstack(api, X, num_steps):
            state, _ = self.step(self.config, p, state, input_projection(api, X_t, p), api)
            outputs.append(state[0])
        return api.np.stack(outputs, axis=0), list(state)

    def hybrid_forward(self, api, inputs, state, **params):
        """``api`` (Gluon's ``F``): ``mxnet.ndarray`` op by op, ``mxnet.symbol`` when tracing."""
        config = self.config
        parts = self.state_parts(state)
        if config.single:  # the plain layer: no prefix, no reshaping of its (B, h) state
            outputs, parts = self.recurrence(api, inputs, parts, params)
            return outputs, self.api_state(parts)
        units = config.units()
        per_unit = [api.np.split(s, len(units), axis=0) for s in parts]  # each (1, B, h)
        finals, layer_input, layer_outputs = [], inputs, []
        for u, (prefix, _, _, reverse) in enumerate(units):
            if len(layer_outputs) == config.directions:  # the previous layer is done: it feeds this one
                layer_input = concat(api, layer_outputs)
                if config.dropout:
                    layer_input = api.npx.dropout(layer_input, p=config.dropout)
                layer_outputs = []
            p = {
                name[len(native_prefix(prefix)) :]: value
                for name, value in params.items()
                if name.startswith(native_prefix(prefix))
            }
            X = api.np.flip(layer_input, axis=0) if reverse else layer_input
            outputs, unit_state = self.recurrence(api, X, [api.np.squeeze(s[u], axis=0) for s in per_unit], p)
            layer_outputs.append(api.np.flip(outputs, axis=0) if reverse else outputs)
            finals.append(unit_state)
        parts = [api.np.stack([f[i] for f in finals], axis=0) for i in range(len(parts))]
        return concat(api, layer_outputs), self.api_state(parts)


def native_prefix(prefix: str) -> str:
    """Canonical unit prefix -> the scratch parameters' prefix: ``"l0.rev."`` -> ``"l0_rev_"``."""
    return prefix.replace(".", "_")


def concat(api, outputs):
    return outputs[0] if len(outputs) == 1 else api.np.concatenate(outputs, axis=-1)


class DropoutBetweenLayers:
    """Mixed into ``gluon.rnn.LSTM``/``GRU``/``RNN``: inverted dropout between stacked layers that
    acts on the CPU too.

    Gluon passes its ``dropout`` to the fused RNN operator, whose oneDNN kernel (the CPU
    kernel of the pip wheel) has no dropout and ignores it without a word (oneDNN issue
    #807; ``MXNET_USE_MKLDNN_RNN=0`` would bring back the slower reference kernel, which
    has it). So the layer is built with ``dropout=0`` and, when ``between > 0`` and there
    are several layers, :meth:`_forward_kernel` runs the same operator one layer at a
    time on Gluon's own parameters, with ``npx.dropout`` (training only) in between.
    """

    between = 0.0

    def _forward_kernel(self, F, inputs, states, sequence_length, **kwargs):
        if not (self.between and self._num_layers > 1):
            return super()._forward_kernel(F, inputs, states, sequence_length, **kwargs)
        dirs, finals = self._dir, [[] for _ in states]
        outputs = inputs
        for k in range(self._num_layers):
            if k:
                outputs = F.npx.dropout(outputs, p=self.between)
            # the operator's flat layout for one layer: weights (l, then r; i2h, h2h), then biases
            flat = [
                kwargs[f"{d}{k}_{g}_{t}"].reshape(-1)
                for t in ("weight", "bias")
                for d in "lr"[:dirs]
                for g in ("i2h", "h2h")
            ]
            layer_states = [s[k * dirs : (k + 1) * dirs] for s in states]
            result = F.npx.rnn(
                outputs,
                F.np._internal.rnn_param_concat(*flat, dim=0),
                *layer_states,
                state_size=self._hidden_size,
                num_layers=1,
                bidirectional=dirs == 2,
                p=0,
                state_outputs=True,
                mode=self._mode,
            )
            outputs = result[0]
            for i in range(len(states)):
                finals[i].append(result[1 + i])
        return outputs, [F.np.concatenate(f, axis=0) for f in finals]


def with_dropout_between_layers(gluon_class):
    """``gluon.rnn.LSTM`` -> the same class with :class:`DropoutBetweenLayers` mixed in."""
    return type(gluon_class.__name__, (DropoutBetweenLayers, gluon_class), {})


class NativeLayer(Layer):
    """A Gluon recurrent layer (``self.rnn``, layout "TNC") behind the family's API.

    Gluon's parameters, per layer k: ``l{k}_i2h_weight (G h, d)``, ``l{k}_h2h_weight (G h, h)``,
    ``l{k}_i2h_bias``, ``l{k}_h2h_bias`` (``r{k}_...`` for the reverse direction), the gate
    blocks stacked as rows in ``CELLS[cell].native_gate_order["mxnet"]``. Canonical ``b_g`` is the
    sum of the two biases; the duplicate ``h2h`` blocks are kept at zero and frozen
    (:meth:`frozen`): a wholly frozen bias gets ``grad_req = "null"``, a partly frozen one
    (the GRU's) has its gradient masked by the training step. Initialisation: Gluon's
    default (weights uniform in +-0.07, biases zero) drawn after ``mx.random.seed(seed)``
    (MXNet cannot fork its global generator); ``forget_bias`` then sets ``b_f``.
    """

    GLUON: Callable[..., Any]  # the gluon.rnn class, through with_dropout_between_layers (each subclass sets it)
    GLUON_ARGS: dict = {}

    def __init__(self, config: LayerConfig, seed: int = 0):
        super().__init__(config, seed)
        # input_size given, so the shapes are known now (no deferred initialisation).
        self.rnn = self.GLUON(
            config.num_hiddens,
            config.num_layers,
            layout="TNC",
            bidirectional=config.bidirectional,
            input_size=config.num_inputs,
            **self.GLUON_ARGS,
        )
        self.rnn.between = config.dropout
        mx.random.seed(seed)
        self.rnn.initialize()
        native = named_parameters(self)
        for name, mask in self.frozen().items():
            if mask.all():
                native[name].grad_req = "null"
        params = get_params(self)  # folds the second biases into the first, zeroes the frozen blocks
        for prefix, _, _, _ in config.units():
            if config.cell == "lstm":
                params[prefix + "b_f"][:] = config.forget_bias
        set_params(self, params)
        self.hybridize(**HYBRIDIZE)

    def unit_layout(self, index, prefix, layer, reverse) -> FusedLayout:
        d = f"rnn.{'r' if reverse else 'l'}{layer}_"
        separate = (("h", "b_hh"),) if self.config.cell == "gru" else ()
        return FusedLayout(
            d + "i2h_weight",
            d + "h2h_weight",
            d + "i2h_bias",
            self.config.spec.native_gate_order["mxnet"],
            rows=True,
            b_h=d + "h2h_bias",
            separate=separate,
        )

    def hybrid_forward(self, api, inputs, state):
        parts = self.state_parts(state)
        if self.config.single:  # Gluon wants (layers * directions, B, h): add the axis
            parts = [api.np.expand_dims(s, 0) for s in parts]
        outputs, parts = self.rnn(inputs, parts)
        if self.config.single:
            parts = [api.np.squeeze(s, axis=0) for s in parts]
        return outputs, self.api_state(parts)


def trace(layer, X, state=None) -> dict:
    """Every gate and state of ``layer`` (scratch or native) per step: ``{name: (T, B, h)}``, names
    ``CELLS[cell].traces`` prefixed by unit, in time order (no dropout).

    From the layer's current canonical weights, fused per unit as the scratch cells store
    them, a plain Python loop over the cell's step (the scratch layer's own equations,
    op by op) keeps every value it computes; a reverse unit runs over the flipped
    sequence and its values are put back in time order; layer k > 0 reads layer k-1's
    ``[forward, reverse]`` outputs. A native layer computes the same function (the tests
    hold both to the reference), so its trace is the equations' on its weights.
    """
    config = layer.config
    X = tensor(X)
    parts = [tensor(s) for s in layer.state_parts(layer.checked_state(X, state))]
    step, params, T = layer.step, get_params(layer), X.shape[0]
    values: dict[str, Any] = {}
    layer_input = X
    layer_outputs: list[Any] = []  # the outputs of the current layer's units so far
    for u, (prefix, _, _, reverse) in enumerate(config.units()):
        if len(layer_outputs) == config.directions:  # layer k-1 done: it feeds layer k
            layer_input, layer_outputs = concat(mx.nd, layer_outputs), []
        p = {name: tensor(value) for name, value in fuse_unit(config, params, prefix).items()}
        unit_state = [s if config.single else s[u] for s in parts]
        X_unit = np.flip(layer_input, axis=0) if reverse else layer_input
        steps = []
        for XW_t in unstack(mx.nd, input_projection(mx.nd, X_unit, p), T):  # as the layer computes them
            unit_state, values_t = step(config, p, unit_state, XW_t, mx.nd)
            steps.append(values_t)
        if reverse:
            steps.reverse()
        for name in config.spec.traces:
            values[prefix + name] = np.stack([s[name] for s in steps])
        layer_outputs.append(values[prefix + "H"])
    return {name: to_numpy(value) for name, value in values.items()}
