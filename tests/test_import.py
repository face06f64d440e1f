"""``lstm-multi import``: a PyTorch state dict, a .keras model and lstm-multi's own ONNX become
checkpoints that compute what the file's framework computes, exactly the file's parameters, and that
generate, trace gates and train further on every backend; anything else gets a clear error."""

import json

import numpy as np
import pytest
from conftest import assert_close

from lstm_multi.backend import available_backends, get_backend
from lstm_multi.cli import main
from lstm_multi.core.checkpoint import load_checkpoint, save_checkpoint
from lstm_multi.core.data import TimeMachine
from lstm_multi.core.family import LayerConfig
from lstm_multi.core.lm import lm_shapes, model_from_config
from lstm_multi.core.tasks.models import head_shapes
from lstm_multi.core.trainer import Trainer
from lstm_multi.formats import export
from lstm_multi.formats.importing import ModelImportError, import_model
from lstm_multi.reference.lm import lm_forward

H, E, T, B = 6, 4, 5, 3


@pytest.fixture(scope="module")
def data():
    return TimeMachine(batch_size=8, num_steps=5, num_train=32, num_val=16, seed=0)


@pytest.fixture(scope="module")
def vocab_file(data, tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocab.json"
    path.write_text(json.dumps(data.vocab.idx_to_token))
    return path


def random_params(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return {name: (rng.standard_normal(shape) * 0.5).astype(np.float32) for name, shape in shapes.items()}


# --- PyTorch state dicts ---

TORCH_CASES = [
    ("lstm", dict(num_layers=1), None),
    ("lstm", dict(num_layers=2), E),
    ("gru", dict(num_layers=2), None),
    ("rnn", dict(num_layers=1), E),
]


def torch_lm(cell, vocab_size, embedding_dim, num_layers):
    """A plain torch LM: nn.Embedding (or one-hot), nn.LSTM/GRU/RNN, nn.Linear; every weight random."""
    torch = pytest.importorskip("torch", reason="importing a state dict needs torch")
    nn = torch.nn

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab_size, embedding_dim) if embedding_dim else None
            rnn = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]
            self.rnn = rnn(embedding_dim or vocab_size, H, num_layers=num_layers)
            self.head = nn.Linear(H, vocab_size)

        def forward(self, tokens):  # (T, B) -> (T, B, V)
            X = self.embed(tokens) if self.embed is not None else nn.functional.one_hot(tokens, vocab_size).float()
            return self.head(self.rnn(X)[0])

    torch.manual_seed(0)
    model = LM()
    with torch.no_grad():
        for p in model.parameters():  # both biases nonzero: canonical b = b_ih + b_hh
            p.normal_(0, 0.5)
    return torch, model


@pytest.mark.parametrize("cell,options,embedding_dim", TORCH_CASES, ids=lambda v: str(v))
def test_a_torch_state_dict_imports_as_what_torch_computes(cell, options, embedding_dim, data, vocab_file, tmp_path):
    V = len(data.vocab)
    torch, model = torch_lm(cell, V, embedding_dim, options["num_layers"])
    torch.save(model.state_dict(), tmp_path / "lm.pt")
    out = import_model(tmp_path / "lm.pt", tmp_path / "lm.safetensors", vocab=vocab_file)
    ckpt = load_checkpoint(out)
    assert ckpt.config == LayerConfig(cell, embedding_dim or V, H, **options)
    assert ckpt.vocab == data.vocab.idx_to_token and ckpt.embedding_dim == embedding_dim
    # the file's own numbers: weights exactly, canonical b = b_ih + b_hh (torch's layout, gates i f g o / r z n)
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    assert np.array_equal(ckpt.params["W_hq"], state["head.weight"].T)
    first_gate = {"lstm": "i", "gru": "r", "rnn": "h"}[cell]
    prefix = "" if ckpt.config.single else "l0."
    assert np.array_equal(ckpt.params[f"{prefix}W_x{first_gate}"], state["rnn.weight_ih_l0"][:H].T)
    assert np.array_equal(
        ckpt.params[f"{prefix}b_{first_gate}"], state["rnn.bias_ih_l0"][:H] + state["rnn.bias_hh_l0"][:H]
    )
    if cell == "gru":  # the candidate's recurrent bias stays inside r * (...)
        assert np.array_equal(ckpt.params[f"{prefix}b_hh"], state["rnn.bias_hh_l0"][2 * H :])
    # the same function
    tokens = np.random.default_rng(1).integers(0, V, (T, B))
    with torch.no_grad():
        expected = model(torch.as_tensor(tokens)).numpy()
    logits, _, _ = lm_forward(ckpt.params, tokens.T, None, ckpt.config)
    assert_close(logits.transpose(1, 0, 2), expected, atol=1e-6, rtol=1e-5, what="logits")


