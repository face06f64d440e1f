"""Corpora larger than memory: ``prepare`` writes the tokens ``--text`` would see, ``TokenFile``
reads the batches ``TimeMachine`` gives on the same windows, resumes exactly, stays within a
memory bound; a full disk and a run folder in use are one clear line each.

The framework-neutral tests run on the NumPy backend; ``test_same_batches_on_every_backend``
runs on each installed one.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest
from conftest import assert_close

from lstm_multi.cli import main
from lstm_multi.core import checkpoint as checkpoint_module
from lstm_multi.core import tokenfile
from lstm_multi.core.checkpoint import load_checkpoint
from lstm_multi.core.data import CorpusError, TimeMachine, build_corpus, read_time_machine
from lstm_multi.core.lm import build_model
from lstm_multi.core.runlock import LOCK_FILE, RunInUseError, RunLock
from lstm_multi.core.text import preprocess, preprocess_utf8
from lstm_multi.core.tokenfile import TokenFile, WriteError, prepare, read_meta, token_dtype
from lstm_multi.core.trainer import Trainer

# one pytest-xdist worker runs this module: its tests share the module's fixtures
pytestmark = pytest.mark.xdist_group("tokenfile")

TINY = ["--backend", "numpy", "--hidden", "8", "--batch-size", "32", "--num-steps", "8", "--no-progress"]
UNICODE = "Ünïcode — 漢字 and «quotes»,\tTabs\nnew  lines. Ünïcode again; 漢字!\n"


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The first 6000 characters of The Time Machine, as a file and prepared (10% validation)."""
    folder = tmp_path_factory.mktemp("small")
    text = folder / "start.txt"
    text.write_text(read_time_machine()[:6000])
    prepare(text, folder / "data", val_fraction=0.1)
    return text, folder / "data"


@pytest.fixture(scope="module")
def time_machine(tmp_path_factory):
    """The Time Machine as a file and prepared (characters, d2l), with 5% validation."""
    folder = tmp_path_factory.mktemp("tm")
    text = folder / "timemachine.txt"
    text.write_text(read_time_machine())
    prepare(text, folder / "data")
    return text, folder / "data"


def all_ids(data_dir):
    meta = read_meta(data_dir)
    return np.concatenate([np.fromfile(data_dir / name, dtype=meta["dtype"]) for name in ("train.bin", "val.bin")])


# --- prepare: the tokens of build_corpus, read in chunks ---


def test_preprocess_utf8_is_preprocess_in_chunks():
    raw = (read_time_machine()[:5000] + UNICODE * 3).encode()
    cuts = [0, 1, 7, 8, 100, 2000, 2001, 5003, 5004, 5010, len(raw)]  # inside words, runs and characters
    after, pieces = True, []
    for a, b in zip(cuts, cuts[1:]):
        clean = preprocess_utf8(np.frombuffer(raw[a:b], np.uint8), after)
        after = bool(clean[-1] != ord(" ")) if len(clean) else after
        pieces.append(clean.tobytes().decode("ascii"))
    assert "".join(pieces) == preprocess(raw.decode())


@pytest.mark.parametrize("tokens", ["char", "word"])
@pytest.mark.parametrize("preprocessing", ["d2l", "none"])
def test_prepare_writes_the_tokens_of_build_corpus(tmp_path, monkeypatch, tokens, preprocessing):
    monkeypatch.setattr(tokenfile, "CHUNK_BYTES", 999)  # chunks cut words and UTF-8 characters
    folder = tmp_path / "books"
    (folder / "b").mkdir(parents=True)
    parts = [read_time_machine()[:6000], UNICODE * 40, read_time_machine()[-3000:]]
    for name, part in zip(["a.txt", "b/c.txt", "d.txt"], parts):
        (folder / name).write_text(part)
    (folder / "notes.md").write_text("not a *.txt: left out")
    meta = prepare(folder, tmp_path / "data", tokens=tokens, preprocessing=preprocessing, val_fraction=0.1)
    min_freq = 2 if tokens == "word" else 0  # the default
    expected, vocab = build_corpus("".join(parts), preprocessing=preprocessing, tokens=tokens, min_freq=min_freq)
    assert meta["vocab"] == vocab.idx_to_token
    assert meta["min_freq"] == min_freq and meta["dtype"] == "uint8"
    assert all_ids(tmp_path / "data").tolist() == expected
    assert meta["val_tokens"] == round(len(expected) * 0.1)
    assert meta["source"]["files"] == [str(folder / n) for n in ["a.txt", "b/c.txt", "d.txt"]]
    assert meta["source"]["bytes"] == sum(len(p.encode()) for p in parts)


