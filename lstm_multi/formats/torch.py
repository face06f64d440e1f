"""Export to PyTorch: a ``torch.export`` program (``.pt2``) of a plain ``nn.Module``.

The module is ``nn.Embedding`` (the input table, see :mod:`.model`), one ``nn.LSTM`` /
``nn.GRU`` / ``nn.RNN`` per unit (one layer, one direction: the package's units) and
``nn.Linear`` layers (ReLU between two), with the canonical parameters copied in: gate
blocks as rows in torch's order (LSTM i, f, g, o; GRU r, z, n), ``bias_ih`` = canonical
``b``, ``bias_hh`` = 0 but the GRU's candidate block, which is canonical ``b_hh`` (torch's GRU
is the reset-after form). ``torch.export.load(path)`` alone runs it: ``tokens`` int64
``(T, B)`` -> ``logits (T, B, V)``, then the final states ``(units, B, h)``.

T and B are dynamic (``torch.export.Dim``). ``torch.export`` cannot keep T dynamic through
``nn.LSTM``'s own forward (pytorch/pytorch#115092: the layer's shape function unrolls the loop
over time, so the program would accept only the example's length). So each unit runs one step
at a time inside ``scan`` over the time axis (a loop the program keeps), the step being the
equations of torch's documentation on the unit's own parameters (``F.linear(x, weight, bias)``
is ``x W^T + b``)::

    LSTM  i, f, g, o = chunks of  X W_ih^T + b_ih + H W_hh^T + b_hh
          C = sigmoid(f) * C + sigmoid(i) * tanh(g);   H = sigmoid(o) * tanh(C)
    GRU   r, z, n  of  gi = X W_ih^T + b_ih  and  gh = H W_hh^T + b_hh
          r = sigmoid(gi_r + gh_r);  z = sigmoid(gi_z + gh_z);  n = tanh(gi_n + r * gh_n)
          H = (1 - z) * n + z * H
    RNN   H = tanh(X W_ih^T + b_ih + H W_hh^T + b_hh)

(calling ``torch.lstm`` in the step instead, the very kernel, makes each export ten times slower).
"""

from __future__ import annotations

import io
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch._higher_order_ops.scan import scan  # the loop torch.export keeps (no public name yet)

from ..core.checkpoint import Checkpoint, write_atomically
from ..core.params import FusedLayout
from .model import ExportModel, describe, refuse_peepholes, refuse_reset_before

LAYERS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


def lstm_step(unit: nn.LSTM, X_t: torch.Tensor, state: tuple) -> tuple:
    """One step of ``unit`` on ``X_t (B, d)`` from ``(H, C)``, each ``(B, h)``: the new ``(H, C)``."""
    H, C = state
    i, f, g, o = (
        F.linear(X_t, unit.weight_ih_l0, unit.bias_ih_l0) + F.linear(H, unit.weight_hh_l0, unit.bias_hh_l0)
    ).chunk(4, -1)
    C = torch.sigmoid(f) * C + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(C), C


