"""Corpora larger than memory: tokenize once into a flat file of token ids, read windows from it.

``prepare(source, out)`` (``lstm-multi prepare``) streams a text file, or every ``*.txt`` under a
folder in sorted order, in chunks of :data:`CHUNK_BYTES` (never the whole text in memory) and
writes into ``out``:

``train.bin``   the token ids of the first ``1 - val_fraction`` of the corpus
``val.bin``     the rest; both in the smallest unsigned integer type that holds the vocabulary
``meta.json``   the vocabulary, the options, the token counts and a SHA-256 of the source

like nanoGPT's ``prepare.py``. The tokens are exactly those of :func:`.data.build_corpus` on the
whole text (the same preprocessing and tokens, from :mod:`.text`), so on a small corpus a
:class:`TokenFile` gives the batches :class:`.data.TimeMachine` gives when its windows are the same.

Two passes over the source: the first counts tokens (the vocabulary, as :class:`.data.Vocab` builds
it) and checks the text (UTF-8, not binary, not empty); the second writes the ids. Memory is a few
chunks whatever the size of the corpus.

``TokenFile(data_dir, batch_size, num_steps)`` reads only the windows of a batch from ``train.bin``
(``os.pread``, one read a window): each epoch is a seeded random sample of ``num_train`` window
starts; validation reads ``num_val`` windows spread evenly over ``val.bin``. Not a memory map
(``np.memmap``, nanoGPT's): a page fault maps a whole page-cache folio, which on Linux 6.x is up
to 2 MB, so random windows from a memory map counted some 600 KB each in the process's memory (a
batch of 1024 windows: 600 MB, measured in benchmarks/README.md); a read copies just the window.
"""

from __future__ import annotations

import codecs
import collections
import hashlib
import json
import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoint import WriteError, write_atomically
from .data import CorpusError, Vocab, check_window_options, not_latin
from .distributed import block
from .module import DataModule
from .text import get_preprocessor, preprocess_utf8, tokenize

FORMAT = "lstm-multi-tokens"
VERSION = 1
META, TRAIN, VAL = "meta.json", "train.bin", "val.bin"
CHUNK_BYTES = 1 << 22  # 4 MiB of source read at a time
#: the token id types, smallest first: a corpus uses the first that holds its vocabulary
DTYPES = ("uint8", "uint16", "uint32")