def test_rare_characters_are_unk(tmp_path):
    text = read_time_machine()[:3000] + "Ωmega ∑ 漢"
    (tmp_path / "a.txt").write_text(text)
    meta = prepare(tmp_path / "a.txt", tmp_path / "data", preprocessing="none", min_freq=3)
    expected, vocab = build_corpus(text, preprocessing="none", min_freq=3)
    assert meta["vocab"] == vocab.idx_to_token and "Ω" not in meta["vocab"]
    assert all_ids(tmp_path / "data").tolist() == expected
    assert expected[-9] == expected[-3] == expected[-1] == vocab.unk  # Ω, ∑, 漢


def test_token_type_is_the_smallest_that_fits():
    assert [token_dtype(n).name for n in (2, 256, 257, 65536, 65537)] == [
        "uint8",
        "uint8",
        "uint16",
        "uint16",
        "uint32",
    ]
    with pytest.raises(CorpusError) as err:
        token_dtype(2**32 + 1)
    assert str(err.value) == (
        "A vocabulary of 4294967297 tokens does not fit uint32 token ids (at most 4294967296). "
        "Raise --min-freq to map rare tokens to <unk>."
    )


def test_word_vocabulary_over_256_is_uint16(tmp_path):
    text = tmp_path / "w.txt"
    text.write_text(" ".join(f"w{i:03d}" for i in range(300)) + "\n" + " ".join(f"w{i:03d}" for i in range(300)))
    meta = prepare(text, tmp_path / "data", tokens="word", preprocessing="none")
    assert meta["dtype"] == "uint16" and len(meta["vocab"]) == 301
    assert all_ids(tmp_path / "data").max() == 300


# --- TokenFile: the batches of TimeMachine on the same windows ---


def test_batches_are_timemachines_on_the_same_windows(small):
    text, data_dir = small
    meta = read_meta(data_dir)
    num_steps, windows = 10, meta["train_tokens"] - 10  # every window of train.bin
    ours = TokenFile(data_dir, 512, num_steps, num_train=windows, num_val=200, seed=3)
    theirs = TimeMachine(512, num_steps, num_train=windows, num_val=10, text=text, seed=3)
    assert ours.vocab.idx_to_token == theirs.vocab.idx_to_token
    for _ in range(2):  # two epochs: the generator goes on alike
        for (X, Y), (X2, Y2) in zip(ours.train_dataloader(), theirs.train_dataloader(), strict=True):
            assert X.dtype == X2.dtype == np.int32
            np.testing.assert_array_equal(X, X2)
            np.testing.assert_array_equal(Y, Y2)
    # validation: evenly spread windows of val.bin; all of them when num_val is every window
    every = meta["val_tokens"] - num_steps
    ours = TokenFile(data_dir, 512, num_steps, num_train=10, num_val=every)
    after_train = TimeMachine(512, num_steps, num_train=meta["train_tokens"], num_val=every, text=text)
    for (X, Y), (X2, Y2) in zip(ours.val_dataloader(), after_train.val_dataloader(), strict=True):
        np.testing.assert_array_equal(X, X2)
        np.testing.assert_array_equal(Y, Y2)


def test_training_gives_the_numbers_of_text(small):
    """The same windows, the same model: every epoch's training loss equal, bit for bit."""
    text, data_dir = small
    windows = read_meta(data_dir)["train_tokens"] - 8
    losses = []
    from lstm_multi import get_backend

    bk = get_backend("numpy")
    for data in (
        TimeMachine(1024, 8, num_train=windows, num_val=0, text=text, seed=5),
        TokenFile(data_dir, 1024, 8, num_train=windows, num_val=0, seed=5),
    ):
        model = build_model(bk, "scratch", len(data.vocab), 8, lr=1.0, seed=2)
        losses.append([r.train_loss for r in Trainer(2, gradient_clip_val=1.0).fit(model, data)])
    assert losses[0] == losses[1]


