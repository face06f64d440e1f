"""The command line end to end: train writes a checkpoint, history and curve; generate reads it."""

import json

import pytest

from lstm_multi.cli import main
from lstm_multi.core.checkpoint import load_checkpoint

SMALL = [
    "--hidden",
    "16",
    "--epochs",
    "2",
    "--batch-size",
    "128",
    "--num-steps",
    "8",
    "--num-train",
    "512",
    "--num-val",
    "256",
    "--no-progress",
]


def test_train_then_generate(bk, impl, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--backend", bk.NAME, "--impl", impl, *SMALL, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"backend {bk.NAME}, {impl} LSTM, 16 hidden units" in printed
    assert "epoch   2  train ppl" in printed and "sample: 'time traveller" in printed
    history = json.loads((out / "history.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2]
    assert (out / "curve.png").read_bytes()[:4] == b"\x89PNG"
    ckpt = load_checkpoint(out / "model.safetensors")
    assert ckpt.hparams["impl"] == impl and ckpt.hparams["backend"] == bk.NAME
    assert ckpt.params["W_hq"].shape == (16, 28)

    assert (
        main(
            [
                "generate",
                "--checkpoint",
                str(out / "model.safetensors"),
                "--backend",
                bk.NAME,
                "--prefix",
                "the time",
                "--num-preds",
                "12",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out.rstrip("\n")
    assert text.startswith("the time") and len(text) == 20
    sample = printed.split("sample: ")[1].splitlines()[0].strip("'")
    assert (
        main(["generate", "--checkpoint", str(out / "model.safetensors"), "--backend", bk.NAME, "--num-preds", "50"])
        == 0
    )
    assert capsys.readouterr().out.rstrip("\n") == sample  # greedy: the sample printed after training

    # continue training from the checkpoint
    assert (
        main(
            [
                "train",
                "--backend",
                bk.NAME,
                "--impl",
                impl,
                *SMALL,
                "--out",
                str(tmp_path / "more"),
                "--init-from",
                str(out / "model.safetensors"),
            ]
        )
        == 0
    )
    capsys.readouterr()


def test_cli_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_text("not a checkpoint at all")
    assert main(["generate", "--checkpoint", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == (f"lstm-multi generate: error: {bad} is not a checkpoint: not a safetensors file (bad header).\n")
    assert main(["train", "--text", str(tmp_path / "none.txt"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"lstm-multi train: error: Text file {str(tmp_path / 'none.txt')!r} does not exist or is not a file.\n"
    )

    assert main(["train", "--backend", "numpy", "--jit-compile", "--no-progress"]) == 2
    assert capsys.readouterr().err == (
        "lstm-multi train: error: --jit-compile has XLA compile the steps of TensorFlow's scratch layers "
        "(--backend tensorflow --impl scratch), not --backend numpy --impl scratch.\n"
    )
    assert main(["train", "--backend", "tensorflow", "--jit-compile", "--workers", "2", "--no-progress"]) == 2
    assert capsys.readouterr().err == (
        "lstm-multi train: error: --jit-compile trains on one worker; leave out --workers or --jit-compile.\n"
    )


def test_argument_validation(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--backend", "theano"])
    assert exit_.value.code == 2
    assert "argument --backend: invalid choice: 'theano'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--lr", "-1"])
    assert "argument --lr: must be a positive number, got -1" in capsys.readouterr().err


TINY = [
    "--hidden",
    "8",
    "--batch-size",
    "32",
    "--num-steps",
    "6",
    "--num-train",
    "128",
    "--num-val",
    "64",
    "--no-progress",
]


@pytest.mark.parametrize("optimizer", [[], ["--optimizer", "adam", "--lr", "0.01"]], ids=["sgd", "adam"])
def test_resume_continues_a_run_exactly(bk, tmp_path, capsys, optimizer):
    """2 epochs, then --resume to 4, give the per-epoch losses of 4 uninterrupted epochs (Adam's
    moments and step count travel in the checkpoint)."""
    whole, part = tmp_path / "whole", tmp_path / "part"
    assert main(["train", "--backend", bk.NAME, *TINY, *optimizer, "--epochs", "4", "--out", str(whole)]) == 0
    assert main(["train", "--backend", bk.NAME, *TINY, *optimizer, "--epochs", "2", "--out", str(part)]) == 0
    if optimizer:
        state = load_checkpoint(part / "model.safetensors").optimizer
        assert state["name"] == "adam" and state["step"] > 0 and list(state["slots"]) == ["m", "v"]
    assert main(["train", "--backend", bk.NAME, "--resume", str(part), "--epochs", "4", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "epoch   3  train ppl" in printed and "epoch   1  train ppl" in printed
    expected = json.loads((whole / "history.json").read_text())
    got = json.loads((part / "history.json").read_text())
    assert [r["epoch"] for r in got] == [1, 2, 3, 4]
    for r, e in zip(got, expected):
        assert r["train_loss"] == pytest.approx(e["train_loss"], rel=1e-5)
        assert r["val_loss"] == pytest.approx(e["val_loss"], rel=1e-5)
    best = load_checkpoint(part / "best.safetensors")
    best_epoch = min(got, key=lambda r: r["val_loss"])["epoch"]
    assert best.hparams["epochs"] == best_epoch
    assert main(["train", "--backend", bk.NAME, "--resume", str(part), "--epochs", "3"]) == 2
    assert capsys.readouterr().err == (
        f"lstm-multi train: error: {part / 'model.safetensors'} has already "
        "trained 4 epochs; ask for more with --epochs (e.g. --epochs 14).\n"
    )


def test_family_options_reach_the_checkpoint(bk, tmp_path, capsys):
    out = tmp_path / "gru"
    assert (
        main(
            [
                "train",
                "--backend",
                bk.NAME,
                *TINY,
                "--epochs",
                "1",
                "--model",
                "gru",
                "--num-layers",
                "2",
                "--reset-before",
                "--embedding-dim",
                "5",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "scratch 2-layer GRU (reset before), 8 hidden units" in capsys.readouterr().out
    ckpt = load_checkpoint(out / "model.safetensors")
    assert (ckpt.config.cell, ckpt.config.num_layers, ckpt.config.reset_after) == ("gru", 2, False)
    assert ckpt.embedding_dim == 5 and ckpt.params["W_e"].shape == (28, 5)
    assert (
        main(["generate", "--checkpoint", str(out / "model.safetensors"), "--backend", bk.NAME, "--num-preds", "5"])
        == 0
    )
    assert len(capsys.readouterr().out.rstrip("\n")) == len("time traveller") + 5
    assert main(["train", "--backend", bk.NAME, *TINY, "--model", "rnn", "--peephole"]) == 2
    assert capsys.readouterr().err == (
        "lstm-multi train: error: --peephole and --forget-bias are LSTM options, not RNN ones.\n"
    )


def run_cli(*args, env=None, **kwargs):
    import os
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "lstm_multi.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
        **kwargs,
    )


def test_diverging_training_is_one_clear_line(bk, tmp_path, capfd):
    """In this process (capfd reads file descriptors 1 and 2: a framework's own C++ log
    lines would show too)."""
    capfd.readouterr()
    args = ["train", "--backend", bk.NAME, *TINY, "--epochs", "2", "--lr", "100000", "--out", str(tmp_path / "run")]
    assert main(args) == 2
    stderr = capfd.readouterr().err
    assert stderr.startswith("lstm-multi train: error: Training diverged at epoch 1: the ")
    assert stderr.count("\n") == 1 and "Traceback" not in stderr


def test_unusable_out_fails_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = run_cli("train", "--backend", "numpy", *TINY, "--out", str(blocker / "run"))
    assert proc.returncode == 2
    assert proc.stderr == f"lstm-multi train: error: --out {blocker / 'run'}: {blocker} is a file, not a directory.\n"
    proc = run_cli("train", "--backend", "numpy", *TINY, "--out", str(blocker))
    assert proc.stderr == f"lstm-multi train: error: --out {blocker} exists and is not a directory.\n"
    proc = run_cli("parity", "--backends", "numpy", "--json", str(tmp_path / "no" / "rows.json"))
    assert proc.stderr == (
        f"lstm-multi parity: error: --json {tmp_path / 'no' / 'rows.json'}: the directory "
        f"{tmp_path / 'no'} does not exist.\n"
    )
    proc = run_cli("bench", "--out", str(blocker))
    assert proc.stderr == f"lstm-multi bench: error: --out {blocker} exists and is not a directory.\n"


def test_ctrl_c_keeps_finished_epochs_and_says_how_to_resume(bk, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lstm_multi.cli",
            "train",
            "--backend",
            bk.NAME,
            *TINY,
            "--epochs",
            "100000",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 300
    while not (out / "history.json").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    done = len(json.loads((out / "history.json").read_text()))
    assert done >= 1
    ckpt = load_checkpoint(out / "model.safetensors")
    assert ckpt.training["epoch"] == done
    assert f"stopped by Ctrl-C: the last finished epoch ({done}) is saved in {out / 'model.safetensors'}" in err
    assert f"resume with: lstm-multi train --resume {out} --epochs 100000" in err


TASK_SMALL = ["--hidden", "8", "--epochs", "2", "--no-progress"]


def test_parentheses_task(bk, tmp_path, capsys):
    out = tmp_path / "paren"
    assert (
        main(
            [
                "train",
                "--task",
                "parentheses",
                "--backend",
                bk.NAME,
                *TASK_SMALL,
                "--length",
                "8",
                "--num-train",
                "200",
                "--num-val",
                "100",
                "--batch-size",
                "50",
                "--head",
                "mlp",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert f"backend {bk.NAME}, task parentheses, scratch LSTM, 8 hidden units, mlp head, adam lr 0.01" in printed
    assert "validation accuracy" in printed and "(chance: 0.5)" in printed
    history = json.loads((out / "history.json").read_text())
    assert [sorted(r) for r in history] == [["epoch", "seconds", "train_loss", "val_accuracy", "val_loss"]] * 2
    ckpt = load_checkpoint(out / "model.safetensors")
    assert ckpt.hparams["task"] == {"name": "parentheses", "head": "mlp", "mlp_hiddens": 32, "num_outputs": 2}
    assert ckpt.params["W_out"].shape == (32, 2) and ckpt.optimizer["step"] == 8
    assert main(["generate", "--checkpoint", str(out / "model.safetensors")]) == 2
    assert "holds a parentheses model, which does not generate text" in capsys.readouterr().err


def test_timeseries_task(bk, tmp_path, capsys):
    out = tmp_path / "sine"
    assert (
        main(["train", "--task", "timeseries", "--backend", bk.NAME, "--model", "gru", *TASK_SMALL, "--out", str(out)])
        == 0
    )
    printed = capsys.readouterr().out
    assert "linear autoregression AR(4) 0.0441; noise floor 0.0400" in printed
    assert "adam lr 0.005 (cosine)" in printed  # the task's defaults
    history = json.loads((out / "history.json").read_text())
    assert history[-1]["val_mse"] == pytest.approx(history[-1]["val_loss"], rel=1e-5)
    assert (out / "forecasts.png").read_bytes()[:4] == b"\x89PNG"


def test_task_options_are_checked(capsys):
    assert main(["train", "--bidirectional", "--no-progress"]) == 2
    assert "--bidirectional and --head are options of the tasks" in capsys.readouterr().err


def test_gates(bk, tmp_path, capsys):
    out = tmp_path / "lm"
    assert main(["train", "--backend", bk.NAME, *TINY, "--epochs", "1", "--num-layers", "2", "--out", str(out)]) == 0
    capsys.readouterr()
    figure = tmp_path / "gates.png"
    assert (
        main(
            [
                "gates",
                "--checkpoint",
                str(out / "model.safetensors"),
                "--backend",
                bk.NAME,
                "--text",
                "The cat",
                "--layer",
                "1",
                "--print",
                "--out",
                str(figure),
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["step", "token", "i", "f", "o", "c_tilde", "C", "H"]
    assert [line.split()[1] for line in lines[1:]] == ["'t'", "'h'", "'e'", "'", "'c'", "'a'", "'t'"]
    assert figure.read_bytes()[:4] == b"\x89PNG"
    assert (
        main(
            [
                "gates",
                "--checkpoint",
                str(out / "model.safetensors"),
                "--backend",
                bk.NAME,
                "--layer",
                "2",
                "--out",
                str(figure),
            ]
        )
        == 2
    )
    assert "layer must lie in [0, 2) for this 2-layer model, got 2." in capsys.readouterr().err