# --- Keras ---

KERAS_CASES = [
    ("lstm", {}, E),
    ("gru", {"reset_after": False}, None),
    ("gru", {"reset_after": True}, E),
    ("rnn", {}, None),
]


@pytest.mark.parametrize("cell,options,embedding_dim", KERAS_CASES, ids=lambda v: str(v))
def test_a_keras_model_imports_as_what_keras_computes(cell, options, embedding_dim, data, vocab_file, tmp_path):
    keras = pytest.importorskip("keras", reason="importing a .keras file needs keras")
    V = len(data.vocab)
    rnn = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "rnn": keras.layers.SimpleRNN}[cell]
    layers = [keras.layers.Embedding(V, embedding_dim)] if embedding_dim else []
    inputs = keras.Input((None,), dtype="int32") if embedding_dim else keras.Input((None, V))
    model = keras.Sequential(
        [
            inputs,
            *layers,
            rnn(H, return_sequences=True, **options),
            rnn(H, return_sequences=True, **options),
            keras.layers.Dense(V),
        ]
    )
    rng = np.random.default_rng(2)
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.5 for w in model.get_weights()])
    model.save(tmp_path / "lm.keras")
    ckpt = load_checkpoint(import_model(tmp_path / "lm.keras", tmp_path / "lm.safetensors", vocab=vocab_file))
    assert ckpt.config == LayerConfig(cell, embedding_dim or V, H, num_layers=2, **options)
    assert np.array_equal(ckpt.params["W_hq"], model.layers[-1].get_weights()[0])
    tokens = rng.integers(0, V, (B, T))
    expected = np.asarray(model(tokens if embedding_dim else np.eye(V, dtype=np.float32)[tokens]))
    logits, _, _ = lm_forward(ckpt.params, tokens, None, ckpt.config)
    assert_close(logits, expected, atol=1e-6, rtol=1e-5, what="logits")


# --- ONNX: export, import, the same parameters ---

ROUND_TRIPS = [
    (dict(cell="lstm", num_layers=3, dropout=0.2, forget_bias=1.0), E, None),
    (dict(cell="lstm", peephole="diagonal"), None, None),
    (dict(cell="lstm", num_layers=2, peephole="full"), E, None),
    (dict(cell="lstm", bidirectional=True, peephole="full"), None, ("parentheses", "linear", 2)),
    (dict(cell="gru", reset_after=False), E, None),
    (dict(cell="gru", num_layers=2), None, None),
    (dict(cell="rnn"), None, None),
    (dict(cell="lstm", num_layers=2, bidirectional=True), None, ("parentheses", "mlp", 2)),
    (dict(cell="gru", bidirectional=True), None, ("timeseries", "linear", 1)),
]


