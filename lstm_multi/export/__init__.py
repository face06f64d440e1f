"""Models leave the package: a checkpoint written in a format its own runtime loads.

``export(checkpoint, format, out)`` reads an lstm-multi checkpoint (canonical NumPy
parameters, no framework needed) and hands it to ``lstm_multi.export.<format>``, whose
``write(checkpoint, out) -> Path`` builds a plain model of that format. The vocabulary
goes beside it as ``vocab.json``. Each format module imports its own framework only.

Interface of every format: input ``tokens`` int64 ``(T, B)`` (time-major), first output
``logits`` ``(T, B, V)``; Keras is batch-major: ``(B, T)`` in, ``(B, T, V)`` out.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

FORMATS = ("onnx", "torch", "keras", "jax", "mxnet")


class ExportError(ValueError):
    """A model the chosen format cannot express, or an export that cannot be written."""


def write_vocab(vocab: list[str], out: Path) -> Path:
    """Write ``vocab.json`` (the checkpoint's tokens, index order) beside ``out``."""
    path = out.parent / "vocab.json"
    path.write_text(json.dumps(list(vocab), ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def export(checkpoint: str | Path, format: str, out: str | Path) -> Path:
    """Write the model of ``checkpoint`` to ``out`` in ``format`` (one of FORMATS); return ``out``."""
    from ..core.checkpoint import load_checkpoint

    if format not in FORMATS:
        raise ExportError(f"Unknown export format {format!r}; choose one of: {', '.join(FORMATS)}.")
    saved = load_checkpoint(checkpoint)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    module = importlib.import_module(f"{__name__}.{format}")
    written = module.write(saved, out)
    write_vocab(saved.vocab, Path(written))
    return Path(written)
