"""ONNX export, checked by its consumer: every exported file runs in ONNX Runtime in a subprocess
that imports only onnxruntime and NumPy, and its outputs match the NumPy reference (float64)
within 1e-5 relative, on sequence lengths and batch sizes the export never saw."""

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import assert_close

from lstm_multi.core.checkpoint import load_checkpoint, save_checkpoint
from lstm_multi.core.family import LayerConfig
from lstm_multi.core.lm import lm_shapes
from lstm_multi.core.tasks.models import head_shapes
from lstm_multi.formats import export
from lstm_multi.reference.heads import task_forward
from lstm_multi.reference.layer import to_unit_states
from lstm_multi.reference.lm import lm_forward

onnx = pytest.importorskip("onnx", reason="the ONNX tests need onnx (tox -e cross)")
pytest.importorskip("onnxruntime", reason="the ONNX tests need onnxruntime (tox -e cross)")

V, E, H, MLP = 7, 4, 6, 5
#: (id, layer options, embedding dim): the language models
LMS = [
    ("lstm", dict(cell="lstm"), None),
    ("lstm-embedding", dict(cell="lstm"), E),
    ("lstm-2-layers", dict(cell="lstm", num_layers=2, dropout=0.3), None),
    ("lstm-3-layers-embedding", dict(cell="lstm", num_layers=3), E),
    ("lstm-peephole", dict(cell="lstm", peephole="diagonal"), None),
    ("lstm-2-layers-peephole", dict(cell="lstm", num_layers=2, peephole="diagonal"), E),
    ("lstm-full-peephole", dict(cell="lstm", peephole="full"), None),
    ("lstm-3-layers-full-peephole", dict(cell="lstm", num_layers=3, peephole="full"), E),
    ("gru-reset-after", dict(cell="gru"), None),
    ("gru-reset-before", dict(cell="gru", reset_after=False), E),
    ("gru-2-layers", dict(cell="gru", num_layers=2), None),
    ("rnn", dict(cell="rnn"), None),
    ("rnn-2-layers-embedding", dict(cell="rnn", num_layers=2), E),
]
#: (id, layer options, task, head): the task models (bidirectional ones among them)
TASKS = [
    ("classifier-bilstm", dict(cell="lstm", bidirectional=True), "parentheses", "linear"),
    ("classifier-2-layer-bilstm-mlp", dict(cell="lstm", num_layers=2, bidirectional=True), "parentheses", "mlp"),
    ("classifier-bigru-before", dict(cell="gru", bidirectional=True, reset_after=False), "parentheses", "linear"),
    ("regressor-lstm-peephole-mlp", dict(cell="lstm", peephole="diagonal"), "timeseries", "mlp"),
    (
        "classifier-2-layer-bilstm-full-peephole",
        dict(cell="lstm", num_layers=2, bidirectional=True, peephole="full"),
        "parentheses",
        "mlp",
    ),
    ("regressor-2-layer-birnn", dict(cell="rnn", num_layers=2, bidirectional=True), "timeseries", "linear"),
]
#: (T, B) the models run on: none of them is an example the export saw (it saw none)
SIZES = [(9, 3), (1, 1), (4, 5)]

#: Runs in a fresh interpreter: onnxruntime and NumPy only. argv[1]: a JSON list of
#: {"model", "inputs" (an .npz), "outputs" (an .npz to write)}.
CONSUMER = """
import json, sys
import numpy as np
import onnxruntime as ort
options = ort.SessionOptions()
options.log_severity_level = 3  # quiet: the optional initial states are overridable initializers
for job in json.load(open(sys.argv[1])):
    session = ort.InferenceSession(job["model"], options, providers=["CPUExecutionProvider"])
    feeds = dict(np.load(job["inputs"]))
    names = [o.name for o in session.get_outputs()]
    np.savez(job["outputs"], **dict(zip(names, session.run(None, feeds))))
assert not any(m.split(".")[0] == "lstm_multi" for m in sys.modules), "the consumer imported lstm_multi"
print("ran", len(json.load(open(sys.argv[1]))))
"""