def test_epochs_sample_without_replacement_and_workers_read_their_rows(time_machine):
    _, data_dir = time_machine
    data = TokenFile(data_dir, 64, 16, num_train=640, num_val=64, seed=0)
    first, second = data.window_starts(True), data.window_starts(True)
    assert len(set(first.tolist())) == 640 and first.max() < data.num_windows["train.bin"]
    assert not np.array_equal(np.sort(first), np.sort(second))  # a new sample each epoch
    X, Y = next(TokenFile(data_dir, 64, 16, num_train=640, num_val=64, seed=0).get_dataloader(True))
    worker = TokenFile(data_dir, 64, 16, num_train=640, num_val=64, seed=0)
    worker.local_blocks = (4, range(2, 3))  # worker 2 of 4: rows 32..47 only
    X2, Y2 = next(worker.get_dataloader(True))
    np.testing.assert_array_equal(X2[32:48], X[32:48])
    np.testing.assert_array_equal(Y2[32:48], Y[32:48])
    assert not X2[:32].any() and not X2[48:].any()
    Xv, _ = next(worker.get_dataloader(False))  # every worker validates on whole batches
    assert Xv[:32].any() and Xv[48:].any()


def test_resume_continues_exactly(time_machine, tmp_path):
    _, data_dir = time_machine
    options = [*TINY, "--data", str(data_dir), "--num-train", "128", "--num-val", "64"]
    assert main(["train", *options, "--epochs", "3", "--out", str(tmp_path / "straight")]) == 0
    assert main(["train", *options, "--epochs", "1", "--out", str(tmp_path / "resumed")]) == 0
    assert (
        main(["train", "--backend", "numpy", "--resume", str(tmp_path / "resumed"), "--epochs", "3", "--no-progress"])
        == 0
    )
    straight, resumed = (json.loads((tmp_path / run / "history.json").read_text()) for run in ("straight", "resumed"))
    assert straight[0] == {**resumed[0], "seconds": straight[0]["seconds"]}
    # the NumPy reference trains in float64 and checkpoints hold float32: equal to float32 round-off
    losses = [[[r["train_loss"], r["val_loss"]] for r in run] for run in (straight, resumed)]
    assert_close(losses[1], losses[0], atol=0, rtol=1e-6, what="losses resumed after epoch 1")
    ckpt = load_checkpoint(tmp_path / "resumed" / "model.safetensors")
    assert ckpt.hparams["run"]["data"] == str(data_dir)
    assert ckpt.hparams["data_sha256"] == read_meta(data_dir)["source"]["sha256"]


def test_resume_refuses_a_corpus_prepared_again_from_other_text(tmp_path, capsys):
    book = read_time_machine()
    (tmp_path / "a.txt").write_text(book[:8000])
    prepare(tmp_path / "a.txt", tmp_path / "data")
    options = [*TINY, "--data", str(tmp_path / "data"), "--num-train", "64", "--num-val", "32"]
    assert main(["train", *options, "--epochs", "1", "--out", str(tmp_path / "run")]) == 0
    (tmp_path / "b.txt").write_text(book[8000:16000])  # the same vocabulary, another text
    prepare(tmp_path / "b.txt", tmp_path / "data")
    capsys.readouterr()
    assert (
        main(["train", "--backend", "numpy", "--resume", str(tmp_path / "run"), "--epochs", "2", "--no-progress"]) == 2
    )
    now = read_meta(tmp_path / "data")["source"]["sha256"]
    trained = load_checkpoint(tmp_path / "run" / "model.safetensors").hparams["data_sha256"]
    assert capsys.readouterr().err == (
        f"lstm-multi train: error: {tmp_path / 'run'} was trained on a corpus with SHA-256 {trained[:12]}..., "
        f"but {tmp_path / 'data'} was prepared from another text ({now[:12]}...); resuming needs the same "
        "corpus.\n"
    )