@pytest.mark.parametrize("options,embedding_dim,task", ROUND_TRIPS, ids=lambda v: str(v))
def test_export_then_import_gives_the_same_parameters_exactly(options, embedding_dim, task, tmp_path):
    pytest.importorskip("onnx", reason="the ONNX round trip needs onnx")
    if task is None:
        config = LayerConfig(num_inputs=embedding_dim or 5, num_hiddens=H, **options)
        params, vocab = random_params(lm_shapes(config, 5, embedding_dim)), list("abcde")
        hparams = {"model": config.to_dict(), "embedding_dim": embedding_dim, "lr": 2.0}
    else:
        name, head, outputs = task
        config = LayerConfig(num_inputs=1 if name == "timeseries" else 4, num_hiddens=H, **options)
        params = random_params({**config.shapes(), **head_shapes(config.num_outputs, head, 3, outputs)})
        vocab = [] if name == "timeseries" else list("()ab")
        hparams = {
            "model": config.to_dict(),
            "task": {"name": name, "head": head, "mlp_hiddens": 3, "num_outputs": outputs},
        }
    save_checkpoint(tmp_path / "a.safetensors", params, vocab, hparams)
    onnx_file = export(tmp_path / "a.safetensors", "onnx", tmp_path / "a.onnx")
    back = load_checkpoint(import_model(onnx_file, tmp_path / "b.safetensors"))
    assert back.config == config and back.vocab == vocab and back.embedding_dim == embedding_dim
    assert list(back.params) == list(params)
    for name, value in params.items():
        assert np.array_equal(back.params[name], value), name
    assert back.hparams.get("task") == hparams.get("task")


KERAS_ROUND_TRIPS = [
    (dict(cell="lstm", num_layers=2), E),
    (dict(cell="lstm"), None),
    (dict(cell="gru", reset_after=False), E),
    (dict(cell="gru"), None),
    (dict(cell="rnn", num_layers=2), E),
]


@pytest.mark.parametrize("options,embedding_dim", KERAS_ROUND_TRIPS, ids=lambda v: str(v))
def test_a_keras_export_imports_back_to_the_same_parameters(options, embedding_dim, tmp_path):
    """export --format keras, then import with the vocab.json written beside it: the language
    model's parameters come back exactly (one-hot input included)."""
    pytest.importorskip("keras", reason="the Keras round trip needs keras")
    config = LayerConfig(num_inputs=embedding_dim or 5, num_hiddens=H, **options)
    params, vocab = random_params(lm_shapes(config, 5, embedding_dim)), list("abcde")
    save_checkpoint(
        tmp_path / "a.safetensors", params, vocab, {"model": config.to_dict(), "embedding_dim": embedding_dim}
    )
    keras_file = export(tmp_path / "a.safetensors", "keras", tmp_path / "a.keras")
    back = load_checkpoint(import_model(keras_file, tmp_path / "b.safetensors", vocab=tmp_path / "vocab.json"))
    assert back.config == config and back.vocab == vocab and back.embedding_dim == embedding_dim
    assert sorted(back.params) == sorted(params)
    for name, value in params.items():
        assert np.array_equal(back.params[name], value), name


# --- the imported checkpoint is an ordinary one ---


@pytest.fixture(scope="module")
def gru_state_dict(data, tmp_path_factory):
    """A torch state dict: nn.Embedding, a 2-layer nn.GRU, nn.Linear."""
    path = tmp_path_factory.mktemp("torch") / "gru.pt"
    torch, model = torch_lm("gru", len(data.vocab), E, 2)
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def imported_gru(gru_state_dict, vocab_file):
    return import_model(gru_state_dict, gru_state_dict.with_suffix(".safetensors"), vocab=vocab_file)


@pytest.mark.parametrize("backend", available_backends())
def test_an_imported_checkpoint_generates_traces_gates_and_trains_on_every_backend(
    backend, imported_gru, data, tmp_path, capsys
):
    assert main(["generate", "--checkpoint", str(imported_gru), "--backend", backend, "--num-preds", "5"]) == 0
    assert (
        main(
            [
                "gates",
                "--checkpoint",
                str(imported_gru),
                "--backend",
                backend,
                "--print",
                "--out",
                str(tmp_path / "g.png"),
            ]
        )
        == 0
    )
    ckpt = load_checkpoint(imported_gru)
    bk = get_backend(backend)
    model = model_from_config(bk, "scratch", ckpt.config, len(ckpt.vocab), lr=1.0, embedding_dim=ckpt.embedding_dim)
    bk.set_params(model, ckpt.params)
    history = Trainer(max_epochs=2, gradient_clip_val=1.0).fit(model, data)
    assert history[-1].train_loss < history[0].train_loss


