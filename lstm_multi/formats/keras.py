"""Export to Keras 3: a ``.keras`` file of a plain functional model, on any Keras backend.

Layers: ``Embedding`` (the input table, see :mod:`.model`; a regressor's values go through
``Reshape`` to one feature per step), one ``LSTM`` / ``GRU`` / ``SimpleRNN`` per layer
(``Bidirectional`` for both directions) and ``Dense`` (ReLU between two), with the canonical
parameters copied in: kernels ``(d, G h)`` in Keras' gate order (LSTM i, f, c, o; GRU z, r, h);
the reset-after GRU's bias is ``(2, 3h)``: input half canonical ``b``, recurrent half 0 but
its candidate block, canonical ``b_hh``; d2l's reset-before GRU is Keras' ``reset_after=False``.

Keras' layers are batch-major: ``tokens (B, T)`` in, ``logits (B, T, V)`` first out (a task
model: ``(B, C)`` or ``(B, 1)``), then every unit's final ``H`` ``(B, h)`` in unit order, then
(an LSTM) every unit's final ``C``. ``keras.saving.load_model(path)`` alone loads it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import keras

from ..core.checkpoint import Checkpoint, write_atomically
from ..core.params import FusedLayout
from . import ExportError
from .model import ExportModel, describe, refuse_peepholes

LAYERS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "rnn": keras.layers.SimpleRNN}


def unit_weights(model: ExportModel, params: dict) -> list:
    """One unit's canonical parameters -> ``[kernel, recurrent_kernel, bias]`` of its Keras layer."""
    config = model.config
    paired = config.cell == "gru" and config.reset_after
    layout = FusedLayout(
        "kernel",
        "recurrent_kernel",
        "bias",
        config.spec.native_gate_order["tensorflow"],
        paired=paired,
        separate=(("h", "b_hh"),) if paired else (),
    )
    native = layout.from_canonical(params)
    return [native["kernel"], native["recurrent_kernel"], native["bias"]]


def build(model: ExportModel) -> keras.Model:
    """The functional model, weights set."""
    config = model.config
    options = {"reset_after": config.reset_after} if config.cell == "gru" else {}
    inputs = keras.Input((None,), dtype="float32" if model.table is None else "int64", name=model.input_name)
    if model.table is None:
        X = keras.layers.Reshape((-1, 1))(inputs)  # (B, T) values -> one feature per step
    else:
        embedding = keras.layers.Embedding(*model.table.shape)
        X = embedding(inputs)
        embedding.set_weights([model.table])
    unit_layers, finals = [], []  # the Keras layer of each unit; each unit's final states
    for _ in range(config.num_layers):
        layer = LAYERS[config.cell](config.num_hiddens, return_sequences=True, return_state=True, **options)
        if config.bidirectional:
            layer = keras.layers.Bidirectional(layer)
        X, *states = layer(X)
        n = len(config.spec.state)  # Bidirectional returns the forward unit's states, then the reverse's
        finals += [states[i : i + n] for i in range(0, len(states), n)]
        unit_layers += [layer.forward_layer, layer.backward_layer] if config.bidirectional else [layer]
    for layer, params in zip(unit_layers, model.units):
        layer.set_weights(unit_weights(model, params))
    if model.kind == "lm":
        y = X
    else:  # the last layer's final H (both directions')
        last = [states[0] for states in finals[-config.directions :]]
        y = keras.layers.Concatenate()(last) if config.bidirectional else last[0]
    dense_layers = []
    for i, (W, _) in enumerate(model.dense):
        dense = keras.layers.Dense(W.shape[1], activation="relu" if i < len(model.dense) - 1 else None)
        y = dense(y)
        dense_layers.append(dense)
    for dense, (W, b) in zip(dense_layers, model.dense):
        dense.set_weights([W, b])
    outputs = [y, *(states[i] for i in range(len(config.spec.state)) for states in finals)]
    return keras.Model(inputs, outputs)


def write(checkpoint: Checkpoint, out: Path) -> Path:
    """Write the ``.keras`` file of ``checkpoint``'s model to ``out``."""
    if out.suffix != ".keras":
        raise ExportError(f"keras.saving.load_model reads only .keras files: name the output {out.stem}.keras.")
    model = describe(checkpoint)
    refuse_peepholes(model, "keras", "Keras")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / out.name
        build(model).save(path)
        return write_atomically(out, path.read_bytes())