def gru_step(unit: nn.GRU, X_t: torch.Tensor, state: tuple) -> tuple:
    """One step of ``unit`` (the reset-after form): the new ``(H,)``."""
    (H,) = state
    x_r, x_z, x_n = F.linear(X_t, unit.weight_ih_l0, unit.bias_ih_l0).chunk(3, -1)
    h_r, h_z, h_n = F.linear(H, unit.weight_hh_l0, unit.bias_hh_l0).chunk(3, -1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return ((1 - z) * n + z * H,)


def rnn_step(unit: nn.RNN, X_t: torch.Tensor, state: tuple) -> tuple:
    """One step of ``unit`` (tanh): the new ``(H,)``."""
    (H,) = state
    return (
        torch.tanh(F.linear(X_t, unit.weight_ih_l0, unit.bias_ih_l0) + F.linear(H, unit.weight_hh_l0, unit.bias_hh_l0)),
    )


STEPS = {"lstm": lstm_step, "gru": gru_step, "rnn": rnn_step}


class ExportedModel(nn.Module):
    """The checkpoint's model as plain torch layers (the forward is in the module's docstring)."""

    def __init__(self, model: ExportModel):
        super().__init__()
        config = model.config
        self.kind, self.cell = model.kind, config.cell
        self.reverse = [reverse for _, _, _, reverse in config.units()]
        self.directions, self.num_hiddens = config.directions, config.num_hiddens
        self.embedding = None if model.table is None else nn.Embedding.from_pretrained(torch.from_numpy(model.table))
        self.units = nn.ModuleList()
        layout = FusedLayout(
            "weight_ih_l0",
            "weight_hh_l0",
            "bias_ih_l0",
            config.spec.native_gate_order["torch"],
            rows=True,
            b_h="bias_hh_l0",
            separate=(("h", "b_hh"),) if config.cell == "gru" else (),
        )
        for (_, _, d, _), params in zip(config.units(), model.units):
            unit = LAYERS[config.cell](d, config.num_hiddens)
            unit.load_state_dict(
                {name: torch.from_numpy(value) for name, value in layout.from_canonical(params).items()}
            )
            self.units.append(unit)
        layers: list[nn.Module] = []
        for W, b in model.dense:
            linear = nn.Linear(*W.shape)
            linear.load_state_dict({"weight": torch.from_numpy(W.T.copy()), "bias": torch.from_numpy(b)})
            layers += [linear, nn.ReLU()]
        self.head = nn.Sequential(*layers[:-1])  # no ReLU after the last

    def run_unit(self, unit: nn.Module, X: torch.Tensor, reverse: bool) -> tuple[torch.Tensor, tuple]:
        """One unit over ``X (T, B, d)``: its outputs ``(T, B, h)`` in time order and final states."""
        shape = (X.shape[1], self.num_hiddens)
        state = tuple(X.new_zeros(shape) for _ in range(2 if self.cell == "lstm" else 1))  # (H, C) or (H,)
        step_fn = STEPS[self.cell]

        def step(state, X_t):
            state = step_fn(unit, X_t, state)
            return state, state[0].clone()  # the output H, a tensor of its own (scan wants no aliases)

        final, outputs = scan(step, state, X.flip(0) if reverse else X)
        return (outputs.flip(0) if reverse else outputs), final

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        X = inputs.unsqueeze(-1) if self.embedding is None else self.embedding(inputs)  # (T, B, d)
        finals, layer = [], []
        for unit, reverse in zip(self.units, self.reverse):
            outputs, final = self.run_unit(unit, X, reverse)
            finals.append(final)
            layer.append(outputs)
            if len(layer) == self.directions:  # the layer is complete: the next one reads it
                X, layer = torch.cat(layer, dim=-1), []
        states = tuple(torch.stack(parts) for parts in zip(*finals))  # each (units, B, h)
        if self.kind == "lm":
            return (self.head(X), *states)
        H = states[0]  # the last layer's final H: forward [-1], or forward [-2] and reverse [-1]
        features = torch.cat([H[-2], H[-1]], dim=-1) if self.directions == 2 else H[-1]
        return (self.head(features), *states)


def write(checkpoint: Checkpoint, out: Path) -> Path:
    """Write the ``.pt2`` program of ``checkpoint``'s model to ``out``."""
    model = describe(checkpoint)
    refuse_peepholes(model, "torch", "torch")
    refuse_reset_before(model, "torch", "torch")
    module = ExportedModel(model).eval()
    dtype = torch.float32 if model.kind == "regressor" else torch.int64
    example = torch.zeros((3, 2), dtype=dtype)  # (T, B); both axes dynamic
    dims = {0: torch.export.Dim("T"), 1: torch.export.Dim("B")}
    program = torch.export.export(module, (example,), dynamic_shapes=(dims,))
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return write_atomically(out, buffer.getvalue())