def test_an_imported_checkpoint_generates_and_trains_on_mxnet_in_its_environment(imported_gru, tmp_path):
    """MXNet needs NumPy < 1.24, so it has an environment of its own: the CLI runs there."""
    import subprocess

    from lstm_multi.core.parity import interpreter_for, subprocess_env

    python = interpreter_for("mxnet")
    if "mxnet" in available_backends() or python is None:
        pytest.skip("mxnet runs in its own environment: .tox/mxnet or LSTM_MULTI_PYTHON_MXNET")
    commands = [
        ["generate", "--checkpoint", str(imported_gru), "--num-preds", "5"],
        ["gates", "--checkpoint", str(imported_gru), "--print", "--out", str(tmp_path / "g.png")],
        ["train", "--init-from", str(imported_gru), "--model", "gru", "--num-layers", "2", "--embedding-dim", str(E)]
        + ["--hidden", str(H), "--epochs", "1", "--num-train", "32", "--num-val", "16", "--batch-size", "8"]
        + ["--num-steps", "5", "--no-progress", "--out", str(tmp_path / "run")],
    ]
    for args in commands:
        proc = subprocess.run(
            [python, "-m", "lstm_multi.cli", *args, "--backend", "mxnet"],
            capture_output=True,
            text=True,
            timeout=300,
            env=subprocess_env(),
        )
        assert proc.returncode == 0, f"{args[0]}: {proc.stderr[-2000:]}"
    assert (tmp_path / "run" / "model.safetensors").is_file()


# --- errors ---


def test_a_file_without_a_vocabulary_asks_for_one(tmp_path):
    torch, model = torch_lm("lstm", 28, None, 1)
    torch.save(model.state_dict(), tmp_path / "lm.pt")
    with pytest.raises(ModelImportError) as err:
        import_model(tmp_path / "lm.pt", tmp_path / "x.safetensors")
    assert str(err.value) == (
        f"{tmp_path / 'lm.pt'} (a PyTorch state dict) holds no vocabulary: give its tokens with --vocab "
        "vocab.json (a JSON list of the tokens in index order)."
    )
    (tmp_path / "short.json").write_text(json.dumps(list("abc")))
    with pytest.raises(ModelImportError) as err:
        import_model(tmp_path / "lm.pt", tmp_path / "x.safetensors", vocab=tmp_path / "short.json")
    assert str(err.value) == (
        f"The vocabulary has 3 tokens but the model in {tmp_path / 'lm.pt'} predicts 28: give the vocabulary it "
        "was trained with."
    )
    assert not (tmp_path / "x.safetensors").exists()


def test_an_unknown_state_dict_lists_what_it_found(tmp_path):
    torch = pytest.importorskip("torch", reason="needs torch")
    conv = torch.nn.Conv1d(3, 4, 2)
    torch.save(conv.state_dict(), tmp_path / "conv.pt")
    with pytest.raises(ModelImportError) as err:
        import_model(tmp_path / "conv.pt", tmp_path / "x.safetensors", vocab=None)
    assert str(err.value) == (
        f"Cannot import {tmp_path / 'conv.pt'}: not a layout lstm-multi knows. Found weight (4, 3, 2), bias (4,). "
        "Expected the state dict of one nn.LSTM, nn.GRU or nn.RNN (weight_ih_l0, weight_hh_l0, bias_ih_l0, "
        "bias_hh_l0, ...), optionally an nn.Embedding before it (weight) and an nn.Linear after it (weight and bias)."
    )


