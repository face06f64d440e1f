"""What the PyTorch layers share: the stacking/bidirectional wrapper, scratch and native.

Every layer takes time-major ``X (T, B, d)`` and an optional state in the API form
(LSTM ``(H, C)``, GRU/RNN ``H``; each ``(B, h)`` for one layer in one direction, else
``(layers * directions, B, h)`` stacked in the order l0, l0.rev, l1, ...) and returns
``outputs (T, B, h * directions)`` and the final state in the same form.

Dropout between stacked layers acts in training mode only. Layers are built in
evaluation mode (``eval()``, unlike a fresh ``nn.Module``): only the training step
(:func:`.ops.train_step`) switches a model to training, for its own forward pass, so
prediction and evaluation never drop units.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from ...core.checks import check_sequence, check_state
from ...core.family import LayerConfig, init_layer_params, resolve_init
from ...core.params import CanonicalLayer, FusedLayout, fuse_unit, scratch_layout
from .device import current_device


class Layer(CanonicalLayer, nn.Module):
    """The API every torch layer shares: checks, the state's forms, the seeded dropout RNG."""

    def __init__(self, config: LayerConfig, seed: int):
        nn.Module.__init__(self)
        self.config, self.seed = config, seed
        # Dropout masks come from a stream of their own, seeded: the global RNG is left alone.
        self.dropout_rng = torch.Generator().manual_seed(seed)

    def forward(self, inputs, state=None):
        """``outputs (T, B, h * directions)`` and the final state (API form)."""
        check_sequence(inputs.shape, self.config)
        if state is not None:
            check_state(state, self.config, inputs.shape[1])
            state = tuple(state) if len(self.config.spec.state) > 1 else state
        return self.run(inputs, state)

    def run(self, inputs, state):
        """The layer on checked inputs; ``state`` in the API form or None (zeros)."""
        raise NotImplementedError

    def dropping(self) -> bool:
        """Whether this forward pass drops units between layers (training only)."""
        return self.training and self.config.dropout > 0 and self.config.num_layers > 1

    @staticmethod
    def step(config: LayerConfig, p: dict, state: tuple, XW_t):
        """One time step of the cell's equations: ``p`` the unit's fused tensors (``W_x``, ``W_h``,
        ``b``, extras), ``state`` a tuple of ``(B, h)``, ``XW_t = X_t W_x + b (B, G h)``. Returns
        the new state (its first tensor is H) and the gates and states computed on the way
        (``config.spec.traces``). Native layers have it too, for :func:`trace`."""
        raise NotImplementedError


