"""What a user of the command line sees: sampling options, the first line, the progress bar,
runs without matplotlib; and the command-line package's structure (one module per command)."""

import ast
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lstm_multi.cli import COMMANDS, main, module_of
from lstm_multi.core.family import LayerConfig
from lstm_multi.core.trainer import EpochRecord

# one pytest-xdist worker runs this module: its tests share the module's fixtures
pytestmark = pytest.mark.xdist_group("cli_usability")

#: A tiny run on the NumPy backend: about a second.
TINY = [
    "--backend",
    "numpy",
    "--epochs",
    "1",
    "--num-train",
    "64",
    "--num-val",
    "64",
    "--batch-size",
    "32",
    "--hidden",
    "8",
    "--num-steps",
    "8",
]
HINT = 'pip install "lstm-multi[plot]" (or pip install matplotlib)'
CLI = Path(__file__).resolve().parents[1] / "lstm_multi" / "cli"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["train", *TINY, "--no-progress", "--out", str(out)]) == 0
    return str(out / "model.safetensors")


def generated(capsys, checkpoint, *options) -> str:
    assert (
        main(
            ["generate", "--checkpoint", checkpoint, "--backend", "numpy", "--num-preds", "30", "--seed", "3", *options]
        )
        == 0
    )
    return capsys.readouterr().out.rstrip("\n")


# --- generate: --top-k or --top-p alone samples at temperature 1 ---


@pytest.mark.parametrize("option", [["--top-k", "5"], ["--top-p", "0.9"]], ids=["top-k", "top-p"])
def test_top_k_or_top_p_alone_samples_at_temperature_one(capsys, checkpoint, option):
    greedy = generated(capsys, checkpoint)
    sampled = generated(capsys, checkpoint, *option)
    assert sampled == generated(capsys, checkpoint, *option, "--temperature", "1")
    assert sampled != greedy and sampled.startswith("time traveller") and len(sampled) == len(greedy)
    assert generated(capsys, checkpoint, "--temperature", "0") == greedy  # greedy stays the default


def test_top_k_with_temperature_zero_is_still_refused(capsys, checkpoint):
    assert (
        main(["generate", "--checkpoint", checkpoint, "--backend", "numpy", "--temperature", "0", "--top-k", "5"]) == 2
    )
    assert capsys.readouterr().err == (
        "lstm-multi generate: error: top_k and top_p choose among sampled characters: give a temperature > 0 "
        "(greedy decoding, temperature 0, always takes the most likely one).\n"
    )


def test_predict_samples_at_temperature_one_when_top_k_is_given(checkpoint):
    from lstm_multi import get_backend, load_checkpoint
    from lstm_multi.cli.common import language_model, vocab_of
    from lstm_multi.core.sampling import resolve_temperature

    assert resolve_temperature(None) == 0.0 and resolve_temperature(None, top_k=5) == 1.0
    assert resolve_temperature(None, top_p=0.9) == 1.0 and resolve_temperature(0.5, top_k=5) == 0.5
    ckpt = load_checkpoint(checkpoint)
    get_backend("numpy")

    class Args:
        backend, impl = "numpy", None

    model, vocab = language_model(ckpt, Args), vocab_of(ckpt)
    assert model.predict("time", 20, vocab, top_k=5, seed=1) == model.predict(
        "time", 20, vocab, temperature=1.0, top_k=5, seed=1
    )
    assert model.predict("time", 20, vocab) == model.predict("time", 20, vocab, temperature=0)


def test_generate_help_says_what_the_default_temperature_is(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert (
        "--temperature TEMPERATURE 0: greedy (d2l); > 0: sample from softmax(logits / T) "
        "(default: greedy, or 1 with --top-k or --top-p)"
    ) in help_text


# --- train's first line names every model option set ---


def test_the_first_line_names_every_model_option(tmp_path, capsys):
    assert (
        main(
            [
                "train",
                *TINY,
                "--no-progress",
                "--embedding-dim",
                "4",
                "--num-layers",
                "2",
                "--dropout",
                "0.1",
                "--forget-bias",
                "1",
                "--out",
                str(tmp_path / "lm"),
            ]
        )
        == 0
    )
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        "backend numpy, scratch 2-layer LSTM (dropout 0.1, forget bias 1.0), 8 hidden units, "
        "embedding dim 4, init orthogonal, 64 training windows of 8 characters"
    )
    assert (
        main(
            [
                "train",
                *TINY,
                "--no-progress",
                "--task",
                "parentheses",
                "--head",
                "mlp",
                "--mlp-hiddens",
                "16",
                "--model",
                "gru",
                "--reset-before",
                "--bidirectional",
                "--out",
                str(tmp_path / "task"),
            ]
        )
        == 0
    )
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        "backend numpy, task parentheses, scratch bidirectional GRU (reset before), 8 hidden units, "
        "mlp head, adam lr 0.01 (constant), 64 strings of length 25"
    )