def test_an_onnx_model_of_another_shape_lists_what_it_found(tmp_path):
    onnx = pytest.importorskip("onnx", reason="needs onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    onnx.save(helper.make_model(graph), tmp_path / "relu.onnx")
    with pytest.raises(ModelImportError) as err:
        import_model(tmp_path / "relu.onnx", tmp_path / "x.safetensors")
    assert str(err.value) == (
        f"Cannot import {tmp_path / 'relu.onnx'}: not a layout lstm-multi knows. Found operators Relu; outputs y. "
        "Expected a model `lstm-multi export --format onnx` writes: Gather (embedding) or OneHot, one LSTM / GRU / "
        "RNN node per layer, MatMul + Add (the head; an MLP head with Relu)."
    )


def test_the_command_line_imports_and_says_what_was_wrong_in_one_line(gru_state_dict, vocab_file, tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    assert main(["import", str(gru_state_dict), "--out", str(out), "--vocab", str(vocab_file)]) == 0
    assert capsys.readouterr().out == (
        f"imported a PyTorch state dict ({gru_state_dict}): 2-layer GRU (reset after), 6 hidden units, a language "
        f"model, vocabulary of 28 -> {out}\ngenerate with: lstm-multi generate --checkpoint {out}\n"
    )
    assert main(["import", str(tmp_path / "model.h5"), "--out", str(tmp_path / "m.safetensors")]) == 2
    assert capsys.readouterr().err == (
        f"lstm-multi import: error: Cannot import {tmp_path / 'model.h5'}: unknown file type '.h5'; import reads "
        ".pt (a PyTorch state dict), .pth (a PyTorch state dict), .keras (a Keras model), .onnx (an ONNX model).\n"
    )
    assert main(["import", str(tmp_path / "none.pt"), "--out", str(tmp_path / "m.safetensors")]) == 2
    assert capsys.readouterr().err == f"lstm-multi import: error: Cannot import {tmp_path / 'none.pt'}: no such file.\n"
    (tmp_path / "bad.json").write_text('{"a": 1}')
    args = [
        "import",
        str(gru_state_dict),
        "--out",
        str(tmp_path / "m.safetensors"),
        "--vocab",
        str(tmp_path / "bad.json"),
    ]
    assert main(args) == 2
    assert capsys.readouterr().err == (
        f"lstm-multi import: error: --vocab {tmp_path / 'bad.json'} must hold a JSON list of strings (the tokens in "
        "index order).\n"
    )


def test_without_onnx_the_export_and_the_import_say_what_to_install(tmp_path):
    from importlib.util import find_spec

    if find_spec("onnx") is not None:
        pytest.skip("onnx is installed here; the message is for where it is not (tox -e torch)")
    from lstm_multi.formats import ExportError

    config = LayerConfig("lstm", 5, H)
    save_checkpoint(
        tmp_path / "a.safetensors", random_params(lm_shapes(config, 5)), list("abcde"), {"model": config.to_dict()}
    )
    with pytest.raises(ExportError) as err:
        export(tmp_path / "a.safetensors", "onnx", tmp_path / "a.onnx")
    assert str(err.value) == (
        'The onnx format needs onnx, not installed in this environment (pip install "lstm-multi[onnx]").'
    )
    (tmp_path / "b.onnx").write_bytes(b"")
    with pytest.raises(ModelImportError) as err:
        import_model(tmp_path / "b.onnx", tmp_path / "b.safetensors")
    assert str(err.value) == (
        f'Importing {tmp_path / "b.onnx"} needs onnx, which is not installed: pip install "lstm-multi[onnx]"'
    )


def test_a_bidirectional_language_model_is_refused(vocab_file, tmp_path):
    torch = pytest.importorskip("torch", reason="needs torch")
    rnn, head = torch.nn.GRU(28, H, bidirectional=True), torch.nn.Linear(2 * H, 28)
    state = {**{f"rnn.{k}": v for k, v in rnn.state_dict().items()}, "head.weight": head.weight, "head.bias": head.bias}
    torch.save(state, tmp_path / "bi.pt")
    with pytest.raises(ModelImportError) as err:
        import_model(tmp_path / "bi.pt", tmp_path / "x.safetensors", vocab=vocab_file)
    assert str(err.value) == (
        f"{tmp_path / 'bi.pt'} holds a bidirectional GRU with an output layer on every step: read as a language "
        "model, its reverse direction would read the characters it predicts. A bidirectional task model imports "
        "from the ONNX file `lstm-multi export --format onnx` writes."
    )