class ScratchLayer(Layer):
    """Any cell of the family from scratch, stacked and bidirectional.

    One set of fused parameters per unit: ``W_x (d, G h)``, ``W_h (h, G h)``, ``b (G h,)``
    (gates in d2l's order) and the cell's extras (peepholes, ``b_hh``), named ``W_x`` ...
    for a single unit, else ``l0_W_x``, ``l0_rev_W_x``, ``l1_W_x`` ... (the canonical
    prefix with "." -> "_": torch's parameter names cannot hold dots).
    Initialisation: ``init`` and ``sigma`` (d2l's for one layer, orthogonal for a stacked one),
    drawn by NumPy from ``seed`` (:func:`~lstm_multi.core.family.init_layer_params`), the same
    on every backend.

    A subclass writes one step of its cell, :meth:`step`; :meth:`run_unit` runs it over
    the sequence with the input half ``X W_x + b`` computed for all steps before the
    loop (it does not depend on H: one large matmul instead of T small ones). This class
    runs the units in order: the reverse direction over the flipped sequence (its
    outputs flipped back), ``[forward, reverse]`` concatenated as the next layer's input
    after inverted dropout (training only), the final states stacked.
    """

    def __init__(self, config: LayerConfig, init: str | None = None, sigma: float | None = None, seed: int = 0):
        super().__init__(config, seed)
        self.init, self.sigma = resolve_init(config, init, sigma)
        params = init_layer_params(config, self.sigma, seed, self.init)
        self.unit_names = []  # per unit: the names of its parameters, unprefixed
        for prefix, _, _, _ in config.units():
            unit = fuse_unit(config, params, prefix)
            for name, value in unit.items():
                self.register_parameter(native_prefix(prefix) + name, nn.Parameter(torch.from_numpy(value)))
            self.unit_names.append(tuple(unit))
        self.eval().to(current_device())  # built on the CPU from NumPy, then moved once

    def unit_layout(self, index, prefix, layer, reverse) -> FusedLayout:
        return scratch_layout(self.config, native_prefix(prefix))

    def unit_params(self, index: int) -> dict:
        """Unit ``index``'s parameters by their unprefixed names (``W_x``, ``W_h``, ``b``, extras)."""
        prefix = native_prefix(self.config.units()[index][0])
        return {name: getattr(self, prefix + name) for name in self.unit_names[index]}

    def run_unit(self, index: int, X, state: tuple):
        """Unit ``index`` over ``X (T, B, d_k)`` (already flipped for a reverse unit) from ``state``
        (a tuple of ``(B, h)``): ``outputs (T, B, h)`` and the final state (a tuple)."""
        p = self.unit_params(index)
        XW = X @ p["W_x"] + p["b"]  # (T, B, G h): the input half of every step, hoisted
        outputs = []
        for XW_t in XW:
            state, _ = self.step(self.config, p, state, XW_t)
            outputs.append(state[0])
        return torch.stack(outputs), state

    def run(self, inputs, state):
        config = self.config
        shape = config.state_shape(inputs.shape[1])
        if state is None:
            parts = tuple(inputs.new_zeros(shape) for _ in config.spec.state)
        else:
            parts = tuple(state) if len(config.spec.state) > 1 else (state,)
        if config.single:  # one unit, (B, h) states: no stacking
            outputs, parts = self.run_unit(0, inputs, parts)
            return outputs, api_state(parts)
        finals, layer_input = [], inputs
        for k in range(config.num_layers):
            if k and self.dropping():
                layer_input = self.dropout(layer_input)
            outputs = []
            for u in range(k * config.directions, (k + 1) * config.directions):
                reverse = config.units()[u][3]
                X = layer_input.flip(0) if reverse else layer_input
                out, final = self.run_unit(u, X, tuple(s[u] for s in parts))
                outputs.append(out.flip(0) if reverse else out)
                finals.append(final)
            layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=-1)
        return layer_input, api_state(tuple(torch.stack([f[i] for f in finals]) for i in range(len(parts))))

    def dropout(self, X):
        """Inverted dropout: each entry kept with probability ``1 - p`` and scaled by ``1 / (1 - p)``."""
        keep = 1.0 - self.config.dropout
        mask = torch.empty(X.shape, dtype=X.dtype).bernoulli_(keep, generator=self.dropout_rng)
        return X * mask.to(X.device) / keep


class NativeLayer(Layer):
    """torch's own ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` (``self.rnn``, time-major), stacked and
    bidirectional by torch itself, with its dropout between layers.

    Native names (``rnn.`` then torch's): ``weight_ih_l{k}[_reverse] (G h, d)``,
    ``weight_hh_l{k}[_reverse] (G h, h)`` (gate blocks as rows, in
    ``CELLS[cell].native_gate_order["torch"]``) and two biases ``bias_ih_l{k}``,
    ``bias_hh_l{k}``: canonical ``b_g`` is their sum, except the GRU's candidate block, whose
    ``bias_hh`` part sits inside the reset gate's product: canonical ``b_hh``. The duplicate
    blocks of ``bias_hh`` are kept at zero and frozen (:meth:`frozen`): a whole frozen tensor
    (LSTM, RNN) gets no gradient at all (``requires_grad=False``); the GRU's r and z blocks
    have their gradient multiplied by 0 in the training step.

    Initialisation is torch's (uniform in +-1/sqrt(h)), drawn from ``seed`` (the global RNG
    is forked, so left as it was); the second biases are then folded into the first.
    torch's dropout draws from the global RNG: in training it runs on a fork of it, set
    to this layer's own seeded stream (CPU; cuDNN keeps its own dropout state on GPU).
    """

    TORCH: Callable[..., nn.RNNBase]  # the nn class (each subclass sets it)
    TORCH_ARGS: dict = {}

    def __init__(self, config: LayerConfig, seed: int = 0):
        super().__init__(config, seed)
        # dropout only with several layers: torch warns that it does nothing otherwise
        dropout = config.dropout if config.num_layers > 1 else 0.0
        with torch.random.fork_rng(devices=[]):  # torch's own init, seeded, global RNG untouched
            torch.manual_seed(seed)
            self.rnn = self.TORCH(
                config.num_inputs,
                config.num_hiddens,
                config.num_layers,
                bidirectional=config.bidirectional,
                dropout=dropout,
                **self.TORCH_ARGS,
            )
        from .ops import get_params, named_parameters, set_params  # ops imports nothing from here

        native = named_parameters(self)
        for name, mask in self.frozen().items():
            if mask.all():
                native[name].requires_grad_(False)
        params = get_params(self)  # folds the second biases into the first ...
        if config.cell == "lstm" and config.forget_bias:
            for prefix, _, _, _ in config.units():
                params[prefix + "b_f"][:] = config.forget_bias
        set_params(self, params)  # ... and zeroes the frozen blocks
        self.eval().to(current_device())  # built on the CPU from NumPy, then moved once

    def unit_layout(self, index, prefix, layer, reverse) -> FusedLayout:
        s = f"l{layer}{'_reverse' if reverse else ''}"
        separate = (("h", "b_hh"),) if self.config.cell == "gru" else ()
        return FusedLayout(
            f"rnn.weight_ih_{s}",
            f"rnn.weight_hh_{s}",
            f"rnn.bias_ih_{s}",
            self.config.spec.native_gate_order["torch"],
            rows=True,
            b_h=f"rnn.bias_hh_{s}",
            separate=separate,
        )

    def run(self, inputs, state):
        if state is not None and self.config.single:  # torch wants (layers * directions, B, h)
            state = tuple(s.unsqueeze(0) for s in state) if isinstance(state, tuple) else state.unsqueeze(0)
        with self.seeded_dropout():
            outputs, state = self.rnn(inputs, state)
        if self.config.single:
            state = tuple(s[0] for s in state) if isinstance(state, tuple) else state[0]
        return outputs, state

    @contextlib.contextmanager
    def seeded_dropout(self):
        """In training with dropout: the global CPU RNG, forked, draws from this layer's stream."""
        if not self.dropping():
            yield
            return
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self.dropout_rng.get_state())
            yield
            self.dropout_rng.set_state(torch.get_rng_state())


