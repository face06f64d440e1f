"""ONNX export: the checkpoint's model as a graph of ONNX's own operators.

Built with the ``onnx`` package's helpers from the canonical NumPy parameters (no framework).
Each layer is one ``LSTM``, ``GRU`` or ``RNN`` node (both directions in one node when
bidirectional); the gate blocks are put in ONNX's order and its layout::

    W  (directions, G*h, d)     the W_x{g}^T, gate blocks in ONNX's order (LSTM iofc, GRU zrh)
    R  (directions, G*h, h)     the W_h{g}^T
    B  (directions, 2*G*h)      [Wb, Rb]: Wb = b_{g}; Rb = 0, but the reset-after GRU's b_hh
    P  (directions, 3*h)        LSTM diagonal peepholes, ONNX's order iof

ONNX's GRU with ``linear_before_reset=1`` is the reset-after GRU (``r * (H W_hh + b_hh)``),
with 0 d2l's reset-before GRU (``(r * H) W_hh``). The full-matrix peephole (``C_prev W_c{i,f,o}``)
has no ONNX operator: each of its units is a ``Scan`` whose body is one step of the equations
(:func:`scan_layer`). The graph::

    tokens (T, B) int64 --Gather(W_e)--> (T, B, e)        with an embedding
                        --OneHot(V)----> (T, B, V)        one-hot characters
    layer k: node(X, W, R, B, initial states of its units) -> Y (T, dirs, B, h)
             Transpose, Reshape -> (T, B, dirs*h), the next layer's X
             (full peephole: a Scan per unit -> (T, B, h) each, concatenated)
    language model:  logits = Y W_hq + b_q                          (T, B, V)
    task model:      F = [forward H at T-1, reverse H at 0] = the last layer's Y_h  (B, dirs*h)
                     logits (classifier) or predictions (regressor) = head(F)   (B, C) or (B, 1)

Inputs: ``tokens`` int64 ``(T, B)`` (a regressor: ``values`` float32 ``(T, B)``) and the optional
initial states ``initial_H`` (and ``initial_C``) ``(units, B, h)``, units in the package's order
(l0, l0.rev, l1, ...; zeros when not fed); outputs: ``logits`` (or ``predictions``) first, then
``final_H`` (and ``final_C``) ``(units, B, h)``. T and B are dynamic. The vocabulary and the
checkpoint's hyper-parameters are also in the model's metadata (``vocab``, ``lstm_multi.hparams``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..core.checkpoint import write_atomically

if TYPE_CHECKING:
    import onnx

    from ..core.checkpoint import Checkpoint
    from ..core.family import LayerConfig
    from ..core.params import FusedLayout
    from ..core.types import Params

#: Opset 17 (LSTM/GRU/RNN version 14, OneHot 11, Gather 13); IR version 8 goes with it.
OPSET = 17
IR_VERSION = 8
#: ONNX's operator and gate order for each cell of the family.
OPERATORS = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}
ONNX_GATES = {"lstm": "iofc", "gru": "zrh", "rnn": "h"}
#: ONNX's peephole order (P[iof]).
PEEPHOLE_ORDER = "iof"
#: The full-matrix peephole's weights in a Scan body (:func:`scan_weights`).
SCAN_WEIGHTS = ("W_x", "W_h", "b", "W_c")
#: The model's metadata keys.
VOCAB_KEY, HPARAMS_KEY = "vocab", "lstm_multi.hparams"
#: The tasks whose model reads real values (a Regressor); the others read symbol ids.
REGRESSION_TASKS = ("timeseries",)


def write(checkpoint: Checkpoint, out: Path) -> Path:
    """Write ``checkpoint``'s model as an ONNX file at ``out`` (checked with ONNX's strict checker;
    :func:`lstm_multi.formats.export` has checked that onnx is installed)."""
    import onnx

    model = build(checkpoint)
    onnx.checker.check_model(model, full_check=True)
    return write_atomically(out, model.SerializeToString())


def how_to_run(path: Path) -> str:
    """Three lines of Python that load the exported model in ONNX Runtime and run it (a language
    model; a task model's regressor reads ``values`` instead of ``tokens``)."""
    return (
        "import numpy as np, onnxruntime as ort\n"
        f"session = ort.InferenceSession({str(path)!r})\n"
        'logits, *states = session.run(None, {"tokens": np.array([[0], [1]], np.int64)})  # (T, B) -> (T, B, V)'
    )


def unit_layout(config: LayerConfig) -> FusedLayout:
    """ONNX's storage of one unit as a :class:`~lstm_multi.core.params.FusedLayout`: gate blocks
    as rows of ``W (G*h, d)`` and ``R (G*h, h)``, an input bias ``Wb`` and a recurrent bias ``Rb``
    (the halves of ``B``) whose blocks are zero but the reset-after GRU's ``b_hh``."""
    from ..core.params import FusedLayout

    separate = (("h", "b_hh"),) if config.cell == "gru" and config.reset_after else ()
    return FusedLayout("W", "R", "Wb", ONNX_GATES[config.cell], rows=True, b_h="Rb", separate=separate)


def unit_weights(config: LayerConfig, p: Params) -> dict[str, np.ndarray]:
    """One unit's ONNX weights from its canonical parameters (unprefixed): ``W (G*h, d)``,
    ``R (G*h, h)``, ``B (2*G*h,)`` and, for a diagonal-peephole LSTM, ``P (3*h,)``."""
    native = unit_layout(config).from_canonical(p)
    weights = {"W": native["W"], "R": native["R"], "B": np.concatenate([native["Wb"], native["Rb"]])}
    if config.peephole == "diagonal":
        weights["P"] = np.concatenate([p[f"w_c{g}"] for g in PEEPHOLE_ORDER])
    return weights


def layer_weights(config: LayerConfig, params: Params, layer: int) -> dict[str, np.ndarray]:
    """Layer ``layer``'s ONNX weights, its directions stacked on a first axis (float32)."""
    units = [prefix for prefix, k, _, _ in config.units() if k == layer]
    per_unit = [unit_weights(config, {n[len(u) :]: v for n, v in params.items() if n.startswith(u)}) for u in units]
    return {name: np.stack([w[name] for w in per_unit]).astype(np.float32) for name in per_unit[0]}


class GraphBuilder:
    """Collects nodes and initializers; ``tensor`` names a constant, ``node`` adds an operator."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def tensor(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(self.numpy_helper.from_array(np.array(value, order="C"), name))  # 0-d stays 0-d
        return name

    def node(self, op: str, inputs: list[str], outputs: list[str], **attributes: object) -> list[str]:
        self.nodes.append(self.helper.make_node(op, inputs, outputs, name=outputs[0], **attributes))
        return outputs


def recurrent_layer(
    g: GraphBuilder, config: LayerConfig, params: Params, k: int, X: str, states: list[str]
) -> tuple[str, list[str]]:
    """Layer ``k`` as one ONNX ``LSTM`` / ``GRU`` / ``RNN`` node reading ``X (T, B, d)`` from
    ``states`` (each ``(dirs, B, h)``); returns its outputs ``(T, B, dirs*h)`` and final states."""
    h, dirs = config.num_hiddens, config.directions
    weights = {name: g.tensor(f"l{k}.{name}", value) for name, value in layer_weights(config, params, k).items()}
    inputs = [X, weights["W"], weights["R"], weights["B"], "", *states]
    if "P" in weights:
        inputs.append(weights["P"])
    attributes: dict[str, object] = {"hidden_size": h, "direction": "bidirectional" if dirs == 2 else "forward"}
    if config.cell == "gru":
        attributes["linear_before_reset"] = int(config.reset_after)
    outputs = [f"l{k}.Y", *(f"l{k}.Y_{s}" for s in config.spec.state)]
    g.node(OPERATORS[config.cell], inputs, outputs, **attributes)
    # (T, dirs, B, h) -> (T, B, dirs*h): the next layer's input, or the head's
    Y = g.node("Transpose", [outputs[0]], [f"l{k}.Y_time_major"], perm=[0, 2, 1, 3])[0]
    Y = g.node("Reshape", [Y, g.tensor(f"l{k}.features", np.array([0, 0, dirs * h]))], [f"l{k}.outputs"])[0]
    return Y, outputs[1:]


def scan_layer(
    g: GraphBuilder, config: LayerConfig, params: Params, k: int, X: str, states: list[str]
) -> tuple[str, list[str]]:
    """Layer ``k`` of a full-matrix-peephole LSTM, which no ONNX operator computes: one ``Scan``
    per direction whose body is one step of the reference's equations (``reference/lstm.py``)::

        A = X_t W_x + H W_h + b  (B, 4h), gates i f o c;   [A_i A_f A_o] += C_prev [W_ci W_cf W_co]
        I, F, O = sigmoid(A_ifo);  C = F * C_prev + I * tanh(A_c);  H = O * tanh(C)

    The reverse unit scans ``X`` backwards and writes its outputs backwards: back in time order.
    Same interface as :func:`recurrent_layer`."""
    h, dirs = config.num_hiddens, config.directions
    units = [(prefix, reverse) for prefix, layer, _, reverse in config.units() if layer == k]
    outputs, final_H, final_C = [], [], []
    for j, (prefix, reverse) in enumerate(units):
        u = f"l{k}.d{j}."
        p = {n[len(prefix) :]: v for n, v in params.items() if n.startswith(prefix)}
        fused = scan_weights(p)
        W_x, W_h, b, W_c = (g.tensor(u + name, fused[name]) for name in SCAN_WEIGHTS)
        graph = lstm_step_graph(f"{u}step", [W_x, W_h, b, W_c], config.num_inputs if k == 0 else config.num_outputs, h)
        index = g.tensor(u + "index", np.array(j))
        H0, C0 = (g.node("Gather", [s, index], [f"{u}initial_{n}"], axis=0)[0] for s, n in zip(states, "HC"))
        H_T, C_T, Y = g.node(
            "Scan",
            [H0, C0, X],
            [u + "H", u + "C", u + "Y"],
            body=graph,
            num_scan_inputs=1,
            scan_input_directions=[int(reverse)],
            scan_output_directions=[int(reverse)],
        )
        outputs.append(Y)
        axis0 = g.tensor(u + "axis0", np.array([0]))
        final_H.append(g.node("Unsqueeze", [H_T, axis0], [u + "final_H"])[0])
        final_C.append(g.node("Unsqueeze", [C_T, axis0], [u + "final_C"])[0])
    Y = g.node("Concat", outputs, [f"l{k}.outputs"], axis=2)[0] if dirs == 2 else outputs[0]
    finals = [g.node("Concat", parts, [f"l{k}.Y_{n}"], axis=0)[0] for parts, n in ((final_H, "H"), (final_C, "C"))]
    return Y, finals


def lstm_step_graph(name: str, weights: list[str], d: int, h: int) -> onnx.GraphProto:
    """One step of the full-peephole LSTM, the body of :func:`scan_layer`'s Scan:
    ``(H, C, X_t) -> (H_new, C_new, Y_t = H_new)``, each ``(B, .)``; ``weights`` name the
    outer graph's ``W_x``, ``W_h``, ``b``, ``W_c`` (a body reads its outer graph's values)."""
    from onnx import TensorProto, helper

    W_x, W_h, b, W_c = weights
    step = GraphBuilder()
    step.node("MatMul", ["X_t", W_x], ["XW"])
    step.node("MatMul", ["H", W_h], ["HW"])
    step.node("Add", ["XW", "HW"], ["XW_HW"])
    step.node("Add", ["XW_HW", b], ["A"])
    step.node("Split", ["A", step.tensor("gate_sizes", np.array([3 * h, h]))], ["A_ifo", "A_c"], axis=1)
    step.node("MatMul", ["C", W_c], ["CW"])  # the peephole: C_prev [W_ci W_cf W_co]
    step.node("Add", ["A_ifo", "CW"], ["A_peep"])
    step.node("Sigmoid", ["A_peep"], ["IFO"])
    step.node("Split", ["IFO", step.tensor("thirds", np.array([h, h, h]))], ["I", "F", "O"], axis=1)
    step.node("Tanh", ["A_c"], ["C_tilde"])
    step.node("Mul", ["F", "C"], ["FC"])
    step.node("Mul", ["I", "C_tilde"], ["IC"])
    step.node("Add", ["FC", "IC"], ["C_new"])
    step.node("Tanh", ["C_new"], ["tanh_C"])
    step.node("Mul", ["O", "tanh_C"], ["H_new"])
    step.node("Identity", ["H_new"], ["Y_t"])  # the scan output: every step's H
    value = lambda name, size: helper.make_tensor_value_info(name, TensorProto.FLOAT, ["B", size])  # noqa: E731
    inputs = [value("H", h), value("C", h), value("X_t", d)]
    outputs = [value("H_new", h), value("C_new", h), value("Y_t", h)]
    return helper.make_graph(step.nodes, name, inputs, outputs, initializer=step.initializers)


def scan_weights(p: Params) -> dict[str, np.ndarray]:
    """One full-peephole unit's weights for :func:`scan_layer`: ``W_x (d, 4h)``, ``W_h (h, 4h)``,
    ``b (4h,)`` in d2l's gate order (i f o c), ``W_c (h, 3h)`` = [W_ci W_cf W_co]."""
    from ..core.params import fuse_gates

    W_x, W_h, b = fuse_gates(p, "ifoc")
    return {"W_x": W_x, "W_h": W_h, "b": b, "W_c": np.concatenate([p["W_ci"], p["W_cf"], p["W_co"]], axis=1)}


