"""Export to each framework's own format, checked by its consumer alone.

Each format's files are loaded in ONE subprocess that imports only the consumer (torch, keras,
jax or mxnet) and NumPy, never lstm_multi, and its outputs are held to the NumPy reference
within 1e-5 relative, at a sequence length and batch size that the export's example did not
have. Formats whose framework is not in this environment skip (each tox environment runs its
own). The models are tiny: the share of each environment stays a few seconds.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_close

from lstm_multi.backend import get_backend
from lstm_multi.cli import main
from lstm_multi.core.checkpoint import expected_shapes, load_checkpoint, save_checkpoint
from lstm_multi.core.family import LayerConfig
from lstm_multi.formats import ExportError, export
from lstm_multi.reference.heads import task_forward
from lstm_multi.reference.lm import lm_forward

T, B = 7, 3  # the exports' examples use other sizes
V, H = 6, 5  # vocabulary (or alphabet), hidden units

#: name -> (layer options, kind, embedding_dim, head): the family each format is checked on.
MODELS = {
    "lstm": (dict(cell="lstm"), "lm", None, None),
    "lstm3_embedding": (dict(cell="lstm", num_layers=3), "lm", 4, None),
    "gru_embedding": (dict(cell="gru"), "lm", 4, None),
    "gru_reset_before": (dict(cell="gru", reset_after=False), "lm", None, None),
    "rnn2": (dict(cell="rnn", num_layers=2), "lm", None, None),
    "peephole": (dict(cell="lstm", peephole="diagonal"), "lm", None, None),
    "peephole_full": (dict(cell="lstm", peephole="full"), "lm", None, None),
    "classifier_bi_lstm2_mlp": (dict(cell="lstm", num_layers=2, bidirectional=True), "classifier", None, "mlp"),
    "regressor_bi_gru": (dict(cell="gru", bidirectional=True), "regressor", None, "linear"),
}
NATIVE = [m for m in MODELS if m not in ("gru_reset_before", "peephole", "peephole_full")]
#: what each format is checked on: all it can express (the rest is refused, see REFUSALS).
EXPRESSIBLE = {
    "torch": NATIVE,
    "keras": [*NATIVE, "gru_reset_before"],
    "jax": list(MODELS),
    "mxnet": NATIVE,
}
#: the model each format's test exports with the command line
CLI_MODEL = {"torch": "rnn2", "keras": "lstm", "jax": "lstm", "mxnet": "lstm"}
#: the framework module each format's writer and consumer import.
FRAMEWORK = {"torch": "torch", "keras": "keras", "jax": "jax", "mxnet": "mxnet"}


def make_checkpoint(path: Path, name: str, seed: int) -> Path:
    """A checkpoint of model ``name`` with random parameters ~ N(0, 0.5^2)."""
    options, kind, embedding_dim, head = MODELS[name]
    num_inputs = 1 if kind == "regressor" else (embedding_dim or V)
    config = LayerConfig(num_inputs=num_inputs, num_hiddens=H, **options)
    hparams: dict = {"model": config.to_dict(), "embedding_dim": embedding_dim}
    if kind != "lm":
        num_outputs = 1 if kind == "regressor" else 3
        hparams["task"] = {"name": kind, "head": head, "mlp_hiddens": 4, "num_outputs": num_outputs}
    vocab = [] if kind == "regressor" else [chr(ord("a") + i) for i in range(V)]
    rng = np.random.default_rng(seed)
    shapes = expected_shapes(hparams, config, len(vocab), embedding_dim)
    params = {k: (rng.standard_normal(s) * 0.5).astype(np.float32) for k, s in shapes.items()}
    return save_checkpoint(path, params, vocab, hparams)


def reference(path: Path, inputs: np.ndarray) -> list[np.ndarray]:
    """The package's NumPy outputs for time-major ``inputs (T, B)``: the first output (time-major
    logits for an LM), then an LM's final states as ``(units, B, h)``."""
    ckpt = load_checkpoint(path)
    if "task" in ckpt.hparams:
        y, _ = task_forward(ckpt.config, ckpt.params, inputs.T)
        return [y]
    logits, state, _ = lm_forward(ckpt.params, inputs.T, config=ckpt.config)
    states = state if isinstance(state, tuple) else (state,)
    units = len(ckpt.config.units())
    return [logits.transpose(1, 0, 2), *(np.reshape(s, (units, B, H)) for s in states)]


