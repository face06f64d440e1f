"""Models leave the package: a checkpoint written in a format its own runtime loads.

``export(checkpoint, format, out)`` reads an lstm-multi checkpoint (canonical NumPy
parameters, no framework needed) and hands it to ``lstm_multi.formats.<format>``, whose
``write(checkpoint, out) -> Path`` builds a plain model of that format. The vocabulary
goes beside it as ``vocab.json``. Each format module imports its own framework only.

Interface of every format: input ``tokens`` int64 ``(T, B)`` (time-major), first output
``logits`` ``(T, B, V)``, then the final states; Keras is batch-major: ``(B, T)`` in,
``(B, T, V)`` out. A task model (see :mod:`.model`) reads ``tokens`` (a classifier) or
``values`` float32 ``(T, B)`` (a regressor) and returns ``(B, C)`` logits or ``(B, 1)`` predictions.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path

FORMATS = ("onnx", "torch", "keras", "jax", "mxnet")
#: the modules each format's writer imports, and what installs them (an extra of lstm-multi,
#: which is also the tox environment that tests the format).
REQUIREMENTS = {
    "onnx": (("onnx",), 'pip install "lstm-multi[onnx]"'),
    "torch": (("torch",), 'pip install "lstm-multi[torch]"'),
    "keras": (("keras",), 'pip install "lstm-multi[tensorflow]"'),
    "jax": (("jax", "flax", "flatbuffers"), 'pip install "lstm-multi[jax]"'),
    "mxnet": (("mxnet",), 'pip install "lstm-multi[mxnet]"'),
}
#: How to load and run each format in its own runtime, in three lines ({path}: the file; the
#: example input is 5 steps of a batch of 1).
USAGE = {
    "onnx": (
        "import numpy as np, onnxruntime",
        "session = onnxruntime.InferenceSession({path})",
        '{output}, *states = session.run(None, {{"{input}": np.zeros((5, 1), np.{dtype})}})',
    ),
    "torch": (
        "import torch",
        "model = torch.export.load({path}).module()",
        "{output}, *states = model(torch.zeros((5, 1), dtype=torch.{dtype}))",
    ),
    "keras": (
        "import keras, numpy as np",
        "model = keras.saving.load_model({path})",
        "{output}, *states = model(np.zeros((1, 5), np.{dtype}))  # batch-major: (B, T)",
    ),
    "jax": (
        "import jax, numpy as np",
        'exported = jax.export.deserialize(bytearray(open({path}, "rb").read()))',
        "{output}, *states = exported.call(np.zeros((5, 1), np.{jax_dtype}))",
    ),
    "mxnet": (
        "import mxnet as mx",
        'model = mx.gluon.SymbolBlock.imports({path}, ["{input}"], {params})',
        '{output}, *states = model(mx.nd.zeros((5, 1), dtype="{dtype}"))',
    ),
}


class ExportError(ValueError):
    """A model the chosen format cannot express, or an export that cannot be written."""


def write_vocab(vocab: list[str], out: Path) -> Path:
    """Write ``vocab.json`` (the checkpoint's tokens, index order) beside ``out``."""
    from ..core.checkpoint import write_atomically

    payload = json.dumps(list(vocab), ensure_ascii=False) + "\n"
    return write_atomically(out.parent / "vocab.json", payload.encode("utf-8"))


def check_installed(format: str) -> None:
    """Raise :class:`ExportError` naming what to install when ``format``'s framework is missing
    (nothing is imported to find out)."""
    if format not in FORMATS:
        raise ExportError(f"Unknown export format {format!r}; choose one of: {', '.join(FORMATS)}.")
    modules, install = REQUIREMENTS[format]
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ExportError(
            f"The {format} format needs {', '.join(missing)}, not installed in this environment ({install})."
        )


def usage(format: str, path: str | Path, kind: str = "lm") -> str:
    """Three lines that load ``path`` (written by ``export``) in its own runtime and run it on
    5 steps of a batch of 1; ``kind``: "lm", "classifier" or "regressor" (see :mod:`.model`)."""
    path = str(path)
    regressor = kind == "regressor"
    names = {  # paths as Python string literals
        "path": repr(path),
        "input": "values" if regressor else "tokens",
        "output": "predictions" if regressor else "logits",
        "dtype": "float32" if regressor else "int64",
        "jax_dtype": "float32" if regressor else "int32",  # JAX's integers are 32-bit by default
        "params": repr(path.removesuffix("-symbol.json") + "-0000.params"),
    }
    return "\n".join(line.format(**names) for line in USAGE[format])


def export(checkpoint: str | Path, format: str, out: str | Path) -> Path:
    """Write the model of ``checkpoint`` to ``out`` in ``format`` (one of FORMATS); return the
    path written (MXNet: ``OUT-symbol.json``, beside ``OUT-0000.params``)."""
    from ..core.checkpoint import load_checkpoint

    check_installed(format)
    saved = load_checkpoint(checkpoint)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    module = importlib.import_module(f"{__name__}.{format}")
    written = module.write(saved, out)
    write_vocab(saved.vocab, Path(written))
    return Path(written)
