"""What the TensorFlow layers share: the stacking/bidirectional wrapper, scratch and native.

Every layer takes time-major ``X (T, B, d)`` and an optional state in the API form
(LSTM ``(H, C)``, GRU/RNN ``H``; each ``(B, h)`` for one layer in one direction, else
``(layers * directions, B, h)`` stacked in the order l0, l0.rev, l1, l1.rev, ...) and
returns ``outputs (T, B, h * directions)`` and the final state in the same form.

Calling a layer checks the shapes first (clear errors, eagerly) and then runs
:meth:`Layer.forward`; the compiled training step calls ``forward`` directly, on
batches already checked in NumPy (inside a trace the batch size is not known). All
units run inside one ``tf.function`` per layer, :attr:`Layer.recurrence`, traced once:
its input_signature leaves num_steps and the batch size open, and ``training`` is a
boolean tensor, so evaluation and training share the trace. A second one,
:attr:`Layer.xla_recurrence`, is traced only inside XLA-compiled functions (the steps of a
``jit_compile`` layer's model, or a user's own): XLA needs the gradient's per-step stacks
sized, which TensorFlow does only for a loop traced in an XLA context, so a trace made
outside one (an eager call, the evaluation) cannot serve inside one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from ...core.checks import check_sequence, check_state
from ...core.family import LayerConfig, init_layer_params, resolve_init
from ...core.params import CanonicalLayer, FusedLayout, fuse_unit, scratch_layout
from ._imports import keras, tf

# TensorFlow's own test for "this graph will be compiled by XLA" (what its while loops ask
# before sizing their gradient stacks); no public API says it
from tensorflow.python.ops.control_flow_util import GraphOrParentsInXlaContext  # noqa: E402  isort: skip


class Layer(CanonicalLayer, tf.Module):
    """Any layer of the family: checks, the state's forms, stacking, both directions, dropout.

    A subclass runs one unit (a layer in one direction) with :meth:`run_unit`. This class
    runs the units in order: the reverse direction over the flipped sequence (its outputs
    flipped back, :meth:`run_direction`), ``[forward, reverse]`` concatenated as the next
    layer's input, inverted dropout on it in training only (masks from a
    ``tf.random.Generator`` seeded with ``seed``: a new mask every step), the final states
    stacked.
    """

    jit_compile = False  # whether XLA compiles the steps of a model around this layer (``ops.compiled``)

    def __init__(self, config: LayerConfig, seed: int = 0):
        tf.Module.__init__(self)
        self.config, self.seed = config, seed
        if config.dropout and config.num_layers > 1:
            self.dropout_rng = tf.random.Generator.from_seed(seed)
        state = tf.TensorSpec(config.state_shape(None), tf.float32)  # type: ignore[arg-type]  # (B, h) or (units, B, h)
        signature = [
            tf.TensorSpec([None, None, config.num_inputs], tf.float32),
            (state,) * len(config.spec.state),
            tf.TensorSpec([], tf.bool),
        ]
        # A partial, not the bound method: TensorFlow counts traces per function's code and would
        # warn of retracing after five layers. Kept out of tf.Module's tracking (it holds self).
        all_units = functools.partial(type(self)._all_units, self)
        self.__dict__["recurrence"] = tf.function(all_units, input_signature=signature)
        self.__dict__["xla_recurrence"] = tf.function(all_units, input_signature=signature)  # see the module's doc

    def __call__(self, inputs, state=None):
        check_sequence(inputs.shape, self.config)
        if state is not None:
            check_state(state, self.config, inputs.shape[1])
        return self.forward(inputs, state)

    def forward(self, inputs, state=None, training=False):
        """``outputs, state`` without the checks: what the compiled steps trace."""
        inputs = tf.convert_to_tensor(inputs, tf.float32)
        if state is None:
            shape = self.config.state_shape(tf.shape(inputs)[1])
            parts = tuple(tf.zeros(shape) for _ in self.config.spec.state)
        else:
            parts = self.state_parts(state)
        in_xla = tf.inside_function() and GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())
        recurrence = self.xla_recurrence if in_xla else self.recurrence
        outputs, parts = recurrence(inputs, parts, tf.constant(training))
        return outputs, self.api_state(parts)

    def state_parts(self, state):
        """The API form -> a tuple of its tensors (``(H, C)`` or ``(H,)``)."""
        parts = tuple(state) if len(self.config.spec.state) > 1 else (state,)
        return tuple(tf.convert_to_tensor(s, tf.float32) for s in parts)

    @staticmethod
    def api_state(parts):
        return tuple(parts) if len(parts) > 1 else parts[0]

    def _all_units(self, inputs, parts, training):
        """``inputs (T, B, d)``, state parts -> ``outputs (T, B, h * directions)``, final parts."""
        config = self.config
        if config.single:  # the plain layer: its state is (B, h) as it is
            return self.run_direction(0, inputs, parts, reverse=False)
        finals, layer_input, layer_outputs = [], inputs, []
        for u, (_, _, _, reverse) in enumerate(config.units()):
            if len(layer_outputs) == config.directions:  # layer k-1 done: it feeds layer k
                layer_input = self.dropout(tf.concat(layer_outputs, axis=-1), training)
                layer_outputs = []
            outputs, unit_state = self.run_direction(u, layer_input, tuple(s[u] for s in parts), reverse)
            layer_outputs.append(outputs)
            finals.append(unit_state)
        stacked = tuple(tf.stack(unit_parts, axis=0) for unit_parts in zip(*finals))
        return tf.concat(layer_outputs, axis=-1), stacked

    def run_direction(self, index, X, state, reverse):
        """Unit ``index`` over ``X`` (over it backwards when ``reverse``); outputs in X's order."""
        if not reverse:
            return self.run_unit(index, X, state)
        outputs, state = self.run_unit(index, tf.reverse(X, axis=[0]), state)
        return tf.reverse(outputs, axis=[0]), state

    def run_unit(self, index, X, state):
        """One unit over ``X (T, B, d)`` from ``state`` (a tuple of ``(B, h)``): returns
        ``outputs (T, B, h)`` and the final state (a tuple)."""
        raise NotImplementedError

    def dropout(self, X, training):
        """Inverted dropout (``X * mask / (1 - p)``) between layers, when ``training`` only."""
        rate = self.config.dropout
        if not rate:
            return X
        return tf.cond(
            training,
            lambda: tf.nn.experimental.stateless_dropout(X, rate, seed=self.dropout_rng.make_seeds(1)[:, 0]),
            lambda: X,
        )

    def named_variables(self):
        """Native name -> variable, what ``get_params`` lists (``units.{index}.`` per unit)."""
        raise NotImplementedError

    @staticmethod
    def step(config, p, state, XW_t):
        """The cell's time step (each cell file's ``*_step``): ``XW_t = X_t W_x + b (B, G h)``,
        ``state`` a tuple, ``p`` one unit's parameters in the scratch storage (``W_x``, ``W_h``,
        ``b``, extras) -> the new state (H first) and ``{trace name: value}``."""
        raise NotImplementedError

    def trace(self, X, state=None) -> dict[str, np.ndarray]:
        """Every gate and state per step, ``{name: (T, B, h)}`` in time order, named
        ``CELLS[cell].traces`` behind each unit's canonical prefix (``""``, ``l{k}.``, ``l{k}.rev.``).

        Eager and readable, not fast: the layer's current weights in canonical form (native
        layers too), fused per unit as the scratch cells store them, then a Python loop over
        the steps of the cell's equations (:meth:`step`), reverse units from the last step to
        the first; layer k > 0 reads layer k-1's outputs (no dropout).
        """
        config = self.config
        X = tf.convert_to_tensor(X, tf.float32)
        check_sequence(X.shape, config)
        T, B = int(X.shape[0]), int(X.shape[1])
        if state is None:
            parts = tuple(tf.zeros(config.state_shape(B)) for _ in config.spec.state)
        else:
            check_state(state, config, B)
            parts = self.state_parts(state)
        if config.single:
            parts = tuple(s[None] for s in parts)  # (1, B, h): one unit
        params = self.to_canonical({name: np.asarray(v) for name, v in self.named_variables().items()})
        traces: dict[str, np.ndarray] = {}
        layer_input = X
        layer_outputs: list[Any] = []  # the outputs of the current layer's units so far
        for u, (prefix, _, _, reverse) in enumerate(config.units()):
            if len(layer_outputs) == config.directions:  # layer k-1 done: it feeds layer k
                layer_input, layer_outputs = tf.concat(layer_outputs, axis=-1), []
            p = {name: tf.constant(value) for name, value in fuse_unit(config, params, prefix).items()}
            unit_state, steps = tuple(s[u] for s in parts), {}
            for t in range(T - 1, -1, -1) if reverse else range(T):
                unit_state, steps[t] = self.step(config, p, unit_state, layer_input[t] @ p["W_x"] + p["b"])
            layer_outputs.append(tf.stack([steps[t]["H"] for t in range(T)]))
            for name in config.spec.traces:
                traces[prefix + name] = np.stack([np.asarray(steps[t][name]) for t in range(T)])
        return traces


