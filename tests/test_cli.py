"""The command line end to end: train writes a checkpoint, history and curve; generate reads it."""

import json

import pytest

from lstm_multi.cli import main
from lstm_multi.core.checkpoint import load_checkpoint

SMALL = ["--hidden", "16", "--epochs", "2", "--batch-size", "128", "--num-steps", "8",
         "--num-train", "512", "--num-val", "256", "--no-progress"]


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

    assert main(["generate", "--checkpoint", str(out / "model.safetensors"), "--backend", bk.NAME,
                 "--prefix", "the time", "--num-preds", "12"]) == 0
    text = capsys.readouterr().out.rstrip("\n")
    assert text.startswith("the time") and len(text) == 20
    sample = printed.split("sample: ")[1].splitlines()[0].strip("'")
    assert main(["generate", "--checkpoint", str(out / "model.safetensors"), "--backend", bk.NAME,
                 "--num-preds", "50"]) == 0
    assert capsys.readouterr().out.rstrip("\n") == sample  # greedy: the sample printed after training

    # continue training from the checkpoint
    assert main(["train", "--backend", bk.NAME, "--impl", impl, *SMALL, "--out", str(tmp_path / "more"),
                 "--init-from", str(out / "model.safetensors")]) == 0
    capsys.readouterr()


def test_cli_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_text("not a checkpoint at all")
    assert main(["generate", "--checkpoint", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == (f"lstm-multi generate: error: {bad} is not a checkpoint: "
                   "not a safetensors file (bad header).\n")
    assert main(["train", "--text", str(tmp_path / "none.txt"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err == (f"lstm-multi train: error: Text file {str(tmp_path / 'none.txt')!r} does not "
                   "exist or is not a file.\n")


def test_argument_validation(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--backend", "theano"])
    assert exit_.value.code == 2
    assert "argument --backend: invalid choice: 'theano'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--lr", "-1"])
    assert "argument --lr: must be a positive number, got -1" in capsys.readouterr().err