def random_params(shapes, seed):
    """Every canonical parameter ~ N(0, 0.5^2), biases and peepholes included (none stays zero)."""
    rng = np.random.default_rng(seed)
    return {name: (rng.standard_normal(shape) * 0.5).astype(np.float32) for name, shape in shapes.items()}


def lm_checkpoint(path, options, embedding_dim, seed=0):
    config = LayerConfig(num_inputs=embedding_dim or V, num_hiddens=H, **options)
    params = random_params(lm_shapes(config, V, embedding_dim), seed)
    vocab = [f"t{i}" for i in range(V)]
    save_checkpoint(path, params, vocab, {"model": config.to_dict(), "embedding_dim": embedding_dim, "lr": 1.0})
    return path


def task_checkpoint(path, options, task, head, seed=0):
    regression = task == "timeseries"
    config = LayerConfig(num_inputs=1 if regression else 4, num_hiddens=H, **options)
    outputs = 1 if regression else 3
    params = random_params({**config.shapes(), **head_shapes(config.num_outputs, head, MLP, outputs)}, seed)
    hparams = {
        "model": config.to_dict(),
        "task": {"name": task, "head": head, "mlp_hiddens": MLP, "num_outputs": outputs},
    }
    save_checkpoint(path, params, [] if regression else list("()ab"), hparams)
    return path