def token_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned integer type that holds ids ``0 .. vocab_size - 1``."""
    for name in DTYPES:
        if vocab_size - 1 <= np.iinfo(name).max:
            return np.dtype(name)
    raise CorpusError(
        f"A vocabulary of {vocab_size} tokens does not fit {DTYPES[-1]} token ids (at most "
        f"{np.iinfo(DTYPES[-1]).max + 1}). Raise --min-freq to map rare tokens to <unk>."
    )


def source_files(source: str | Path) -> list[Path]:
    """A text file, or every ``*.txt`` under a folder, in sorted order."""
    source = Path(source)
    if source.is_dir():
        files = sorted(p for p in source.rglob("*.txt") if p.is_file())
        if not files:
            raise CorpusError(f"Folder {str(source)!r} holds no *.txt files.")
        return files
    if not source.is_file():
        raise CorpusError(f"Text file {str(source)!r} does not exist or is not a file.")
    return [source]


def read_utf8(files: list[Path], bar: Any = None) -> Iterator[tuple[np.ndarray, str]]:
    """The files' bytes and text, chunk by chunk: ``(uint8 array, decoded str)``; a binary file or
    one that is not UTF-8 is a :class:`~.data.CorpusError` naming the byte offset."""
    for path in files:
        decoder = codecs.getincrementaldecoder("utf-8")()
        offset = 0  # of this chunk in the file
        with open(path, "rb") as f:
            while True:
                raw = f.read(CHUNK_BYTES)
                nul = raw.find(b"\0")
                if nul >= 0:
                    raise CorpusError(
                        f"Text file {str(path)!r} is binary, not text: a NUL byte at offset {offset + nul}."
                    )
                pending = len(decoder.getstate()[0])  # bytes of a character cut by the last chunk
                try:
                    text = decoder.decode(raw, final=not raw)
                except UnicodeDecodeError as err:
                    at = offset - pending + err.start
                    raise CorpusError(
                        f"Text file {str(path)!r} is not UTF-8 text: byte {err.object[err.start]:#04x} at "
                        f"offset {at} ({err.reason})."
                    ) from None
                if not raw:
                    break
                offset += len(raw)
                if bar is not None:
                    bar.update(len(raw))
                yield np.frombuffer(raw, dtype=np.uint8), text


def token_chunks(
    files: list[Path], preprocessing: str, tokens: str, stats: dict[str, Any], bar: Any = None
) -> Iterator[np.ndarray | list[str]]:
    """The corpus' tokens, chunk by chunk: character code points (an int array) or words (a list).

    Joined, the chunks are ``tokenize(preprocess(text), tokens)`` of the whole text: d2l's cleaning
    runs on the bytes (:func:`.text.preprocess_utf8`, which carries across chunks), and a word cut
    by a chunk's end is held back for the next one. ``stats`` receives the source's ``bytes``,
    ``characters``, ``kept`` characters after preprocessing, ``letters`` among them and ``sha256``.
    """
    get_preprocessor(preprocessing)  # clear errors for unknown options
    tokenize("", tokens)
    digest = hashlib.sha256()
    stats.update(bytes=0, characters=0, kept=0, letters=0)
    after_letter = True  # d2l: the text's first run of non-letters is a space too
    partial = ""  # words: the start of a word cut by the chunk's end
    for raw, text in read_utf8(files, bar):
        digest.update(raw.data)
        stats["bytes"] += len(raw)
        stats["characters"] += len(text)
        if preprocessing == "d2l":
            clean = preprocess_utf8(raw, after_letter)
            if len(clean):  # it ends in a space where the chunk ends in a non-letter
                after_letter = bool(clean[-1] != ord(" "))
            spaces = int(np.count_nonzero(clean == ord(" ")))
            stats["kept"] += len(clean)
            stats["letters"] += len(clean) - spaces
            units: np.ndarray | str = clean
        else:
            stats["kept"] += len(text)
            units = text
        if tokens == "char":
            yield units if isinstance(units, np.ndarray) else np.frombuffer(units.encode("utf-32-le"), np.uint32)
            continue
        words = partial + (units.tobytes().decode("ascii") if isinstance(units, np.ndarray) else units)
        split = words.split()
        partial = split.pop() if split and not words[-1].isspace() else ""  # it may go on
        yield split
    stats["sha256"] = digest.hexdigest()
    if partial:
        yield [partial]


def count_tokens(
    files: list[Path], preprocessing: str, tokens: str, bar: Any = None
) -> tuple[dict[str, int], dict[str, Any]]:
    """The first pass: ``{token: count}`` over the whole corpus, and the source's stats."""
    stats: dict[str, Any] = {}
    counts: collections.Counter[str] = collections.Counter()
    code_points = np.zeros(0, dtype=np.int64)  # characters: counts by code point (NumPy, fast)
    for chunk in token_chunks(files, preprocessing, tokens, stats, bar):
        if isinstance(chunk, np.ndarray):
            found = np.bincount(chunk, minlength=len(code_points))
            found[: len(code_points)] += code_points
            code_points = found
        else:
            counts.update(chunk)
    for point in np.flatnonzero(code_points):
        counts[chr(point)] = int(code_points[point])
    return dict(counts), stats


