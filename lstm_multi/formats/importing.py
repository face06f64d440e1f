"""Models come in: a file another framework wrote -> an ordinary lstm-multi checkpoint.

``import_model(path, out, vocab=None)`` reads

- ``.pt`` / ``.pth``: a PyTorch state dict (``torch.save(model.state_dict())``) of one plain
  ``nn.LSTM``, ``nn.GRU`` or ``nn.RNN`` (tanh), optionally with an ``nn.Embedding`` before it and an
  ``nn.Linear`` after it, recognised by names and shapes (the Linear has a bias, the Embedding not);
- ``.keras``: a Keras model of the same shape (``Embedding``, ``LSTM`` / ``GRU`` / ``SimpleRNN``
  layers with Keras' default activations, ``Dense``);
- ``.onnx``: a model of the shape ``lstm-multi export --format onnx`` writes (a language model or
  a task model, the full-peephole LSTM's Scans included; its vocabulary and hyper-parameters are in
  its metadata).

Each framework's storage is described by a :class:`~lstm_multi.core.params.FusedLayout` (torch's and
Keras' are the backends' own), whose ``to_canonical`` gives the canonical parameters; the layer's
:class:`~lstm_multi.core.family.LayerConfig` follows from the shapes. The result generates, traces
gates and trains further on every backend. A file without a vocabulary (torch, Keras) needs
``vocab``: a JSON list of the V tokens in index order (the ``vocab.json`` export writes).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..core.checkpoint import expected_shapes, save_checkpoint
from ..core.family import CELLS, LayerConfig
from ..core.params import FusedLayout, check_params, short_list
from ..core.types import Params

#: File suffix -> what ``import`` reads from it.
SOURCES = {
    ".pt": "a PyTorch state dict",
    ".pth": "a PyTorch state dict",
    ".keras": "a Keras model",
    ".onnx": "an ONNX model",
}
#: Gate blocks per cell: a fused ``(G*h, ...)`` weight tells the cell.
CELL_OF_GATES = {len(cell.gates): name for name, cell in CELLS.items()}


class ModelImportError(ValueError):
    """A file ``import`` cannot read: an unknown layout, a missing or wrong vocabulary."""


@dataclass
class Imported:
    """What a reader found: the layer, its canonical parameters (the LM's or task model's own
    included), and the vocabulary and hyper-parameters when the file holds them."""

    config: LayerConfig
    params: Params
    embedding_dim: int | None = None
    vocab: list[str] | None = None
    hparams: dict[str, Any] = field(default_factory=dict)


def one_hot_if_identity(imported: Imported) -> Imported:
    """An embedding table that is exactly the identity is one-hot input (the torch, Keras and MXNet
    exports feed one-hot input that way): the checkpoint gets no ``W_e``, like the model exported."""
    table = imported.params.get("W_e")
    if table is None or table.shape[0] != table.shape[1] or not np.array_equal(table, np.eye(len(table))):
        return imported
    params = {name: value for name, value in imported.params.items() if name != "W_e"}
    return replace(imported, params=params, embedding_dim=None)


def import_model(path: str | Path, out: str | Path, vocab: str | Path | None = None) -> Path:
    """Read the model in ``path`` (see the module's docstring), write it as a checkpoint at ``out``."""
    path = Path(path)
    if path.suffix.lower() not in SOURCES:
        kinds = ", ".join(f"{suffix} ({what})" for suffix, what in SOURCES.items())
        raise ModelImportError(f"Cannot import {path}: unknown file type {path.suffix!r}; import reads {kinds}.")
    if not path.is_file():
        raise ModelImportError(f"Cannot import {path}: no such file.")
    given = read_vocab(vocab) if vocab is not None else None
    reader = {".pt": read_torch, ".pth": read_torch, ".keras": read_keras, ".onnx": read_onnx}[path.suffix.lower()]
    imported = one_hot_if_identity(reader(path))
    task = imported.hparams.get("task")
    tokens = given if given is not None else imported.vocab
    if tokens is None and task is None:
        raise ModelImportError(
            f"{path} ({SOURCES[path.suffix.lower()]}) holds no vocabulary: give its tokens with --vocab "
            "vocab.json (a JSON list of the tokens in index order)."
        )
    tokens = tokens or []
    if task is None and imported.config.bidirectional:
        raise ModelImportError(
            f"{path} holds a bidirectional {imported.config.spec.title} with an output layer on every step: read as a "
            "language model, its reverse direction would read the characters it predicts. A bidirectional task "
            "model imports from the ONNX file `lstm-multi export --format onnx` writes."
        )
    if task is None and len(tokens) != len(imported.params["b_q"]):
        raise ModelImportError(
            f"The vocabulary has {len(tokens)} tokens but the model in {path} predicts "
            f"{len(imported.params['b_q'])}: give the vocabulary it was trained with."
        )
    hparams = {
        **imported.hparams,
        "model": imported.config.to_dict(),
        "embedding_dim": imported.embedding_dim,
        "impl": imported.hparams.get("impl", "scratch"),
        "imported_from": path.name,
    }
    shapes = expected_shapes(hparams, imported.config, len(tokens), imported.embedding_dim)
    check_params(imported.params, shapes, what=f"{imported.config.describe()} read from {path}")
    return save_checkpoint(out, {name: imported.params[name] for name in shapes}, tokens, hparams)


def require(module: str, path: Path, install: str) -> Any:
    """Import the framework that reads ``path``, or say which package to install."""
    import importlib
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ModelImportError(f"Importing {path} needs {module}, which is not installed: pip install {install}")
    return importlib.import_module(module)


def read_vocab(path: str | Path) -> list[str]:
    """A ``vocab.json``: a JSON list of distinct strings, the tokens in index order."""
    path = Path(path)
    if not path.is_file():
        raise ModelImportError(f"--vocab {path}: no such file.")
    try:
        tokens = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelImportError(f"--vocab {path} is not JSON ({err}); give a JSON list of tokens.") from None
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise ModelImportError(f"--vocab {path} must hold a JSON list of strings (the tokens in index order).")
    if len(set(tokens)) != len(tokens):
        raise ModelImportError(f"--vocab {path} lists a token twice; each token must appear once.")
    return tokens


def layer_from_units(path: Path, cell: str, units: list[list[Params]], **options: Any) -> tuple[LayerConfig, Params]:
    """The layer whose units (``units[k]``: layer k's [forward, reverse] canonical parameters,
    unprefixed) were read, and its prefixed canonical parameters."""
    num_layers, directions = len(units), len(units[0])
    if any(len(layer) != directions for layer in units):
        raise ModelImportError(f"{path}: some layers run in both directions and some in one; lstm-multi cannot.")
    d, h = units[0][0][f"W_x{CELLS[cell].gates[0]}"].shape
    config = LayerConfig(cell, d, h, num_layers=num_layers, bidirectional=directions == 2, **options)
    params: Params = {}
    for prefix, k, _, reverse in config.units():
        params.update({prefix + name: value for name, value in units[k][int(reverse)].items()})
    check_params(params, config.shapes(), what=f"{config.describe()} read from {path}")
    return config, params


def describe_found(arrays: dict[str, tuple[int, ...]], limit: int = 12) -> str:
    """``"weight_ih_l0 (32, 28), fc.weight (28, 8) and 3 more"``: what a file held."""
    return short_list([f"{name} {tuple(shape)}" for name, shape in arrays.items()], limit)


def unknown_layout(path: Path, found: str, expected: str) -> ModelImportError:
    return ModelImportError(f"Cannot import {path}: not a layout lstm-multi knows. Found {found}. Expected {expected}.")


# --- PyTorch: a state dict ---

TORCH_EXPECTED = (
    "the state dict of one nn.LSTM, nn.GRU or nn.RNN (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ...), "
    "optionally an nn.Embedding before it (weight) and an nn.Linear after it (weight and bias)"
)
TORCH_NAME = re.compile(
    r"^(?P<prefix>.*?)(?P<kind>weight_ih|weight_hh|bias_ih|bias_hh)_l(?P<layer>\d+)(?P<rev>_reverse)?$"
)


def read_torch(path: Path) -> Imported:
    """A state dict of an ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN``, maybe ``nn.Embedding`` and ``nn.Linear``."""
    torch = require("torch", path, '"lstm-multi[torch]"')
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises its own types for a file it cannot unpickle
        raise ModelImportError(f"Cannot import {path}: torch.load cannot read it ({err}).") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelImportError(
            f"Cannot import {path}: it holds a {type(state).__name__}, not a state dict; expected {TORCH_EXPECTED}."
        )
    arrays = {name: value.detach().float().numpy() for name, value in state.items()}
    found = describe_found({name: value.shape for name, value in arrays.items()})
    layer_names = {name: TORCH_NAME.match(name) for name in arrays}
    matches = [m for m in layer_names.values() if m]
    prefixes = {m["prefix"] for m in matches}
    if not matches or len(prefixes) != 1:
        raise unknown_layout(path, found, TORCH_EXPECTED)
    (prefix,) = prefixes
    rest = {name: value for name, value in arrays.items() if not layer_names[name]}

    # the recurrent layer: weight_hh_l0 is (G*h, h), G the cell's gate count
    recurrent = arrays.get(f"{prefix}weight_hh_l0", np.zeros(0))
    cell = CELL_OF_GATES.get(recurrent.shape[0] // recurrent.shape[1]) if recurrent.ndim == 2 else None
    if cell is None:
        raise unknown_layout(path, found, TORCH_EXPECTED)
    layout = FusedLayout(
        "weight_ih",
        "weight_hh",
        "bias_ih",
        CELLS[cell].native_gate_order["torch"],
        rows=True,
        b_h="bias_hh",
        separate=(("h", "b_hh"),) if cell == "gru" else (),
    )
    no_bias = np.zeros(len(recurrent), np.float32)  # nn.LSTM(..., bias=False)
    directions = 2 if any(m["rev"] for m in matches) else 1
    units = []
    for k in range(1 + max(int(m["layer"]) for m in matches)):
        layer = []
        for reverse in range(directions):
            suffix = f"_l{k}{'_reverse' if reverse else ''}"
            native = {
                kind: arrays.get(prefix + kind + suffix, no_bias)
                for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            }
            if native["weight_ih"] is no_bias or native["weight_hh"] is no_bias:
                raise unknown_layout(path, found, TORCH_EXPECTED)
            layer.append(layout.to_canonical(native))
        units.append(layer)
    config, params = layer_from_units(path, cell, units)

    # the Linear after it has a bias; the Embedding before it has none
    linears = [n[: -len("weight")] for n in rest if n.endswith("weight") and n[: -len("weight")] + "bias" in rest]
    embeddings = [n for n in rest if n.endswith("weight") and n[: -len("weight")] + "bias" not in rest]
    if len(linears) != 1 or len(embeddings) > 1 or len(rest) != 2 + len(embeddings):
        raise unknown_layout(path, found, TORCH_EXPECTED)
    linear = linears[0]
    params.update(W_hq=rest[linear + "weight"].T, b_q=rest[linear + "bias"])
    embedding_dim = None
    if embeddings:
        params["W_e"] = rest[embeddings[0]]
        embedding_dim = params["W_e"].shape[1]
    return Imported(config, params, embedding_dim)


# --- Keras: a .keras file ---

KERAS_EXPECTED = (
    "a Keras model of an optional Embedding, LSTM / GRU / SimpleRNN layers (each maybe in "
    "Bidirectional, default activations, return_sequences=True) and a Dense layer"
)
KERAS_CELLS = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "rnn"}


def read_keras(path: Path) -> Imported:
    """A ``.keras`` file of ``Embedding``? -> ``LSTM`` / ``GRU`` / ``SimpleRNN`` layers -> ``Dense``."""
    keras = require("keras", path, '"lstm-multi[tensorflow]"')
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as err:  # Keras raises many types for files it cannot read
        raise ModelImportError(f"Cannot import {path}: keras.saving.load_model cannot read it ({err}).") from None
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    found = ", ".join(f"{type(layer).__name__} {layer.name!r}" for layer in layers) or "no layers"
    names = [type(layer).__name__ for layer in layers]
    embedding = layers.pop(0) if names and names[0] == "Embedding" else None
    dense = layers.pop() if layers and type(layers[-1]).__name__ == "Dense" else None
    if dense is None or not layers or getattr(dense.activation, "__name__", "") != "linear":
        raise unknown_layout(path, found, KERAS_EXPECTED)
    cells, units, options = set(), [], {}
    for layer in layers:
        directions = [layer.forward_layer, layer.backward_layer] if type(layer).__name__ == "Bidirectional" else [layer]
        if type(layer).__name__ == "Bidirectional" and layer.merge_mode != "concat":
            raise unknown_layout(path, found, KERAS_EXPECTED + " (Bidirectional with merge_mode='concat')")
        unit_params = []
        for rnn in directions:
            kind = KERAS_CELLS.get(type(rnn).__name__)
            if kind is None or not keras_defaults(rnn):
                raise unknown_layout(path, found, KERAS_EXPECTED)
            cells.add(kind)
            kernel, recurrent, *bias = [np.asarray(w, np.float32) for w in rnn.get_weights()]
            h = recurrent.shape[0]
            paired = kind == "gru" and rnn.reset_after
            if kind == "gru":
                options["reset_after"] = bool(rnn.reset_after)
            native = {
                "kernel": kernel,
                "recurrent_kernel": recurrent,
                "bias": bias[0] if bias else np.zeros(kernel.shape[1], np.float32),
            }
            if paired and not bias:
                native["bias"] = np.zeros((2, 3 * h), np.float32)
            layout = FusedLayout(
                "kernel",
                "recurrent_kernel",
                "bias",
                CELLS[kind].native_gate_order["tensorflow"],
                paired=paired,
                separate=(("h", "b_hh"),) if paired else (),
            )
            unit_params.append(layout.to_canonical(native))
        units.append(unit_params)
    if len(cells) != 1:
        raise unknown_layout(path, found, KERAS_EXPECTED + " (all of one cell)")
    config, params = layer_from_units(path, cells.pop(), units, **options)
    W, *b = [np.asarray(w, np.float32) for w in dense.get_weights()]
    params.update(W_hq=W, b_q=b[0] if b else np.zeros(W.shape[1], np.float32))
    embedding_dim = None
    if embedding is not None:
        params["W_e"] = np.asarray(embedding.get_weights()[0], np.float32)
        embedding_dim = params["W_e"].shape[1]
    return Imported(config, params, embedding_dim)


def keras_defaults(rnn: Any) -> bool:
    """A Keras recurrent layer computes the family's equations: tanh, sigmoid gates, every step out."""
    activation = getattr(rnn, "activation", None)
    recurrent = getattr(rnn, "recurrent_activation", None)
    return (
        getattr(activation, "__name__", "") == "tanh"
        and (recurrent is None or getattr(recurrent, "__name__", "") == "sigmoid")  # SimpleRNN has none
        and bool(rnn.return_sequences)
    )


# --- ONNX: the shape lstm-multi's exporter writes ---

ONNX_EXPECTED = (
    "a model `lstm-multi export --format onnx` writes: Gather (embedding) or OneHot, one LSTM / GRU / RNN "
    "node per layer, MatMul + Add (the head; an MLP head with Relu)"
)


def read_onnx(path: Path) -> Imported:
    """An ONNX model of the exporter's shape (:mod:`lstm_multi.formats.onnx`)."""
    onnx = require("onnx", path, '"lstm-multi[onnx]"')
    from onnx import numpy_helper

    from .onnx import HPARAMS_KEY, OPERATORS, VOCAB_KEY

    try:
        model = onnx.load(path)
    except Exception as err:  # protobuf's DecodeError and others
        raise ModelImportError(f"Cannot import {path}: onnx.load cannot read it ({err}).") from None
    graph = model.graph
    weights = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    ops = [node.op_type for node in graph.node]
    found = f"operators {short_list(sorted(set(ops)), 12) or 'none'}; outputs {', '.join(o.name for o in graph.output)}"
    cell_of = {op: cell for cell, op in OPERATORS.items()}
    recurrent = [node for node in graph.node if node.op_type in cell_of]
    scans = [node for node in graph.node if node.op_type == "Scan"]
    outputs = [o.name for o in graph.output]
    if (
        bool(recurrent) == bool(scans)
        or len({n.op_type for n in recurrent}) > 1
        or not outputs
        or outputs[0] not in ("logits", "predictions")
    ):
        raise unknown_layout(path, found, ONNX_EXPECTED)
    try:
        if recurrent:
            cell = cell_of[recurrent[0].op_type]
            units, options = onnx_recurrent_units(onnx, cell, recurrent, weights)
        else:
            cell, units, options = "lstm", onnx_scan_units(onnx, scans, weights), {"peephole": "full"}
    except (KeyError, ValueError) as err:  # a layer not written the exporter's way
        raise unknown_layout(path, f"{found}; {err}", ONNX_EXPECTED) from None
    last_layer = (recurrent or scans)[-1]
    metadata = {p.key: p.value for p in model.metadata_props}
    hparams = json.loads(metadata[HPARAMS_KEY]) if HPARAMS_KEY in metadata else {}
    vocab = json.loads(metadata[VOCAB_KEY]) if VOCAB_KEY in metadata else None
    saved = hparams.get("model", {})  # what the graph does not hold: options of training only
    options.update({option: saved[option] for option in ("dropout", "forget_bias") if option in saved})
    config, params = layer_from_units(path, cell, units, **options)

    # the input: an embedding's Gather, or one-hot characters
    embedding_dim = None
    gathers = [
        n for n in graph.node if n.op_type == "Gather" and n.input[0] in weights and weights[n.input[0]].ndim == 2
    ]
    if gathers:
        params["W_e"] = weights[gathers[0].input[0]]
        embedding_dim = params["W_e"].shape[1]
    # the head: the constants MatMul and Add read after the last layer, in graph order
    after = graph.node[list(graph.node).index(last_layer) + 1 :]
    head = [weights[name] for n in after if n.op_type in ("MatMul", "Add") for name in n.input if name in weights]
    rank = len(graph.output[0].type.tensor_type.shape.dim)
    if rank == 3 and len(head) == 2:  # a language model: (T, B, V) logits
        params.update(W_hq=head[0], b_q=head[1])
        hparams.pop("task", None)
    elif rank == 2 and len(head) in (2, 4):  # a task model: (B, C) logits or (B, 1) predictions
        head_names = ("W_mlp", "b_mlp", "W_out", "b_out") if len(head) == 4 else ("W_out", "b_out")
        params.update(zip(head_names, head))
        default_name = "timeseries" if outputs[0] == "predictions" else "parentheses"
        hparams["task"] = {
            "name": hparams.get("task", {}).get("name", default_name),
            "head": "mlp" if len(head) == 4 else "linear",
            "mlp_hiddens": head[0].shape[1] if len(head) == 4 else hparams.get("task", {}).get("mlp_hiddens", 32),
            "num_outputs": head[-1].shape[0],
        }
    else:
        raise unknown_layout(path, found, ONNX_EXPECTED)
    return Imported(config, params, embedding_dim, vocab, hparams)


def onnx_recurrent_units(
    onnx: Any, cell: str, nodes: list[Any], weights: dict[str, np.ndarray]
) -> tuple[list[list[Params]], dict[str, Any]]:
    """The canonical parameters of each layer's ``LSTM`` / ``GRU`` / ``RNN`` node (one per layer,
    its directions stacked), and the cell's options they show (peephole, reset_after)."""
    from .onnx import PEEPHOLE_ORDER, unit_layout

    units: list[list[Params]] = []
    options: dict[str, Any] = {}
    for node in nodes:
        attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        unknown = set(attributes) - {"hidden_size", "direction", "linear_before_reset"}
        if unknown or attributes.get("direction", b"forward") == b"reverse":
            raise ValueError(f"a {node.op_type} with attributes {', '.join(sorted(attributes))}")
        if cell == "gru":
            options["reset_after"] = bool(attributes.get("linear_before_reset", 0))
        names = list(node.input) + [""] * (8 - len(node.input))
        W, R, B = (weights[name] for name in names[1:4])  # after X; a KeyError: not a constant
        P = weights.get(names[7]) if cell == "lstm" else None
        if P is not None:
            options["peephole"] = "diagonal"
        layout = unit_layout(LayerConfig(cell, W.shape[-1], R.shape[-1], **options))
        layer = []
        for direction in range(W.shape[0]):
            Wb, Rb = np.split(B[direction], 2)
            canonical = layout.to_canonical({"W": W[direction], "R": R[direction], "Wb": Wb, "Rb": Rb})
            if P is not None:
                canonical.update({f"w_c{g}": p for g, p in zip(PEEPHOLE_ORDER, np.split(P[direction], 3))})
            layer.append(canonical)
        units.append(layer)
    return units, options


def onnx_scan_units(onnx: Any, nodes: list[Any], weights: dict[str, np.ndarray]) -> list[list[Params]]:
    """The full-peephole LSTM's units from the exporter's Scans (one per unit, in unit order): each
    body reads ``W_x``, ``W_h``, ``b``, ``W_c`` from the outer graph, in that order."""
    from ..core.params import scratch_layout
    from .onnx import SCAN_WEIGHTS

    layout = scratch_layout(LayerConfig("lstm"), "")  # W_x (d, 4h), W_h, b: gates i f o c
    units: list[tuple[Params, bool]] = []
    for node in nodes:
        attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        body = attributes["body"]
        local = (
            {i.name for i in body.input} | {t.name for t in body.initializer} | {o for n in body.node for o in n.output}
        )
        outer = list(dict.fromkeys(name for n in body.node for name in n.input if name not in local))
        fused = dict(zip(SCAN_WEIGHTS, (weights[name] for name in outer), strict=True))
        canonical = layout.to_canonical({"W_x": fused["W_x"], "W_h": fused["W_h"], "b": fused["b"]})
        canonical.update(zip(("W_ci", "W_cf", "W_co"), np.split(fused["W_c"], 3, axis=1)))
        units.append((canonical, bool(attributes.get("scan_input_directions", [0])[0])))
    directions = 2 if any(reverse for _, reverse in units) else 1
    return [[p for p, _ in units[k : k + directions]] for k in range(0, len(units), directions)]