def run_consumer(jobs, tmp_path):
    """Run every job in one onnxruntime-only subprocess; the outputs of each, by name."""
    listing = tmp_path / "jobs.json"
    listing.write_text(json.dumps(jobs))
    proc = subprocess.run(
        [sys.executable, "-c", CONSUMER, str(listing)], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [dict(np.load(job["outputs"])) for job in jobs]


@pytest.fixture(scope="module")
def consumed(tmp_path_factory):
    """Every model exported, fed at every size (the LMs also from random initial states), run by
    ONNX Runtime once for the module: ``{(id, T, B, with_state): (checkpoint, inputs, outputs)}``."""
    tmp = tmp_path_factory.mktemp("onnx")
    rng = np.random.default_rng(7)
    jobs, keys, cases = [], [], []
    for i, (name, options, embedding_dim) in enumerate(LMS):
        ckpt = load_checkpoint(lm_checkpoint(tmp / f"{name}.safetensors", options, embedding_dim, seed=i))
        model = export(tmp / f"{name}.safetensors", "onnx", tmp / f"{name}.onnx")
        for T, B in SIZES:
            for with_state in (False, True):
                feeds = {"tokens": rng.integers(0, V, (T, B)).astype(np.int64)}
                if with_state:
                    units = len(ckpt.config.units())
                    for s in ckpt.config.spec.state:
                        feeds[f"initial_{s}"] = rng.standard_normal((units, B, H)).astype(np.float32)
                cases.append((name, T, B, with_state, ckpt, model, feeds))
    for i, (name, options, task, head) in enumerate(TASKS):
        ckpt = load_checkpoint(task_checkpoint(tmp / f"{name}.safetensors", options, task, head, seed=i))
        model = export(tmp / f"{name}.safetensors", "onnx", tmp / f"{name}.onnx")
        for T, B in SIZES:
            if task == "timeseries":
                feeds = {"values": rng.standard_normal((T, B)).astype(np.float32)}
            else:
                feeds = {"tokens": rng.integers(0, 4, (T, B)).astype(np.int64)}
            cases.append((name, T, B, False, ckpt, model, feeds))
    for n, (name, T, B, with_state, _, model, feeds) in enumerate(cases):
        np.savez(tmp / f"in{n}.npz", **feeds)
        jobs.append({"model": str(model), "inputs": str(tmp / f"in{n}.npz"), "outputs": str(tmp / f"out{n}.npz")})
        keys.append((name, T, B, with_state))
    outputs = run_consumer(jobs, tmp)
    return {key: (case[4], case[6], out) for key, case, out in zip(keys, cases, outputs)}


def api_state(config, feeds):
    """The initial states fed to ONNX ``(units, B, h)`` in the package's form (None if not fed)."""
    given = [feeds[f"initial_{s}"] for s in config.spec.state if f"initial_{s}" in feeds]
    if not given:
        return None
    given = [g[0] if config.single else g for g in given]
    return tuple(given) if len(given) > 1 else given[0]


@pytest.mark.parametrize("with_state", [False, True], ids=["zero-state", "given-state"])
@pytest.mark.parametrize("T,B", SIZES)
@pytest.mark.parametrize("name", [case[0] for case in LMS])
def test_onnx_runtime_runs_the_language_model_as_the_reference(consumed, name, T, B, with_state):
    ckpt, feeds, out = consumed[name, T, B, with_state]
    state = api_state(ckpt.config, feeds)
    logits, final, _ = lm_forward(ckpt.params, feeds["tokens"].T, state, ckpt.config)
    assert list(out)[0] == "logits" and out["logits"].shape == (T, B, V)
    assert_close(out["logits"], logits.transpose(1, 0, 2), atol=1e-6, rtol=1e-5, what=f"{name} logits")
    # the final states: (units, B, h), units in the package's order
    units = to_unit_states(ckpt.config, final, B)
    for i, s in enumerate(ckpt.config.spec.state):
        assert_close(out[f"final_{s}"], np.stack([u[i] for u in units]), atol=1e-6, rtol=1e-5, what=f"{name} final {s}")


@pytest.mark.parametrize("T,B", SIZES)
@pytest.mark.parametrize("name", [case[0] for case in TASKS])
def test_onnx_runtime_runs_the_task_model_as_the_reference(consumed, name, T, B):
    ckpt, feeds, out = consumed[name, T, B, False]
    inputs = feeds["values"] if "values" in feeds else feeds["tokens"]
    expected, _ = task_forward(ckpt.config, ckpt.params, inputs.T)
    first = list(out)[0]
    assert first == ("predictions" if "values" in feeds else "logits")
    assert_close(out[first], expected, atol=1e-6, rtol=1e-5, what=f"{name} {first}")


def test_the_graph_uses_onnx_recurrent_operators_and_passes_the_strict_checker(tmp_path):
    lm_checkpoint(tmp_path / "gru.safetensors", dict(cell="gru", num_layers=2, reset_after=False), E)
    path = export(tmp_path / "gru.safetensors", "onnx", tmp_path / "gru.onnx")
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("GRU") == 2 and "Gather" in ops and "Scan" not in ops and "Loop" not in ops
    gru = next(node for node in model.graph.node if node.op_type == "GRU")
    assert onnx.helper.get_attribute_value(next(a for a in gru.attribute if a.name == "linear_before_reset")) == 0
    assert [i.name for i in model.graph.input] == ["tokens", "initial_H"]
    assert [o.name for o in model.graph.output] == ["logits", "final_H"]
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["T", "B"]
    assert json.loads((tmp_path / "vocab.json").read_text()) == [f"t{i}" for i in range(V)]


def test_the_full_matrix_peephole_is_a_scan_of_the_reference_step(tmp_path):
    """No ONNX operator has C_prev W_c: each unit is a Scan whose body is one step of the equations."""
    lm_checkpoint(
        tmp_path / "full.safetensors", dict(cell="lstm", num_layers=2, bidirectional=False, peephole="full"), E
    )
    model = onnx.load(export(tmp_path / "full.safetensors", "onnx", tmp_path / "full.onnx"))
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("Scan") == 2 and "LSTM" not in ops
    body = next(a.g for a in model.graph.node[ops.index("Scan")].attribute if a.name == "body")
    assert [n.op_type for n in body.node].count("MatMul") == 3  # X_t W_x, H W_h, C_prev W_c


def test_the_three_lines_that_say_how_to_run_it_run(tmp_path):
    from lstm_multi.formats.onnx import how_to_run

    lm_checkpoint(tmp_path / "lm.safetensors", dict(cell="lstm", num_layers=2), None)
    path = export(tmp_path / "lm.safetensors", "onnx", tmp_path / "lm.onnx")
    lines = how_to_run(path)
    assert len(lines.splitlines()) == 3
    check = "\nassert logits.shape == (2, 1, 7) and states[0].shape == (2, 1, 6), logits.shape"
    proc = subprocess.run(
        [sys.executable, "-c", lines + check], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
