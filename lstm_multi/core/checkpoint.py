"""Portable checkpoints: canonical parameters in a safetensors file.

The metadata holds the vocabulary and the hyper-parameters, so a model trained on
one backend is loaded, sampled and trained further on any other. Files are
written atomically: to a temporary file in the same folder, flushed to disk, then
renamed over the target, so a crash mid-save leaves the previous file intact.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from .family import LayerConfig
from .lm import lm_shapes
from .optim import make_optimizer
from .params import check_params, short_list
from .trainer import Callback, EpochRecord, Trainer
from .types import Params, Shapes

if TYPE_CHECKING:
    from .module import DataModule, Module

FORMAT = "lstm-multi"
VERSION = "1"
OPTIMIZER = "optimizer/"  # the prefix of the optimizer state's tensors


class CheckpointError(ValueError):
    """A file that is not a usable lstm-multi checkpoint."""


class WriteError(ValueError):
    """Writing failed (a full disk, a read-only folder); the message says what was kept."""


@dataclass
class Checkpoint:
    """What a checkpoint file holds."""

    params: dict[str, np.ndarray]
    vocab: list[str]
    config: LayerConfig  # the layer (d2l's one-layer LSTM for older files)
    hparams: dict[str, Any] = field(default_factory=dict)
    embedding_dim: int | None = None
    training: dict[str, Any] | None = None  # Trainer.state() when saved during a run: what --resume needs
    optimizer: dict[str, Any] | None = None  # the optimizer's state (core.optim.canonical_state), with training


def non_finite(params: Mapping[str, ArrayLike]) -> list[str]:
    """The names of the tensors holding NaN or infinity."""
    return [name for name, value in params.items() if not np.all(np.isfinite(value))]


def save_checkpoint(
    path: str | Path,
    params: Mapping[str, ArrayLike],
    vocab: list[str],
    hparams: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    optimizer: dict[str, Any] | None = None,
) -> Path:
    """Atomically write canonical ``params`` (float32), ``vocab`` tokens and ``hparams`` to ``path``.

    ``hparams["model"]`` (a :class:`~.family.LayerConfig` as a dict) and
    ``hparams["embedding_dim"]`` say which model to rebuild; without them the model is
    d2l's one-layer LSTM; ``hparams["task"]`` (``{"name", "head", "mlp_hiddens",
    "num_outputs"}``) marks a task model. ``optimizer``: its state, stored as tensors
    ``optimizer/<slot>/<name>``. Parameters with NaN or infinity are refused (nothing is written).
    """
    from safetensors.numpy import save

    path = Path(path)
    bad = non_finite(params)
    if bad:
        raise CheckpointError(f"Refusing to save {path}: {short_list(bad)} hold NaN or infinity (training diverged).")
    tensors = {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in params.items()}
    metadata = {
        "format": FORMAT,
        "version": VERSION,
        "vocab": json.dumps(list(vocab)),
        "hparams": json.dumps(hparams or {}),
    }
    if training is not None:
        metadata["training"] = json.dumps(training)
    if optimizer is not None:
        metadata["optimizer"] = json.dumps({"name": optimizer["name"], "step": optimizer["step"]})
        tensors.update(
            {
                f"{OPTIMIZER}{slot}/{name}": np.ascontiguousarray(value, dtype=np.float32)
                for slot, values in optimizer["slots"].items()
                for name, value in values.items()
            }
        )
    return write_atomically(path, save(tensors, metadata=metadata))


def write_atomically(path: str | Path, payload: bytes) -> Path:
    """Write ``payload`` to a temporary file beside ``path``, flush it to disk, rename it over
    ``path``: a crash leaves the old file or the new one, never half of either."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; follow the umask like open()
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def expected_shapes(hparams: dict[str, Any], config: LayerConfig, vocab_size: int, embedding_dim: int | None) -> Shapes:
    """The canonical shapes of the model a checkpoint describes: an LM, or a task model."""
    task = hparams.get("task")
    if task is None:
        return lm_shapes(config, vocab_size, embedding_dim)
    from .tasks.models import head_shapes

    return {
        **config.shapes(),
        **head_shapes(config.num_outputs, task["head"], task["mlp_hiddens"], task["num_outputs"]),
    }


def model_of(hparams: dict[str, Any], vocab_size: int, params: Params) -> tuple[LayerConfig, int | None]:
    """The layer configuration and embedding size a checkpoint's ``hparams`` describe."""
    embedding_dim = hparams.get("embedding_dim")
    if "model" in hparams:
        return LayerConfig.from_dict(hparams["model"]), embedding_dim
    num_hiddens = np.shape(params.get("W_hq", np.zeros((1, 0))))[0]  # written before the family
    return LayerConfig("lstm", vocab_size, max(int(num_hiddens), 1)), None