def example_inputs(name: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if MODELS[name][1] == "regressor":
        return rng.standard_normal((T, B)).astype(np.float32)
    return rng.integers(0, V, (T, B)).astype(np.int64)


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export_checkpoints")
    return {name: make_checkpoint(folder / f"{name}.safetensors", name, seed) for seed, name in enumerate(MODELS)}


#: The consumers: each reads a JSON list of [exported file, inputs .npy, outputs .npz] and
#: writes every output of the exported model; nothing of lstm_multi is imported.
CONSUMERS = {
    "torch": """
import json, sys
import numpy as np
import torch
for path, inputs, out in json.loads(sys.argv[1]):
    model = torch.export.load(path).module()
    outputs = model(torch.from_numpy(np.load(inputs)))
    np.savez(out, *[o.detach().numpy() for o in outputs])
""",
    "keras": """
import json, sys
import numpy as np
import keras
for path, inputs, out in json.loads(sys.argv[1]):
    model = keras.saving.load_model(path)
    outputs = model(np.load(inputs).T)  # Keras is batch-major: (B, T)
    np.savez(out, *[keras.ops.convert_to_numpy(o) for o in outputs])
""",
    "jax": """
import json, sys
import numpy as np
import jax
for path, inputs, out in json.loads(sys.argv[1]):
    with open(path, "rb") as f:
        exported = jax.export.deserialize(bytearray(f.read()))
    x = np.load(inputs)
    outputs = exported.call(x.astype(np.int32) if x.dtype.kind == "i" else x)
    np.savez(out, *[np.asarray(o) for o in outputs])
""",
    "mxnet": """
import json, sys
import numpy as np
import mxnet as mx
for path, inputs, out in json.loads(sys.argv[1]):
    x = np.load(inputs)
    name = "tokens" if x.dtype.kind == "i" else "values"
    net = mx.gluon.SymbolBlock.imports(path, [name], path.replace("-symbol.json", "-0000.params"))
    outputs = net(mx.nd.array(x, dtype=x.dtype))
    np.savez(out, *[o.asnumpy() for o in outputs])
""",
}


def run_consumer(fmt: str, jobs: list[list[str]], usage: str, cwd: Path) -> None:
    """The consumer runs every job, then the three lines the CLI printed (``usage``, checked by
    ``check``); lstm_multi is never imported there."""
    check = f"assert logits.shape == {(1, 5, V) if fmt == 'keras' else (5, 1, V)}, logits.shape"
    alone = "assert not [m for m in sys.modules if m.startswith('lstm_multi')]"
    code = "\n".join([CONSUMERS[fmt], usage, check, alone, "print('ran')"])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # this checkout out of reach
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(jobs)], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )
    assert proc.returncode == 0 and proc.stdout.endswith("ran\n"), proc.stderr[-3000:]


