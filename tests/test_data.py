"""Data facts equal to d2l's (chapter "Converting Raw Text into Sequence Data")."""

import hashlib

import numpy as np
import pytest

from lstm_multi.core.data import (
    TIME_MACHINE_SHA1,
    CorpusError,
    TimeMachine,
    Vocab,
    build_corpus,
    preprocess,
    read_time_machine,
)


def test_bundled_corpus_is_d2ls_file():
    text = read_time_machine()
    assert hashlib.sha1(text.encode()).hexdigest() == TIME_MACHINE_SHA1
    assert text.startswith("The Time Machine, by H. G. Wells [1898]")
    assert preprocess(text)[:60] == "the time machine by h g wells i the time traveller for so it"


def test_corpus_and_vocabulary_as_in_d2l():
    corpus, vocab = build_corpus(read_time_machine())
    assert len(corpus) == 173428
    assert len(vocab) == 28
    assert vocab.idx_to_token == [" ", "<unk>"] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
    assert vocab.token_freqs[:3] == [(" ", 32775), ("e", 17838), ("t", 13515)]
    assert vocab["t"] == 21 and vocab["?"] == vocab.unk == 1
    assert vocab.to_tokens([21, 9, 6]) == ["t", "h", "e"]
    assert corpus[:10] == [21, 9, 6, 0, 21, 10, 14, 6, 0, 14]


def test_windows_and_split():
    data = TimeMachine(batch_size=2, num_steps=10)
    assert data.X.shape == data.Y.shape == (173428 - 10, 10)
    assert data.X.dtype == np.int32
    text = lambda row: "".join(data.vocab.to_tokens(row))
    assert text(data.X[0]) == "the time m" and text(data.Y[0]) == "he time ma"
    assert text(data.X[1]) == "he time ma"
    assert data.num_batches(train=True) == 5000 and data.num_batches(train=False) == 2500
    val = list(data.val_dataloader())
    np.testing.assert_array_equal(val[0][0], data.X[10000:10002])


def test_batch_order_is_seeded_and_covers_every_window():
    a = TimeMachine(batch_size=300, num_steps=5, num_train=1000, num_val=10, seed=7)
    b = TimeMachine(batch_size=300, num_steps=5, num_train=1000, num_val=10, seed=7)
    c = TimeMachine(batch_size=300, num_steps=5, num_train=1000, num_val=10, seed=8)
    epoch_a, epoch_b = list(a.train_dataloader()), list(b.train_dataloader())
    assert [len(x) for x, _ in epoch_a] == [300, 300, 300, 100]  # the last batch is partial, as d2l's
    for (xa, ya), (xb, yb) in zip(epoch_a, epoch_b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(epoch_a[0][0], next(iter(c.train_dataloader()))[0])
    seen = np.concatenate([x for x, _ in epoch_a])
    assert sorted(map(tuple, seen)) == sorted(map(tuple, a.X[:1000]))
    assert not np.array_equal(epoch_a[0][0], next(iter(a.train_dataloader()))[0])  # reshuffled


def test_users_own_text(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("Hello, World! " * 50)
    data = TimeMachine(batch_size=4, num_steps=5, num_train=100, num_val=20, text=path)
    assert data.vocab.idx_to_token == [" ", "<unk>", "d", "e", "h", "l", "o", "r", "w"]
    assert "".join(data.vocab.to_tokens(data.X[0])) == "hello"


def test_text_errors(tmp_path):
    with pytest.raises(CorpusError) as err:
        TimeMachine(batch_size=4, num_steps=5, text=tmp_path / "nope.txt")
    assert str(err.value) == f"Text file {str(tmp_path / 'nope.txt')!r} does not exist or is not a file."
    short = tmp_path / "short.txt"
    short.write_text("abc def")
    with pytest.raises(CorpusError) as err:
        TimeMachine(batch_size=4, num_steps=5, num_train=10, num_val=5, text=short)
    assert str(err.value) == (
        f"{str(short)!r} gives 2 windows of 5 steps, fewer than num_train + "
        "num_val = 15. Use a longer text or smaller num_train / num_val / num_steps."
    )
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CorpusError, match="is not UTF-8 text"):
        TimeMachine(batch_size=4, num_steps=5, text=binary)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(batch_size=0, num_steps=5), "batch_size must be a positive integer, got 0."),
        (dict(batch_size=2, num_steps=2.5), "num_steps must be a positive integer, got 2.5."),
        (dict(batch_size=2, num_steps=5, num_val=-1), "num_val must be a non-negative integer, got -1."),
    ],
)
def test_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError) as err:
        TimeMachine(**kwargs)
    assert str(err.value) == message


def test_vocab_from_tokens_round_trip():
    vocab = Vocab(list("hello world"))
    again = Vocab.from_tokens(vocab.idx_to_token)
    assert again.idx_to_token == vocab.idx_to_token and again["o"] == vocab["o"]
    with pytest.raises(CorpusError, match="needs the token '<unk>'"):
        Vocab.from_tokens(["a", "b"])


def test_text_without_latin_letters_says_what_to_do(tmp_path):
    path = tmp_path / "ja.txt"
    path.write_text("吾輩は猫である。名前はまだ無い。" * 400, encoding="utf-8")
    with pytest.raises(CorpusError) as err:
        TimeMachine(batch_size=8, num_steps=4, num_train=100, num_val=10, text=path)
    assert str(err.value) == (
        f"{str(path)!r} has 0 letters a-z among 6400 characters: d2l's preprocessing "
        "keeps only a-z and spaces. To keep the text's own characters (any language), "
        "use preprocessing='none' (lstm-multi train --preprocess none)."
    )
    data = TimeMachine(batch_size=8, num_steps=4, num_train=100, num_val=10, text=path, preprocessing="none")
    assert "猫" in data.vocab.token_to_idx and len(data.vocab) == 15  # 14 characters and <unk>
    assert data.vocab.preprocessing == "none"


def test_prefix_is_prepared_like_the_corpus():
    import warnings

    from lstm_multi.core.sampling import encode_prefix

    vocab = TimeMachine(batch_size=2, num_steps=4, num_train=2, num_val=1).vocab
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert encode_prefix("Time Traveller!", vocab) == vocab[list("time traveller ")]
    vocab.preprocessing = "none"
    with pytest.warns(
        UserWarning,
        match=r"^The prefix has characters outside the vocabulary, read as "
        r"<unk>: '!T'\.$",
    ):
        assert encode_prefix("Time!", vocab) == [vocab.unk] + vocab[list("ime")] + [vocab.unk]