def _read_metadata(raw: bytes, path: Path) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors header (8-byte length, then JSON)."""
    if len(raw) < 8:
        raise CheckpointError(f"{path} is not a checkpoint: only {len(raw)} bytes.")
    (header_len,) = struct.unpack("<Q", raw[:8])
    if header_len > len(raw) - 8:
        raise CheckpointError(f"{path} is not a checkpoint: not a safetensors file (bad header).")
    try:
        header = json.loads(raw[8 : 8 + header_len])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"{path} is not a checkpoint: not a safetensors file (bad header).") from None
    metadata = header.get("__metadata__") or {} if isinstance(header, dict) else {}
    if metadata.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is a safetensors file but not an lstm-multi checkpoint (no 'format: lstm-multi' in its metadata)."
        )
    if metadata.get("version") != VERSION:
        raise CheckpointError(
            f"{path} has checkpoint version {metadata.get('version')!r}; this lstm-multi reads version {VERSION}."
        )
    return metadata


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and validate a checkpoint; errors say what is wrong with the file."""
    from safetensors.numpy import load

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint {str(path)!r} does not exist.")
    raw = path.read_bytes()
    metadata = _read_metadata(raw, path)
    try:
        params = load(raw)
        vocab = json.loads(metadata["vocab"])
        hparams = json.loads(metadata.get("hparams", "{}"))
        training = json.loads(metadata["training"]) if "training" in metadata else None
        optimizer = json.loads(metadata["optimizer"]) if "optimizer" in metadata else None
    except Exception as err:  # safetensors raises its own error types for truncated data
        raise CheckpointError(f"{path} is a corrupt checkpoint: {err}") from None
    slots: dict[str, Params] = {}
    for name in [n for n in params if n.startswith(OPTIMIZER)]:
        slot, canonical = name[len(OPTIMIZER) :].split("/", 1)
        slots.setdefault(slot, {})[canonical] = params.pop(name)
    try:
        config, embedding_dim = model_of(hparams, len(vocab), params)
        shapes = expected_shapes(hparams, config, len(vocab), embedding_dim)
        check_params(params, shapes, what=f"checkpoint ({config.describe()}, vocabulary of {len(vocab)})")
        for slot, values in slots.items():
            check_params(values, shapes, what=f"checkpoint's optimizer state ({slot})")
    except ValueError as err:
        raise CheckpointError(f"{path}: {err}") from None
    if optimizer is not None:  # safetensors sorts tensors by size: restore the optimizer's order
        order = make_optimizer(optimizer["name"], 1.0).slots
        if set(slots) != set(order):
            raise CheckpointError(
                f"{path} is a corrupt checkpoint: its {optimizer['name']} state has slots "
                f"{sorted(slots)}, expected {list(order)}."
            )
        optimizer["slots"] = {slot: {name: slots[slot][name] for name in shapes} for slot in order}
    bad = non_finite(params)
    if bad:
        raise CheckpointError(
            f"{path} holds NaN or infinity in {short_list(bad)}: the model it saved "
            "had diverged. Use an earlier checkpoint."
        )
    return Checkpoint(
        params={name: params[name] for name in shapes},
        vocab=vocab,
        hparams=hparams,
        config=config,
        embedding_dim=embedding_dim,
        training=training,
        optimizer=optimizer,
    )


class RunCheckpoints(Callback):
    """A Trainer callback that keeps a run's files current after every epoch (atomically):

    ``model.safetensors``  the last finished epoch, with the training state (``--resume``)
    ``best.safetensors``   the epoch with the lowest validation loss so far
    ``history.json``       one record per epoch

    like Lightning's ``ModelCheckpoint(save_last=True, monitor="val_loss")``.

    A failed write (a full disk) stops training with a :class:`WriteError` saying which epoch the
    last good ``model.safetensors`` holds: the atomic write leaves it intact and removes its
    partial temporary file.
    """

    def __init__(self, out: str | Path, vocab: list[str], hparams: dict[str, Any]) -> None:
        self.out, self.vocab, self.hparams = Path(out), list(vocab), hparams
        self.best: float | None = None
        self.saved_epoch = 0  # the epoch model.safetensors holds

    def on_fit_start(self, trainer: Trainer, model: Module, data: DataModule) -> None:
        losses = [r.val_loss for r in trainer.history if r.val_loss is not None]
        self.best = min(losses) if losses else None
        self.saved_epoch = len(trainer.history)  # a resumed run's checkpoint

    def on_epoch_end(self, trainer: Trainer, model: Module, record: EpochRecord) -> None:
        if not trainer.is_chief:  # data parallel: worker 0 writes, the others hold the same model
            return
        try:
            self._save(trainer, model, record)
        except OSError as err:  # ENOSPC, EDQUOT, EROFS, ...: one line, not write_atomically's traceback
            last = self.out / "model.safetensors"
            kept = (
                f"the last good checkpoint is {last} (epoch {self.saved_epoch}); resume with "
                f"lstm-multi train --resume {self.out} --epochs {trainer.max_epochs}"
                if self.saved_epoch
                else "no epoch had been saved"
            )
            raise WriteError(
                f"saving epoch {record.epoch} into {self.out} failed: {err.strerror or err}; {kept}."
            ) from None

    def _save(self, trainer: Trainer, model: Module, record: EpochRecord) -> None:
        params = model.ops.get_params(model)
        hparams = {**self.hparams, "epochs": record.epoch, "val_ppl": record.val_ppl}
        save_checkpoint(
            self.out / "model.safetensors",
            params,
            self.vocab,
            hparams,
            trainer.state(),
            model.ops.get_optimizer_state(model),
        )
        self.saved_epoch = record.epoch
        if record.val_loss is not None and (self.best is None or record.val_loss < self.best):
            self.best = record.val_loss
            save_checkpoint(self.out / "best.safetensors", params, self.vocab, hparams)
        history = json.dumps([r.as_dict() for r in trainer.history], indent=1)
        write_atomically(self.out / "history.json", history.encode())

    def on_fit_end(self, trainer: Trainer, model: Module) -> None:
        pass