def prepare(
    source: str | Path,
    out: str | Path,
    tokens: str = "char",
    preprocessing: str = "d2l",
    min_freq: int | None = None,
    val_fraction: float = 0.05,
    progress: bool = False,
) -> dict[str, Any]:
    """Tokenize ``source`` (a text file, or a folder: every ``*.txt`` under it, sorted) into
    ``out/train.bin``, ``out/val.bin`` and ``out/meta.json``; returns the metadata.

    ``tokens``, ``preprocessing``, ``min_freq`` as in :class:`.data.TimeMachine`; ``val_fraction``
    of the tokens (the end of the corpus) validate. The free space is checked before writing; a
    failed write removes the partial files (:class:`~.checkpoint.WriteError`).
    """
    get_preprocessor(preprocessing)  # clear errors for unknown options
    tokenize("", tokens)
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}.")
    if min_freq is None:
        min_freq = 2 if tokens == "word" else 0
    files = source_files(source)
    total = sum(p.stat().st_size for p in files)
    name = repr(str(source))
    with _bar(progress, total, "counting") as bar:
        counts, stats = count_tokens(files, preprocessing, tokens, bar)
    num_tokens = sum(counts.values())
    if num_tokens == 0:
        raise CorpusError(
            f"{name} holds no tokens ({preprocessing} preprocessing, {tokens} tokens): nothing to train on."
        )
    if preprocessing == "d2l" and stats["kept"] < stats["characters"] // 2:
        raise not_latin(name, stats["letters"], stats["characters"], "lstm-multi prepare --preprocess none")
    vocab = Vocab.from_counts(counts, min_freq=min_freq)
    dtype = token_dtype(len(vocab))
    num_val = int(round(num_tokens * val_fraction))
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "vocab": vocab.idx_to_token,
        "preprocessing": preprocessing,
        "tokens": tokens,
        "min_freq": min_freq,
        "val_fraction": val_fraction,
        "dtype": dtype.name,
        "train_tokens": num_tokens - num_val,
        "val_tokens": num_val,
        "source": {"files": [str(p) for p in files], "bytes": stats["bytes"], "sha256": stats["sha256"]},
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    needed, free = num_tokens * dtype.itemsize, shutil.disk_usage(out).free
    if needed > free:
        raise WriteError(
            f"{out} needs {_size(needed)} for {TRAIN} and {VAL} ({num_tokens} tokens of {dtype.name}) but its "
            f"disk has {_size(free)} free: free some space or prepare into another --out."
        )
    with _bar(progress, total, "writing") as bar:
        write_token_files(files, out, meta, vocab, bar)
    return meta


def write_token_files(files: list[Path], out: Path, meta: dict[str, Any], vocab: Vocab, bar: Any = None) -> None:
    """The second pass: token ids into temporary files, renamed to ``train.bin`` and ``val.bin``,
    then ``meta.json`` (last: a folder without it is not a finished corpus). On any failure the
    temporary files are removed."""
    dtype = np.dtype(meta["dtype"])
    table = character_ids(vocab, dtype)
    temporary = {name: out / f".{name}.tmp" for name in (TRAIN, VAL)}
    files_open = {}
    try:
        for name, path in temporary.items():
            files_open[name] = open(path, "wb")
        left = meta["train_tokens"]  # ids still to go to train.bin
        for chunk in token_chunks(files, meta["preprocessing"], meta["tokens"], {}, bar):
            if isinstance(chunk, np.ndarray):
                ids = table[np.minimum(chunk, len(table) - 1)]
            else:
                token_ids, unk = vocab.token_to_idx, vocab.unk
                ids = np.fromiter((token_ids.get(w, unk) for w in chunk), dtype=dtype, count=len(chunk))
            files_open[TRAIN].write(ids[:left].tobytes())
            files_open[VAL].write(ids[left:].tobytes())
            left = max(left - len(ids), 0)
        for f in files_open.values():
            f.flush()
            os.fsync(f.fileno())
            f.close()
        (out / META).unlink(missing_ok=True)  # an older corpus' metadata goes first
        for name, path in temporary.items():
            os.replace(path, out / name)
            temporary[name] = out / name  # removed too if meta.json cannot be written
        write_atomically(out / META, json.dumps(meta, indent=1).encode())
    except BaseException as err:
        for f in files_open.values():
            f.close()
        for path in temporary.values():
            path.unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise WriteError(f"writing {out} failed: {err.strerror or err}; the partial files were removed.") from None
        raise