class ScratchLayer(Layer):
    """Any cell of the family from scratch: a subclass writes one time step, :meth:`step`.

    Each unit ``i`` has its own ``tf.Variable``s ``units.{i}.W_x (d, G h)``,
    ``units.{i}.W_h (h, G h)``, ``units.{i}.b (G h,)`` (the G gates fused side by side in
    d2l's order) and the cell's extras under their canonical names (peepholes, ``b_hh``).
    Initialisation: ``init`` and ``sigma`` (d2l's N(0, sigma^2) for one layer, orthogonal for a
    stacked one; biases zero, ``b_f = forget_bias``), drawn by NumPy from ``seed``
    (:func:`~lstm_multi.core.family.init_layer_params`), so every backend starts from the same model.

    Each unit's loop is an autograph ``for`` over ``tf.range``: one ``While`` op for all
    steps, its inputs and outputs going through ``TensorArray`` (as in Keras' RNN) and
    only H stacked; as in Keras, 32 iterations may be in flight, so a step's input matmul
    runs ahead of the state (the loop's default, 10, cost 7-10% of the step at batch 32).
    The input half ``X_t W_x + b`` does not depend on the state, so it can be computed
    for all steps before the loop, one large matmul (``hoist_input=True``). In
    a TensorFlow graph on CPU the gradient of the hoisted ``(T, B, G h)`` tensor through
    the loop costs more than the small matmul in the step. Measured for the LSTM LM's
    training step (2 cores, batch 1024, 32 steps), hoisted vs in the step: 49 vs 38 ms at
    h 32, 0.43 vs 0.36 s at h 256. So by default it stays in the step, as in Keras' cells.

    ``jit_compile=True`` has XLA compile the training step and the loss's gradient of a
    model around the layer (``tf.function(jit_compile=True)``; the evaluation and the
    layer's own eager calls stay TensorFlow graphs). XLA fuses each step's element-wise
    work, which pays where dispatch dominates and loses where the matmuls do (LSTM LM
    training step, 2 cores, 32 steps, against the default): 1.2x as fast at h 32 / batch 1024, 2.2-2.5x at h 32 /
    batch 32, 1.3x at h 256 / batch 32, but 0.71-0.85x at h 256 / batch 1024, where XLA's
    matmuls are slower than TensorFlow's oneDNN ones. The first step compiles for 1-2 s
    more, and again for each new batch shape. Off by default; Keras' layers do not take it
    (under XLA their loop ran 40x slower).
    """

    def __init__(
        self,
        config: LayerConfig,
        init: str | None = None,
        sigma: float | None = None,
        seed: int = 0,
        hoist_input: bool = False,
        jit_compile: bool = False,
    ):
        super().__init__(config, seed)
        self.init, self.sigma = resolve_init(config, init, sigma)
        self.hoist_input, self.jit_compile = hoist_input, jit_compile
        params = init_layer_params(config, self.sigma, seed, self.init)
        self.units = [
            {name: tf.Variable(value, name=name) for name, value in fuse_unit(config, params, prefix).items()}
            for prefix, _, _, _ in config.units()
        ]

    def named_variables(self):
        return {f"units.{i}.{name}": v for i, unit in enumerate(self.units) for name, v in unit.items()}

    def unit_layout(self, index, prefix, layer, reverse) -> FusedLayout:
        return scratch_layout(self.config, f"units.{index}.")

    def run_unit(self, index, X, state):
        p = self.units[index]
        if self.hoist_input:  # a Python bool: fixed when traced
            X = tf.einsum("tbd,dg->tbg", X, p["W_x"]) + p["b"]  # (T, B, G h)
            input_half = lambda XW_t: XW_t
        else:
            input_half = lambda X_t: X_t @ p["W_x"] + p["b"]
        num_steps = tf.shape(X)[0]
        xs = tf.TensorArray(tf.float32, size=num_steps).unstack(X)
        outputs = tf.TensorArray(tf.float32, size=num_steps)
        for t in tf.range(num_steps):  # autograph: one tf.while_loop
            tf.autograph.experimental.set_loop_options(parallel_iterations=32)
            state = self.step(self.config, p, state, input_half(xs.read(t)))[0]
            outputs = outputs.write(t, state[0])
        return outputs.stack(), state