def build(checkpoint: Checkpoint) -> onnx.ModelProto:
    """The ONNX model of ``checkpoint`` (a language model or a task model); see the module's docstring."""
    from onnx import TensorProto, helper

    config, params, task = checkpoint.config, checkpoint.params, checkpoint.hparams.get("task")
    g = GraphBuilder()
    h, dirs, units = config.num_hiddens, config.directions, len(config.units())
    regressor = task is not None and task["name"] in REGRESSION_TASKS
    states = list(config.spec.state)  # ("H", "C") or ("H",)

    # inputs: the sequence, and the initial states (default zeros, broadcast to the batch)
    if regressor:
        sequence = helper.make_tensor_value_info("values", TensorProto.FLOAT, ["T", "B"])
        X = g.node("Unsqueeze", ["values", g.tensor("feature_axis", np.array([2]))], ["X"])[0]
    else:
        sequence = helper.make_tensor_value_info("tokens", TensorProto.INT64, ["T", "B"])
        if "W_e" in params:
            X = g.node("Gather", [g.tensor("W_e", params["W_e"]), "tokens"], ["X"])[0]
        else:  # one-hot characters: the layer's W multiplies them
            depth = g.tensor("depth", np.array(config.num_inputs, np.int64))
            X = g.node("OneHot", ["tokens", depth, g.tensor("one_hot_values", np.array([0, 1], np.float32))], ["X"])[0]
    state_inputs = [helper.make_tensor_value_info(f"initial_{s}", TensorProto.FLOAT, [units, "B", h]) for s in states]
    shape = g.node("Shape", [sequence.name], ["sequence_shape"])[0]
    batch = g.node("Gather", [shape, g.tensor("batch_axis", np.array([1]))], ["batch"])[0]
    state_shape = g.node(
        "Concat",
        [g.tensor("units", np.array([units])), batch, g.tensor("hidden", np.array([h]))],
        ["state_shape"],
        axis=0,
    )[0]
    initial = {}
    for s in states:
        g.tensor(f"initial_{s}", np.zeros((units, 1, h), np.float32))  # the default of the input of that name
        initial[s] = g.node("Expand", [f"initial_{s}", state_shape], [f"initial_{s}_batch"])[0]

    # the layers: one ONNX node each (the full-matrix peephole: one Scan per unit)
    finals: dict[str, list[str]] = {s: [] for s in states}
    for k in range(config.num_layers):
        unit_states = [initial[s] for s in states]
        if units > dirs:  # stacked: this layer's units of the states
            bounds = [
                g.tensor(f"l{k}.units_from", np.array([k * dirs])),
                g.tensor(f"l{k}.units_to", np.array([(k + 1) * dirs])),
            ]
            unit_states = [g.node("Slice", [initial[s], *bounds], [f"l{k}.initial_{s}"])[0] for s in states]
        layer = scan_layer if config.peephole == "full" else recurrent_layer
        X, layer_finals = layer(g, config, params, k, X, unit_states)
        for s, final in zip(states, layer_finals):
            finals[s].append(final)

    # the head
    if task is None:
        hidden = g.node("MatMul", [X, g.tensor("W_hq", params["W_hq"])], ["scores"])[0]
        g.node("Add", [hidden, g.tensor("b_q", params["b_q"])], ["logits"])
        head = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["T", "B", params["b_q"].shape[0]])
    else:
        # the last layer's Y_h is (dirs, B, h): forward H at T-1, reverse H at 0 (its last step)
        last = g.node("Transpose", [finals["H"][-1]], ["last_H"], perm=[1, 0, 2])[0]
        F = g.node("Reshape", [last, g.tensor("head_features", np.array([0, dirs * h]))], ["F"])[0]
        if "W_mlp" in params:
            F = g.node("MatMul", [F, g.tensor("W_mlp", params["W_mlp"])], ["mlp_scores"])[0]
            F = g.node("Add", [F, g.tensor("b_mlp", params["b_mlp"])], ["mlp_pre"])[0]
            F = g.node("Relu", [F], ["mlp_hidden"])[0]
        name = "predictions" if regressor else "logits"
        F = g.node("MatMul", [F, g.tensor("W_out", params["W_out"])], ["out_scores"])[0]
        g.node("Add", [F, g.tensor("b_out", params["b_out"])], [name])
        head = helper.make_tensor_value_info(name, TensorProto.FLOAT, ["B", params["b_out"].shape[0]])

    # the final states, stacked over the units (l0, l0.rev, l1, ...)
    final_outputs = []
    for s in states:
        g.node("Concat", finals[s], [f"final_{s}"], axis=0)
        final_outputs.append(helper.make_tensor_value_info(f"final_{s}", TensorProto.FLOAT, [units, "B", h]))

    graph = helper.make_graph(
        g.nodes,
        f"lstm_multi_{config.cell}",
        [sequence, *state_inputs],
        [head, *final_outputs],
        initializer=g.initializers,
        doc_string=f"lstm-multi: {config.describe()}, {h} hidden units",
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="lstm-multi",
    )
    helper.set_model_props(
        model,
        {
            VOCAB_KEY: json.dumps(list(checkpoint.vocab), ensure_ascii=False),
            HPARAMS_KEY: json.dumps(checkpoint.hparams),
        },
    )
    return model