def character_ids(vocab: Vocab, dtype: np.dtype) -> np.ndarray:
    """Characters' ids by code point (``ids = table[code_points]``, NumPy); the last entry, for
    every higher code point, and those of characters not in the vocabulary are ``<unk>``'s."""
    characters = [token for token in vocab.idx_to_token if len(token) == 1]
    table = np.full(max(map(ord, characters), default=0) + 2, vocab.unk, dtype=dtype)
    for token in characters:
        table[ord(token)] = vocab.token_to_idx[token]
    return table


def _size(num_bytes: int) -> str:
    return f"{num_bytes / 1e9:.2f} GB" if num_bytes >= 1e8 else f"{num_bytes / 1e6:.1f} MB"


class _NoBar:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        pass


def _bar(progress: bool, total: int, desc: str) -> Any:
    """A progress bar in bytes (tqdm), or nothing."""
    if not progress:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, desc=desc, dynamic_ncols=True)


def read_meta(data_dir: str | Path) -> dict[str, Any]:
    """A prepared corpus' ``meta.json``, checked: its format, version and both token files."""
    data_dir = Path(data_dir)
    name = repr(str(data_dir))
    again = f"run lstm-multi prepare TEXT --out {data_dir}"
    if not data_dir.is_dir():
        raise CorpusError(f"Prepared corpus {name} is not a folder: {again} first.")
    path = data_dir / META
    if not path.is_file():
        raise CorpusError(
            f"Prepared corpus {name} has no {META} (not prepared, or its prepare did not finish): {again}."
        )
    try:
        meta = json.loads(path.read_text())
        found = (meta.get("format"), meta.get("version"))
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        raise CorpusError(f"Prepared corpus {name}: {META} is corrupt (not JSON): {again}.") from None
    if found[0] != FORMAT:
        raise CorpusError(f"Prepared corpus {name}: {META} is not lstm-multi's (format {found[0]!r}): {again}.")
    if found[1] != VERSION:
        raise CorpusError(
            f"Prepared corpus {name} has version {found[1]!r}; this lstm-multi reads version {VERSION}: {again}."
        )
    dtype = np.dtype(meta["dtype"]) if meta.get("dtype") in DTYPES else None
    if dtype is None or len(meta["vocab"]) - 1 > np.iinfo(dtype).max:
        raise CorpusError(
            f"Prepared corpus {name}: a vocabulary of {len(meta['vocab'])} tokens does not fit its token type "
            f"{meta.get('dtype')!r}: {again}."
        )
    for file, count in ((TRAIN, meta["train_tokens"]), (VAL, meta["val_tokens"])):
        if not (data_dir / file).is_file():
            raise CorpusError(f"Prepared corpus {name} has no {file}: {again}.")
        size = (data_dir / file).stat().st_size
        if size != count * dtype.itemsize:
            raise CorpusError(
                f"Prepared corpus {name}: {file} has {size} bytes, but {META} says {count} tokens of "
                f"{dtype.name} ({count * dtype.itemsize} bytes): {again}."
            )
    return meta