def native_prefix(prefix: str) -> str:
    """Canonical unit prefix -> the scratch parameters' prefix: ``"l0.rev."`` -> ``"l0_rev_"``."""
    return prefix.replace(".", "_")


def api_state(parts: tuple):
    """The state's tensors -> the API form: ``(H, C)`` for an LSTM, ``H`` alone otherwise."""
    return parts if len(parts) > 1 else parts[0]


def trace(layer: Layer, X, state=None) -> dict[str, np.ndarray]:
    """Every gate and state of ``layer`` (scratch or native) per step over ``X (T, B, d)``:
    ``{name: NumPy (T, B, h)}``, names ``config.spec.traces`` prefixed like the parameters
    (``""``, ``"l{k}."``, ``"l{k}.rev."``), reverse units' values in time order.

    Read out with the cell's step equations (``layer.step``, the scratch cell's) from the
    layer's current weights (:func:`.ops.get_params`), step by step, without gradients: each
    unit of layer k > 0 reads layer k-1's outputs (no dropout).
    """
    from .ops import get_params, tensor, to_numpy  # ops imports nothing from here

    config = layer.config
    X = tensor(X)
    check_sequence(X.shape, config)
    T, batch_size = X.shape[:2]
    names = config.spec.state
    if state is None:
        parts = tuple(X.new_zeros(config.state_shape(batch_size)) for _ in names)
    else:
        check_state(state, config, batch_size)
        parts = tuple(map(tensor, state)) if len(names) > 1 else (tensor(state),)
    if config.single:
        parts = tuple(s[None] for s in parts)  # (1, B, h): one unit
    params = get_params(layer)
    traces: dict[str, np.ndarray] = {}
    layer_input = X
    outputs: list[torch.Tensor] = []  # the outputs of the current layer's units so far
    with torch.no_grad():
        for u, (prefix, _, _, reverse) in enumerate(config.units()):
            if len(outputs) == config.directions:  # layer k-1 complete: its outputs feed layer k
                layer_input, outputs = torch.cat(outputs, dim=-1), []
            p = {name: tensor(value) for name, value in fuse_unit(config, params, prefix).items()}
            unit_state = tuple(s[u] for s in parts)
            steps: list[Any] = [None] * T  # steps[t]: {trace name: value}
            for t in range(T - 1, -1, -1) if reverse else range(T):
                unit_state, steps[t] = layer.step(config, p, unit_state, layer_input[t] @ p["W_x"] + p["b"])
            outputs.append(torch.stack([values["H"] for values in steps]))
            for name in config.spec.traces:
                traces[prefix + name] = to_numpy(torch.stack([values[name] for values in steps]))
    return traces