def test_same_batches_on_every_backend(bk, time_machine):
    """One seed, one corpus: each backend's epoch losses are the NumPy reference's (float32)."""
    from lstm_multi import get_backend

    if bk.NAME == "numpy":
        pytest.skip("the reference itself")
    _, data_dir = time_machine
    losses = {}
    for backend in {"numpy", bk.NAME}:
        data = TokenFile(data_dir, 32, 8, num_train=96, num_val=32, seed=7)
        model = build_model(get_backend(backend), "scratch", len(data.vocab), 8, lr=2.0, seed=1)
        history = Trainer(2, gradient_clip_val=1.0).fit(model, data)
        losses[backend] = [[r.train_loss, r.val_loss] for r in history]
    assert_close(losses[bk.NAME], losses["numpy"], atol=0, rtol=2e-5, what=f"{bk.NAME} losses vs the reference")


def test_memory_stays_bounded(tmp_path, monkeypatch):
    """A 5.7 MB corpus prepared in 64 KB chunks, and an epoch read from it: the peak of Python's
    allocations (tracemalloc, which counts NumPy's buffers) is a few chunks, whatever the corpus'
    size (0.7 MB for d2l's preprocessing, 0.9 MB without, for this corpus and one twice as large)."""
    monkeypatch.setattr(tokenfile, "CHUNK_BYTES", 1 << 16)
    text = tmp_path / "big.txt"
    book = read_time_machine()
    with open(text, "w") as f:
        for i in range(32):
            f.write(book.replace("the", f"the{i % 7}"))
    size = text.stat().st_size
    assert size > 5.5e6
    tracemalloc.start()
    try:
        prepare(text, tmp_path / "data", preprocessing="none")
        prepare_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        data = TokenFile(tmp_path / "data", 256, 32, num_train=2048, num_val=512)
        batches = sum(len(X) for X, _ in data.train_dataloader()) + sum(len(X) for X, _ in data.val_dataloader())
        read_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert batches == 2560
    assert prepare_peak < 1.5e6, f"prepare's peak {prepare_peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB corpus"
    assert read_peak < 1e6, f"an epoch's peak {read_peak / 1e6:.2f} MB"


# --- bad input: one clear line each ---


def written(tmp_path, name, payload: bytes):
    path = tmp_path / name
    path.write_bytes(payload)
    return path


@pytest.mark.parametrize(
    "make,message",
    [
        (
            lambda d: written(d, "bin.txt", b"abc\0def"),
            "Text file '{d}/bin.txt' is binary, not text: a NUL byte at offset 3.",
        ),
        (
            lambda d: written(d, "latin1.txt", "é".encode() * 700 + "café au lait".encode("latin-1")),
            "Text file '{d}/latin1.txt' is not UTF-8 text: byte 0xe9 at offset 1403 (invalid continuation byte).",
        ),
        (
            lambda d: written(d, "cut.txt", "ab漢".encode()[:-1]),
            "Text file '{d}/cut.txt' is not UTF-8 text: byte 0xe6 at offset 2 (unexpected end of data).",
        ),
        (
            lambda d: written(d, "empty.txt", b"  \n 123 "),
            "'{d}/empty.txt' holds no tokens (d2l preprocessing, word tokens): nothing to train on.",
        ),
        (lambda d: d / "missing.txt", "Text file '{d}/missing.txt' does not exist or is not a file."),
        (lambda d: d, "Folder '{d}' holds no *.txt files."),
        (
            lambda d: written(d, "kanji.txt", "漢字かな。".encode() * 100),
            "'{d}/kanji.txt' has 0 letters a-z among 500 characters: d2l's preprocessing keeps only a-z and "
            "spaces. To keep the text's own characters (any language), use preprocessing='none' "
            "(lstm-multi prepare --preprocess none).",
        ),
    ],
    ids=["binary", "not-utf8", "cut-character", "empty", "missing", "no-txt", "not-latin"],
)
def test_bad_text_is_one_clear_error(tmp_path, monkeypatch, capsys, make, message):
    monkeypatch.setattr(tokenfile, "CHUNK_BYTES", 1000)  # the bad byte is in the second chunk
    source = tmp_path / "in"
    source.mkdir()
    path = make(source)
    tokens = "word" if path.name == "empty.txt" else "char"
    assert main(["prepare", str(path), "--out", str(tmp_path / "data"), "--tokens", tokens, "--no-progress"]) == 2
    assert capsys.readouterr().err == f"lstm-multi prepare: error: {message.format(d=source)}\n"
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())