class NativeLayer(Layer):
    """Keras recurrent layers behind the family's API, one per unit, stacked by hand.

    Unit ``i`` is ``self.units[i]``, a ``keras.layers.LSTM``/``GRU``/``SimpleRNN`` with
    ``return_sequences`` and ``return_state``; its cell holds ``kernel (d, G h)``,
    ``recurrent_kernel (h, G h)`` and ``bias``, the gate blocks side by side as columns in
    ``CELLS[cell].native_gate_order["tensorflow"]``: native names ``units.{i}.kernel`` ...
    Keras is batch-major (Keras 3 has no ``time_major``), so each unit's inputs and
    outputs are transposed. A reverse unit is built with ``go_backwards=True``: Keras
    reads the sequence from its end and returns the outputs in that order, which are
    flipped back (what ``keras.layers.Bidirectional`` does). Dropout between layers is
    the wrapper's (Keras' own ``dropout`` masks a cell's inputs at every step, another
    thing). Initialisation is Keras' own (Glorot-uniform kernel, orthogonal recurrent
    kernel, zero bias), drawn from ``keras.random.SeedGenerator(seed)``.
    """

    KERAS: Callable[..., Any]  # the Keras layer class (each subclass sets it)

    def __init__(self, config: LayerConfig, seed: int = 0, **options):
        super().__init__(config, seed)
        seeds = keras.random.SeedGenerator(seed)
        self.units = []
        for _, _, d, reverse in config.units():
            layer = self.KERAS(
                config.num_hiddens,
                return_sequences=True,
                return_state=True,
                go_backwards=reverse,
                kernel_initializer=keras.initializers.GlorotUniform(seeds),
                recurrent_initializer=keras.initializers.Orthogonal(seed=seeds),
                **options,
            )
            layer.build((None, None, d))  # create the weights now: (batch, time, inputs)
            self.units.append(layer)

    def named_variables(self):
        return {
            f"units.{i}.{name}": getattr(layer.cell, name)
            for i, layer in enumerate(self.units)
            for name in ("kernel", "recurrent_kernel", "bias")
        }

    def bias_layout(self) -> dict:
        """FusedLayout options for the bias: one ``(G h,)`` bias unless a subclass says otherwise."""
        return {}

    def unit_layout(self, index, prefix, layer, reverse) -> FusedLayout:
        p = f"units.{index}."
        order = self.config.spec.native_gate_order["tensorflow"]
        return FusedLayout(p + "kernel", p + "recurrent_kernel", p + "bias", order, **self.bias_layout())

    def run_direction(self, index, X, state, reverse):
        outputs, state = self.run_unit(index, X, state)  # a reverse unit reads X backwards itself
        return (tf.reverse(outputs, axis=[0]) if reverse else outputs), state

    def run_unit(self, index, X, state):
        outputs, *state = self.units[index](tf.transpose(X, (1, 0, 2)), initial_state=list(state))
        return tf.transpose(outputs, (1, 0, 2)), tuple(state)

    def set_bias_block(self, gate: str, value: float):
        """Set gate ``gate``'s bias block of every unit to ``value`` (the LSTM's forget_bias)."""
        h = self.config.num_hiddens
        k = self.config.spec.native_gate_order["tensorflow"].index(gate)
        for layer in self.units:
            bias = np.asarray(layer.cell.bias).copy()
            bias[k * h : (k + 1) * h] = value
            layer.cell.bias.assign(bias)