@pytest.mark.parametrize(
    "options, named",
    [
        ([], ""),
        (["--num-layers", "2"], ", init orthogonal"),
        (["--init", "xavier"], ", init xavier"),
        (["--sigma", "0.1"], ", init d2l (sigma 0.1)"),
        (["--init", "d2l"], ", init d2l (sigma 0.01)"),
    ],
)
def test_init_and_sigma_choose_the_scratch_initialisation(tmp_path, capsys, options, named):
    from lstm_multi import load_checkpoint
    from lstm_multi.core.family import init_layer_params

    assert main(["train", *TINY, "--no-progress", *options, "--out", str(tmp_path)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    layers = "2-layer LSTM" if "--num-layers" in options else "LSTM"
    assert first == f"backend numpy, scratch {layers}, 8 hidden units{named}, 64 training windows of 8 characters"
    ckpt = load_checkpoint(tmp_path / "model.safetensors")
    init = options[1] if options[:1] == ["--init"] else None
    sigma = float(options[1]) if options[:1] == ["--sigma"] else None
    drawn = init_layer_params(ckpt.config, sigma, seed=0, init=init)
    assert ckpt.hparams["run"]["init"] == init and ckpt.hparams["run"]["sigma"] == sigma
    assert set(drawn) <= set(ckpt.params)  # trained one epoch from that draw: the same names and shapes
    assert all(drawn[k].shape == ckpt.params[k].shape for k in drawn)


def test_init_is_refused_for_a_native_layer(tmp_path, capsys):
    assert main(["train", *TINY, "--impl", "concise", "--init", "xavier", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        "lstm-multi train: error: init and sigma choose the initialisation of the scratch layers; the native "
        "LSTM (impl 'concise') starts from its framework's own. Leave them out (None) or use impl 'scratch'.\n"
    )


def test_describe_model_adds_the_forget_bias():
    from lstm_multi.cli.common import describe_model

    assert describe_model(LayerConfig("lstm", 3, 4)) == "LSTM"
    assert describe_model(LayerConfig("lstm", 3, 4, forget_bias=1.0)) == "LSTM (forget bias 1.0)"
    assert (
        describe_model(LayerConfig("lstm", 3, 4, num_layers=2, peephole="full", forget_bias=0.5))
        == "2-layer LSTM (peephole: full, forget bias 0.5)"
    )
    assert describe_model(LayerConfig("gru", 3, 4)) == "GRU (reset after)"


# --- the progress bar reads like the epoch line ---


def test_the_progress_bar_postfix_reads_like_the_epoch_line():
    record = EpochRecord(3, math.log(6.86), math.log(7.36), 1.0)
    assert record.summary() == "train ppl    6.86  val ppl    7.36"  # the epoch line, aligned
    assert record.summary(compact=True) == "train ppl 6.86, val ppl 7.36"
    assert EpochRecord(1, math.log(6.86), None, 1.0).summary(compact=True) == "train ppl 6.86, val ppl -"
    task = EpochRecord(1, 0.5, 0.25, 1.0, {"val_accuracy": 0.75}, language_model=False)
    assert task.summary() == "train loss 0.5000  val loss 0.2500  val_accuracy 0.7500"
    assert task.summary(compact=True) == "train loss 0.5000, val loss 0.2500, val_accuracy 0.7500"


@pytest.mark.parametrize("task", ["lm", "parentheses"])
def test_the_progress_bar_shows_the_epoch_summary(tmp_path, capsys, task):
    import json

    assert main(["train", *TINY, "--task", task, "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    bar = re.findall(r"training: +100%[^\r\n]*", err)[-1]  # the bar's last state
    record = EpochRecord.from_dict(json.loads((tmp_path / "history.json").read_text())[0])
    expected = (
        f"train ppl {record.train_ppl:.2f}, val ppl {record.val_ppl:.2f}"
        if task == "lm"
        else "train loss {:.4f}, val loss {:.4f}, val_accuracy {:.4f}".format(
            record.train_loss, record.val_loss, record.metrics["val_accuracy"]
        )
    )
    assert bar.rstrip().endswith(f", {expected}]"), bar
    assert ", ," not in err


# --- without matplotlib: train trains and saves, gates says what it needs ---

#: Runs the command line in a process where ``import matplotlib`` fails, as when it is not installed.
WITHOUT_MATPLOTLIB = """
import sys

class BlockMatplotlib:
    def find_spec(self, name, path=None, target=None):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, BlockMatplotlib())
from lstm_multi.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_without_matplotlib(*args):
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_MATPLOTLIB, *args], capture_output=True, text=True, env=env, timeout=600
    )


def test_train_without_matplotlib_skips_the_figures(tmp_path):
    out = tmp_path / "lm"
    proc = run_without_matplotlib("train", *TINY, "--no-progress", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == (
        f"lstm-multi train: curve.png not drawn: it needs matplotlib, which is not installed: {HINT}.\n"
    )
    assert (out / "model.safetensors").is_file() and (out / "history.json").is_file()
    assert not (out / "curve.png").exists()
    wrote = next(line for line in proc.stdout.splitlines() if line.startswith("wrote "))
    assert wrote == (
        f"wrote {out / 'model.safetensors'} (last epoch), {out / 'best.safetensors'} "
        f"(best validation), {out / 'history.json'}"
    )

    task = tmp_path / "timeseries"
    proc = run_without_matplotlib("train", *TINY, "--no-progress", "--task", "timeseries", "--out", str(task))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == (
        "lstm-multi train: curve.png and forecasts.png not drawn: it needs matplotlib, which "
        f"is not installed: {HINT}.\n"
    )
    assert (task / "model.safetensors").is_file() and not list(task.glob("*.png"))

    proc = run_without_matplotlib(
        "gates",
        "--checkpoint",
        str(out / "model.safetensors"),
        "--backend",
        "numpy",
        "--out",
        str(tmp_path / "gates.png"),
    )
    assert proc.returncode == 2
    assert proc.stderr == (
        f"lstm-multi gates: error: gates draws its heatmaps with matplotlib, which is not installed: {HINT}.\n"
    )


def test_plotting_without_matplotlib_says_how_to_get_it(monkeypatch, tmp_path):
    from lstm_multi import plot_history

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    with pytest.raises(ModuleNotFoundError) as err:
        plot_history([EpochRecord(1, 1.0, 1.0, 0.1)], tmp_path / "curve.png")
    assert str(err.value) == f"drawing figures needs matplotlib, which is not installed: {HINT}."


# --- the package: one module per command, none importing another ---


def imported_modules(path: Path) -> set[str]:
    """The modules of lstm_multi.cli that ``path`` imports (anywhere in it, functions included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:  # from .x import ..., from . import x
            names.update([node.module] if node.module else [a.name for a in node.names])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lstm_multi.cli"):
            names.add(node.module.split(".")[2] if node.module.count(".") > 1 else "__init__")
    return names


def test_commands_import_common_never_each_other():
    modules = {p.stem: imported_modules(p) for p in CLI.glob("*.py")}
    commands = [module_of(name) for name in COMMANDS]
    assert set(commands) | {"common", "train_task"} <= set(modules)
    assert modules["common"] == set()  # common imports no command
    for name in commands:
        assert modules[name] <= {"common", "train_task"}, f"cli/{name}.py imports {modules[name]}"
    assert modules["train_task"] == {"common"}
    distributed = (CLI.parent / "backends" / "torch" / "distributed.py").read_text()
    assert "cli" not in {
        n
        for node in ast.walk(ast.parse(distributed))
        if isinstance(node, ast.ImportFrom)
        for n in (node.module or "").split(".")
    }


def test_python_dash_m_runs_the_command_line():
    proc = subprocess.run(
        [sys.executable, "-m", "lstm_multi.cli", "--version"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and proc.stdout.startswith("lstm-multi ")
