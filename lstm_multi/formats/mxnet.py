"""Export to MXNet: the files ``HybridBlock.export`` writes (``PREFIX-symbol.json``, ``PREFIX-0000.params``).

A plain Gluon model, called on a symbol input named ``tokens`` (``values`` for a regressor):
``nn.Embedding`` (the input table, see :mod:`.model`), ``rnn.LSTM`` / ``rnn.GRU`` / ``rnn.RNN``
(time-major ``TNC``, stacked, bidirectional) and ``nn.Dense`` (ReLU between two), with the
canonical parameters copied in: gate blocks as rows in Gluon's order (LSTM i, f, c, o; GRU
r, z, n), ``i2h_bias`` = canonical ``b``, ``h2h_bias`` = 0 but the GRU's candidate block,
which is canonical ``b_hh`` (Gluon's GRU is the reset-after form).

``gluon.SymbolBlock.imports(symbol_file, ["tokens"], params_file)`` alone loads it (legacy
``mx.nd`` arrays): ``tokens (T, B)`` -> ``logits (T, B, V)``, then the final states
``(units, B, h)``; any T and B. It is written outside NumPy mode (``npx.set_np``), which the
package's MXNet backend turns on, so a plain MXNet process reads it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mxnet as mx
from mxnet import gluon

from ..core.checkpoint import Checkpoint, write_atomically
from ..core.params import FusedLayout
from .model import ExportModel, describe, refuse_peepholes, refuse_reset_before

LAYERS = {"lstm": gluon.rnn.LSTM, "gru": gluon.rnn.GRU, "rnn": gluon.rnn.RNN}
LAYER_ARGS = {"rnn": {"activation": "tanh"}}


class ExportedModel(gluon.HybridBlock):
    """The checkpoint's model as plain Gluon blocks (the forward is in the module's docstring)."""

    def __init__(self, model: ExportModel):
        super().__init__()
        config = model.config
        self.kind, self.directions = model.kind, config.directions
        with self.name_scope():
            self.embedding = None if model.table is None else gluon.nn.Embedding(*model.table.shape)
            self.rnn = LAYERS[config.cell](
                config.num_hiddens,
                config.num_layers,
                layout="TNC",
                bidirectional=config.bidirectional,
                input_size=config.num_inputs,
                **LAYER_ARGS.get(config.cell, {}),
            )
            self.head = gluon.nn.HybridSequential()
            for i, (W, _) in enumerate(model.dense):
                last = i == len(model.dense) - 1
                self.head.add(gluon.nn.Dense(W.shape[1], None if last else "relu", flatten=False, in_units=W.shape[0]))
        self.initialize()
        native = {}
        for (_, layer, _, reverse), params in zip(config.units(), model.units):
            d = f"{'r' if reverse else 'l'}{layer}_"
            layout = FusedLayout(
                d + "i2h_weight",
                d + "h2h_weight",
                d + "i2h_bias",
                config.spec.native_gate_order["mxnet"],
                rows=True,
                b_h=d + "h2h_bias",
                separate=(("h", "b_hh"),) if config.cell == "gru" else (),
            )
            native.update(layout.from_canonical(params))
        for name, value in native.items():
            self.rnn._reg_params[name].set_data(mx.nd.array(value))
        if self.embedding is not None:
            self.embedding.weight.set_data(mx.nd.array(model.table))
        for dense, (W, b) in zip(self.head, model.dense):
            dense.weight.set_data(mx.nd.array(W.T))
            dense.bias.set_data(mx.nd.array(b))

    def hybrid_forward(self, F, inputs):
        X = F.expand_dims(inputs, axis=2) if self.embedding is None else self.embedding(inputs)  # (T, B, d)
        zeros = self.rnn.begin_state(0, func=F.zeros)  # (units, B, h): B found from X by MXNet
        outputs, states = self.rnn(X, zeros)
        if self.kind == "lm":
            return (self.head(outputs), *states)
        last = F.slice_axis(states[0], axis=0, begin=-self.directions, end=None)  # the last layer's H
        features = F.reshape(F.transpose(last, axes=(1, 0, 2)), shape=(0, -1))  # (B, directions * h)
        return (self.head(features), *states)


def write(checkpoint: Checkpoint, out: Path) -> Path:
    """Write ``OUT-symbol.json`` and ``OUT-0000.params``; return the symbol file's path."""
    model = describe(checkpoint)
    refuse_peepholes(model, "mxnet", "Gluon")
    refuse_reset_before(model, "mxnet", "Gluon")
    prefix = out.parent / out.name.removesuffix("-symbol.json")
    with mx.util.np_array(False), mx.util.np_shape(False), tempfile.TemporaryDirectory() as folder:
        net = ExportedModel(model)
        # what HybridBlock.export writes: the graph, and each parameter as "arg:NAME"
        mx.sym.Group(list(net(mx.sym.var(model.input_name)))).save(f"{folder}/model-symbol.json")
        mx.nd.save(f"{folder}/model-0000.params", {f"arg:{n}": p.data() for n, p in net.collect_params().items()})
        for suffix in ("-0000.params", "-symbol.json"):  # the symbol file last: it names the pair
            symbol = write_atomically(f"{prefix}{suffix}", (Path(folder) / f"model{suffix}").read_bytes())
    return symbol
