"""Checkpoints: canonical safetensors, atomic writes, clear errors for bad files."""

import json
import os
import struct

import numpy as np
import pytest

from lstm_multi.core.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from lstm_multi.core.params import init_params

VOCAB = [" ", "<unk>", "a", "b"]


def params(h=3, seed=0):
    return init_params(len(VOCAB), h, len(VOCAB), sigma=0.3, seed=seed)


def test_round_trip(tmp_path):
    path = save_checkpoint(tmp_path / "sub" / "m.safetensors", params(), VOCAB, {"lr": 4.0, "impl": "scratch"})
    ckpt = load_checkpoint(path)
    assert ckpt.vocab == VOCAB and ckpt.hparams == {"lr": 4.0, "impl": "scratch"}
    assert list(ckpt.params) == list(params())  # canonical order
    for name, value in params().items():
        np.testing.assert_array_equal(ckpt.params[name], value)
    assert os.listdir(tmp_path / "sub") == ["m.safetensors"]  # no temporary file left


def test_crash_mid_save_keeps_previous_file(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "m.safetensors", params(seed=1), VOCAB)
    before = path.read_bytes()

    def crash(src, dst):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, params(seed=2), VOCAB)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.safetensors"]


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "x.safetensors"
    path.write_text("hello, this is text")
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert str(err.value) == f"{path} is not a checkpoint: not a safetensors file (bad header)."
    path.write_bytes(b"abc")
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert str(err.value) == f"{path} is not a checkpoint: only 3 bytes."
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path / "missing.safetensors")
    assert str(err.value) == f"Checkpoint {str(tmp_path / 'missing.safetensors')!r} does not exist."


def test_foreign_safetensors_file(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "other.safetensors"
    save_file({"w": np.zeros(2, np.float32)}, str(path))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert str(err.value) == (
        f"{path} is a safetensors file but not an lstm-multi checkpoint (no 'format: lstm-multi' in its metadata)."
    )


def test_truncated_file(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", params(), VOCAB)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match=f"^{path} is a corrupt checkpoint: "):
        load_checkpoint(path)


def test_missing_extra_and_misshaped_tensors(tmp_path):
    bad = params()
    del bad["W_hc"]
    bad["b_q"] = np.zeros(5, np.float32)
    bad["extra"] = np.zeros(1, np.float32)
    path = save_checkpoint(tmp_path / "m.safetensors", bad, VOCAB)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert str(err.value) == (
        f"{path}: Parameters do not fit this checkpoint (LSTM, vocabulary of 4): "
        "missing W_hc; unexpected extra; b_q has shape (5,), expected (4,)."
    )


def test_other_version(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", params(), VOCAB)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    header["__metadata__"]["version"] = "99"
    new = json.dumps(header, separators=(",", ":")).encode()
    new += b" " * (n - len(new)) if len(new) <= n else b""
    assert len(new) == n
    path.write_bytes(raw[:8] + new + raw[8 + n :])
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert str(err.value) == f"{path} has checkpoint version '99'; this lstm-multi reads version 1."


def test_family_checkpoint_records_its_model(tmp_path):
    from lstm_multi.core.family import LayerConfig
    from lstm_multi.core.lm import lm_shapes

    config = LayerConfig("gru", 3, 4, num_layers=2, reset_after=False)
    rng = np.random.default_rng(0)
    params = {k: rng.standard_normal(s).astype(np.float32) for k, s in lm_shapes(config, 5, 3).items()}
    path = save_checkpoint(
        tmp_path / "m.safetensors",
        params,
        ["<unk>", "a", "b", "c", " "],
        {"model": config.to_dict(), "embedding_dim": 3},
    )
    ckpt = load_checkpoint(path)
    assert ckpt.config == config and ckpt.embedding_dim == 3
    assert list(ckpt.params) == list(lm_shapes(config, 5, 3))


def test_non_finite_parameters_are_never_saved_nor_loaded(tmp_path):
    bad = params()
    bad["W_hq"][0, 0] = np.nan
    with pytest.raises(CheckpointError) as err:
        save_checkpoint(tmp_path / "bad.safetensors", bad, VOCAB)
    assert str(err.value) == (
        f"Refusing to save {tmp_path / 'bad.safetensors'}: W_hq hold NaN or infinity (training diverged)."
    )
    assert not (tmp_path / "bad.safetensors").exists()
    from safetensors.numpy import save_file

    bad["W_hq"][0, 0] = np.inf
    path = tmp_path / "forged.safetensors"
    save_file(
        bad, str(path), metadata={"format": "lstm-multi", "version": "1", "vocab": json.dumps(VOCAB), "hparams": "{}"}
    )
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert str(err.value) == (
        f"{path} holds NaN or infinity in W_hq: the model it saved had diverged. Use an earlier checkpoint."
    )


def test_checkpoint_follows_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = save_checkpoint(tmp_path / "m.safetensors", params(), VOCAB)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