class TokenFile(DataModule):
    """Windows of a prepared corpus (:func:`prepare`), read from disk as they are needed.

    Window ``s`` is ``ids[s : s + num_steps]``, its targets ``ids[s + 1 : s + num_steps + 1]``.
    An epoch trains on ``num_train`` window starts of ``train.bin`` drawn by a seeded generator
    without replacement (``rng.choice``; when ``num_train`` is every window, ``rng.permutation``
    as :class:`.data.TimeMachine`: the same batches on the same windows). Validation reads
    ``num_val`` windows spread evenly over ``val.bin``, the same every epoch.
    ``X``, ``Y``: int32 arrays ``(batch_size, num_steps)``.

    With data-parallel workers in several processes, the Trainer sets :attr:`local_blocks`
    and each process reads only its own rows of every batch (the others stay 0).

    Args:
        data_dir: the folder ``lstm-multi prepare`` wrote.
        batch_size, num_steps, num_train, num_val, seed: as in :class:`.data.TimeMachine`.
    """

    num_steps: int  # saved by save_hyperparameters
    num_train: int
    num_val: int

    def __init__(
        self,
        data_dir: str | Path,
        batch_size: int,
        num_steps: int,
        num_train: int = 10000,
        num_val: int = 5000,
        seed: int = 0,
    ) -> None:
        super().__init__()
        check_window_options(batch_size, num_steps, num_train, num_val)
        self.save_hyperparameters()
        self.meta = read_meta(data_dir)
        self.vocab = Vocab.from_tokens(self.meta["vocab"])
        self.vocab.preprocessing, self.vocab.tokens = self.meta["preprocessing"], self.meta["tokens"]
        self.dtype = np.dtype(self.meta["dtype"])
        self.paths = {name: Path(data_dir) / name for name in (TRAIN, VAL)}
        self.num_tokens = {TRAIN: self.meta["train_tokens"], VAL: self.meta["val_tokens"]}
        self.num_windows = {name: max(count - num_steps, 0) for name, count in self.num_tokens.items()}
        source = f"Prepared corpus {str(data_dir)!r}"
        if self.num_windows[TRAIN] == 0:
            raise CorpusError(
                f"{source}: {TRAIN} holds {self.num_tokens[TRAIN]} tokens, fewer than one window of "
                f"num_steps + 1 = {num_steps + 1}. Use a longer text or a smaller num_steps."
            )
        for name, wanted, option in ((TRAIN, num_train, "num_train"), (VAL, num_val, "num_val")):
            if self.num_windows[name] < wanted:
                raise CorpusError(
                    f"{source}: {name} gives {self.num_windows[name]} windows of {num_steps} steps, fewer "
                    f"than {option} = {wanted}. Use a smaller {option} or num_steps"
                    + (", or prepare with a larger --val-fraction." if name == VAL else ", or a longer text.")
                )
        self.rng = np.random.default_rng(seed)

    def window_starts(self, train: bool) -> np.ndarray:
        """The start of every window of one epoch (training: drawn from :attr:`rng`)."""
        if not train:
            return np.linspace(0, self.num_windows[VAL] - 1, self.num_val).round().astype(np.int64)
        if self.num_train == self.num_windows[TRAIN]:
            return self.rng.permutation(self.num_train)
        return self.rng.choice(self.num_windows[TRAIN], self.num_train, replace=False)

    def read(self, fd: int, starts: np.ndarray, train: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The windows at ``starts`` of the open token file ``fd`` and their targets (training:
        only this process's rows; every worker validates on whole batches)."""
        X = np.zeros((len(starts), self.num_steps), dtype=np.int32)
        Y = np.zeros_like(X)
        if self.local_blocks is None or not train:
            parts = [slice(None)]
        else:
            workers, blocks = self.local_blocks
            parts = [block(len(starts), workers, rank) for rank in blocks]
        size = self.dtype.itemsize
        width = (self.num_steps + 1) * size  # a window and its last target, in bytes
        for rows in parts:
            raw = b"".join([os.pread(fd, width, start * size) for start in starts[rows].tolist()])
            windows = np.frombuffer(raw, dtype=self.dtype).reshape(-1, self.num_steps + 1)
            X[rows], Y[rows] = windows[:, :-1], windows[:, 1:]
        return X, Y

    def get_dataloader(self, train: bool) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Batches of ``(X, Y)`` NumPy arrays; a new sample of training windows each call."""
        starts = self.window_starts(train)
        with open(self.paths[TRAIN if train else VAL], "rb") as f:  # closed after the epoch
            for first in range(0, len(starts), self.batch_size):
                yield self.read(f.fileno(), starts[first : first + self.batch_size], train)

    def num_batches(self, train: bool) -> int:
        n = self.num_train if train else self.num_val
        return math.ceil(n / self.batch_size)