def export_with_cli(fmt: str, checkpoint: Path, out: Path) -> tuple[Path, str]:
    """``lstm-multi export`` in a subprocess: the file written and the three lines it printed."""
    proc = subprocess.run(
        [sys.executable, "-m", "lstm_multi.cli", "export", str(checkpoint), "--format", fmt, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    written = out.parent / "model-symbol.json" if fmt == "mxnet" else out
    header, *lines = proc.stdout.splitlines()
    assert header == f"wrote {written} and {out.parent / 'vocab.json'}; to run it:"
    assert len(lines) == 3
    assert json.loads((out.parent / "vocab.json").read_text()) == list("abcdef")
    return written, "\n".join(lines)


@pytest.mark.parametrize("fmt", list(CONSUMERS))
def test_consumer_runs_the_export_like_the_reference(fmt, checkpoints, tmp_path):
    """Every model the format expresses, exported (one of them by the command line), run by the
    consumer alone at T and B the export never saw, against the reference; then the three
    lines the command printed, run as printed."""
    pytest.importorskip(FRAMEWORK[fmt], reason=f"the {fmt} format needs {FRAMEWORK[fmt]}, not in this environment")
    if fmt == "mxnet":  # the backend turns on NumPy mode process-wide; the export must not depend on it
        get_backend("mxnet")
    jobs, expected = [], {}
    for seed, name in enumerate(EXPRESSIBLE[fmt]):
        out = tmp_path / name / f"model{SUFFIX[fmt]}"
        if name == CLI_MODEL[fmt]:
            out.parent.mkdir()
            written, usage = export_with_cli(fmt, checkpoints[name], out)
        else:
            written = export(checkpoints[name], fmt, out)
        inputs = example_inputs(name, seed)
        np.save(tmp_path / f"{name}.npy", inputs)
        jobs.append([str(written), str(tmp_path / f"{name}.npy"), str(tmp_path / f"{name}.out.npz")])
        expected[name] = reference(checkpoints[name], inputs)
    run_consumer(fmt, jobs, usage, cwd=tmp_path)
    for name, (_, _, result) in zip(expected, jobs):
        with np.load(result) as saved:
            outputs = [saved[f"arr_{i}"] for i in range(len(saved.files))]
        if fmt == "keras":  # batch-major logits; each unit's states (B, h), all H then all C
            outputs[0] = outputs[0].transpose(1, 0, 2) if outputs[0].ndim == 3 else outputs[0]
            kinds = len(expected[name]) - 1  # H, C: an LM's states are checked
            units = (len(outputs) - 1) // max(kinds, 1)
            outputs[1:] = [np.stack(outputs[1 + i * units : 1 + (i + 1) * units]) for i in range(kinds)]
        for i, ref in enumerate(expected[name]):
            scale = np.abs(ref).max()
            assert_close(outputs[i], ref, atol=1e-5 * scale, rtol=1e-5, what=f"{fmt} {name} output {i}")


SUFFIX = {"torch": ".pt2", "keras": ".keras", "jax": ".jax", "mxnet": ""}  # mxnet: a prefix


def test_unknown_format_is_one_clear_line(checkpoints, tmp_path):
    with pytest.raises(ExportError) as err:
        export(checkpoints["lstm"], "tflite", tmp_path / "m")
    assert str(err.value) == "Unknown export format 'tflite'; choose one of: onnx, torch, keras, jax, mxnet."


REFUSALS = {
    ("torch", "peephole"): "Cannot export the LSTM (peephole: diagonal) to torch: torch's LSTM has no peephole "
    "connections; use --format onnx or jax.",
    ("torch", "peephole_full"): "Cannot export the LSTM (peephole: full) to torch: torch's LSTM has no peephole "
    "connections; use --format jax.",
    ("torch", "gru_reset_before"): "Cannot export the GRU (reset before) to torch: torch's GRU has only the "
    "reset-after form; use --format onnx, keras or jax.",
    ("keras", "peephole"): "Cannot export the LSTM (peephole: diagonal) to keras: Keras's LSTM has no peephole "
    "connections; use --format onnx or jax.",
    ("mxnet", "peephole_full"): "Cannot export the LSTM (peephole: full) to mxnet: Gluon's LSTM has no peephole "
    "connections; use --format jax.",
    ("mxnet", "gru_reset_before"): "Cannot export the GRU (reset before) to mxnet: Gluon's GRU has only the "
    "reset-after form; use --format onnx, keras or jax.",
}


@pytest.mark.parametrize("fmt, name", list(REFUSALS))
def test_refusals_name_a_format_that_can(fmt, name, checkpoints, tmp_path):
    pytest.importorskip(FRAMEWORK[fmt], reason=f"the {fmt} format needs {FRAMEWORK[fmt]}")
    with pytest.raises(ExportError) as err:
        export(checkpoints[name], fmt, tmp_path / f"model{SUFFIX[fmt]}")
    assert str(err.value) == REFUSALS[fmt, name]
    assert not any(tmp_path.iterdir())  # nothing written


@pytest.mark.framework("tensorflow")
def test_keras_needs_the_keras_suffix(checkpoints, tmp_path):
    pytest.importorskip("keras", reason="the keras format needs keras")
    with pytest.raises(ExportError) as err:
        export(checkpoints["lstm"], "keras", tmp_path / "model.h5")
    assert str(err.value) == "keras.saving.load_model reads only .keras files: name the output model.keras."


INSTALL = {"torch": "torch", "keras": "tensorflow", "mxnet": "mxnet"}


@pytest.mark.parametrize("fmt", list(INSTALL))
def test_a_missing_framework_is_one_line_saying_what_to_install(fmt, checkpoints, tmp_path, capsys):
    if importlib.util.find_spec(FRAMEWORK[fmt]) is not None:
        pytest.skip(f"{FRAMEWORK[fmt]} is installed here")
    assert main(["export", str(checkpoints["lstm"]), "--format", fmt, "--out", str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err == (
        f"lstm-multi export: error: The {fmt} format needs {FRAMEWORK[fmt]}, not installed in this "
        f'environment (pip install "lstm-multi[{INSTALL[fmt]}]").\n'
    )