def broken(data_dir, tmp_path, change):
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("train.bin", "val.bin", "meta.json"):
        (copy / name).write_bytes((data_dir / name).read_bytes())
    change(copy)
    return copy


def edit_meta(**changes):
    def change(folder):
        meta = json.loads((folder / "meta.json").read_text())
        meta.update(changes)
        (folder / "meta.json").write_text(json.dumps(meta))

    return change


AGAIN = "run lstm-multi prepare TEXT --out {d}."


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda d: (d / "meta.json").unlink(), " has no meta.json (not prepared, or its prepare did not finish): "),
        (lambda d: (d / "val.bin").unlink(), " has no val.bin: "),
        (edit_meta(version=0), " has version 0; this lstm-multi reads version 1: "),
        (edit_meta(format="nanogpt"), ": meta.json is not lstm-multi's (format 'nanogpt'): "),
        (lambda d: (d / "meta.json").write_text("{"), ": meta.json is corrupt (not JSON): "),
        (
            edit_meta(vocab=[str(i) for i in range(300)]),
            ": a vocabulary of 300 tokens does not fit its token type 'uint8': ",
        ),
        (
            lambda d: (d / "train.bin").write_bytes(b"abc"),
            ": train.bin has 3 bytes, but meta.json says 164757 tokens of uint8 (164757 bytes): ",
        ),
    ],
    ids=["no-meta", "no-val", "version", "format", "corrupt", "vocab-over-type", "size"],
)
def test_bad_data_dir_is_one_clear_error(time_machine, tmp_path, capsys, change, message):
    data_dir = broken(time_machine[1], tmp_path, change)
    assert main(["train", *TINY, "--data", str(data_dir), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err == f"lstm-multi train: error: Prepared corpus '{data_dir}'{message}{AGAIN.format(d=data_dir)}\n"


@pytest.mark.parametrize(
    "options,message",
    [
        (
            ["--num-steps", "200000"],
            "train.bin holds 164757 tokens, fewer than one window of num_steps + 1 = 200001. Use a longer text "
            "or a smaller num_steps.",
        ),
        (
            ["--num-train", "200000"],
            "train.bin gives 164749 windows of 8 steps, fewer than num_train = 200000. Use a smaller num_train "
            "or num_steps, or a longer text.",
        ),
        (
            ["--num-val", "9000"],
            "val.bin gives 8663 windows of 8 steps, fewer than num_val = 9000. Use a smaller num_val or "
            "num_steps, or prepare with a larger --val-fraction.",
        ),
    ],
    ids=["shorter-than-a-window", "num-train", "num-val"],
)
def test_too_few_windows(time_machine, tmp_path, capsys, options, message):
    data_dir = time_machine[1]
    assert main(["train", *TINY, "--data", str(data_dir), *options, "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == f"lstm-multi train: error: Prepared corpus '{data_dir}': {message}\n"


def test_data_and_text_or_a_task_are_refused(time_machine, tmp_path, capsys):
    text, data_dir = time_machine
    assert main(["train", *TINY, "--data", str(data_dir), "--text", str(text)]) == 2
    assert main(["train", "--task", "parentheses", "--data", str(data_dir), "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        "lstm-multi train: error: --text trains on a text file, --data on a prepared corpus: give one of them.\n"
        "lstm-multi train: error: --data is a language model's corpus; --task parentheses makes its own data.\n"
    )


# --- a full disk ---


class FullDisk:
    """``open``/``os.fdopen`` whose files take ``room`` bytes in all, then raise ENOSPC (half a write)."""

    def __init__(self, opener, room):
        self.opener, self.room = opener, room

    def __call__(self, *args, **kwargs):
        f = self.opener(*args, **kwargs)
        disk = self

        class Writer:
            def __getattr__(self, name):
                return getattr(f, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                f.close()

            def write(self, data):
                if len(data) > disk.room:
                    f.write(bytes(data)[: disk.room])
                    disk.room = 0
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                disk.room -= len(data)
                return f.write(data)

        return Writer()


def test_prepare_on_a_full_disk_removes_its_files(time_machine, tmp_path, monkeypatch):
    text, _ = time_machine
    monkeypatch.setattr(tokenfile, "CHUNK_BYTES", 50_000)
    monkeypatch.setattr(tokenfile, "open", FullDisk(open, 120_000), raising=False)
    with pytest.raises(WriteError) as err:
        prepare(text, tmp_path / "data")
    assert str(err.value) == (
        f"writing {tmp_path / 'data'} failed: No space left on device; the partial files were removed."
    )
    assert list((tmp_path / "data").iterdir()) == []


def test_prepare_checks_the_free_space_first(time_machine, tmp_path, monkeypatch, capsys):
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    out = tmp_path / "data"
    assert main(["prepare", str(time_machine[0]), "--out", str(out), "--no-progress"]) == 2
    assert capsys.readouterr().err == (
        f"lstm-multi prepare: error: {out} needs 0.2 MB for train.bin and val.bin (173428 tokens of uint8) but its "
        "disk has 0.0 MB free: free some space or prepare into another --out.\n"
    )
    assert list(out.iterdir()) == []


def test_training_on_a_full_disk_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    disk = FullDisk(os.fdopen, 10**9)

    class FillUp(checkpoint_module.Callback):  # the disk fills up after epoch 2's files
        def on_epoch_end(self, trainer, model, record):
            disk.room = 10**9 if record.epoch <= 2 else 3000

    monkeypatch.setattr(checkpoint_module.os, "fdopen", disk)
    monkeypatch.setattr("lstm_multi.cli.train.EpochPrinter", FillUp)
    options = [*TINY, "--num-train", "64", "--num-val", "32", "--epochs", "5"]
    assert main(["train", *options, "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"lstm-multi train: error: saving epoch 3 into {out} failed: No space left on device; the last good "
        f"checkpoint is {out / 'model.safetensors'} (epoch 2); resume with lstm-multi train --resume {out} "
        "--epochs 5.\n"
    )
    assert load_checkpoint(out / "model.safetensors").training["epoch"] == 2
    assert sorted(p.name for p in out.iterdir()) == ["best.safetensors", "history.json", "model.safetensors"]


# --- one run per folder ---


def test_a_folder_is_held_by_one_lock(tmp_path):
    with RunLock(tmp_path / "run"):
        holder = json.loads((tmp_path / "run" / LOCK_FILE).read_text())
        assert holder["pid"] == os.getpid()
        with pytest.raises(RunInUseError) as err:
            RunLock(tmp_path / "run").acquire()
        assert str(err.value).startswith(f"--out {tmp_path / 'run'} is in use by another run: pid {os.getpid()} on ")
    assert not (tmp_path / "run" / LOCK_FILE).exists()  # released on exit


def test_two_runs_into_one_folder(tmp_path, capsys):
    """A run in progress (another process) holds its folder: a second run, and a --resume of it, are
    refused; once it is killed, its stale lock is taken over."""
    out = tmp_path / "run"
    slow = [*TINY, "--num-train", "256", "--num-val", "32", "--epochs", "100000", "--out", str(out)]
    first = subprocess.Popen([sys.executable, "-m", "lstm_multi.cli", "train", *slow], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (out / "model.safetensors").exists():  # an epoch is saved (and the lock held)
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        holder = json.loads((out / LOCK_FILE).read_text())
        assert holder["pid"] == first.pid and "train" in holder["command"]
        assert main(["train", *TINY, "--epochs", "1", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"lstm-multi train: error: --out {out} is in use by another run: pid {first.pid} on ")
        assert err.endswith("Wait for it to finish (or stop it), or train into another --out.\n")
        assert main(["train", "--backend", "numpy", "--resume", str(out), "--epochs", "200000", "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"lstm-multi train: error: --resume {out} is in use by another run: pid {first.pid} ")
    finally:
        first.send_signal(signal.SIGKILL)  # dies holding the lock: the file stays, unlocked
        first.wait()
    assert (out / LOCK_FILE).exists()
    assert main(["train", *TINY, "--num-train", "32", "--num-val", "32", "--epochs", "1", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"lstm-multi: warning: {out / LOCK_FILE} was left by a run that is no longer running (pid {first.pid}" in err
    assert not (out / LOCK_FILE).exists()
