"""What the notebooks need beyond the training API: sizes, source listings, other frameworks.

- :func:`quick` and :func:`size`: ``LSTM_MULTI_QUICK=1`` (set by ``tox -e notebooks``) makes
  every notebook run in minutes; the stored notebooks use the full sizes.
- :func:`show_source`: a class or function of any backend, read from the package's files
  (nothing imported, so a kernel shows MXNet's cell beside JAX's, which cannot share an
  environment).
- :func:`train_on`: ``lstm-multi train`` on another backend, in the environment that has
  it (this one, ``LSTM_MULTI_PYTHON_<BACKEND>`` or ``.tox/<backend>``), returning its history.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, TypeVar

from .backend import is_available
from .core.parity import interpreter_for, subprocess_env
from .core.trainer import EpochRecord

PACKAGE = Path(__file__).resolve().parent

T = TypeVar("T")


def quick() -> bool:
    """True when ``LSTM_MULTI_QUICK`` is set to anything but "" or "0"."""
    return os.environ.get("LSTM_MULTI_QUICK", "") not in ("", "0")


def size(full: T, quick_value: T) -> T:
    """``full`` normally, ``quick_value`` in a quick run."""
    return quick_value if quick() else full


def source(backend: str, qualname: str, file: str | None = None) -> str:
    """The source of ``qualname`` (``"LSTMScratch"`` or ``"LSTMScratch.step"``) in
    ``lstm_multi/backends/<backend>/`` (searched file by file, or ``file``), unimported."""
    folder = PACKAGE / "backends" / backend if backend != "reference" else PACKAGE / "reference"
    files = [folder / file] if file else sorted(folder.glob("*.py"))
    parts = qualname.split(".")
    for path in files:
        text = path.read_text()
        nodes = ast.parse(text).body
        for part in parts:
            found = next((n for n in nodes if isinstance(n, (ast.ClassDef, ast.FunctionDef)) and n.name == part), None)
            if found is None:
                break
            node, nodes = found, found.body
        else:
            lines = text.splitlines()
            start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
            return "\n".join(lines[start : node.end_lineno])
    raise ValueError(f"No {qualname!r} in lstm_multi/{folder.relative_to(PACKAGE)}.")


def show_source(backend: str, qualname: str, file: str | None = None) -> None:
    """Print :func:`source` under a header naming the file it comes from."""
    print(f"# lstm_multi/backends/{backend}: {qualname}\n{source(backend, qualname, file)}")


def python_for(backend: str) -> str:
    """The interpreter that runs ``backend``: this one if installed here, else its environment's."""
    if is_available(backend):
        return sys.executable
    python = interpreter_for(backend)
    if python is None:
        raise RuntimeError(
            f"Backend {backend!r} is not installed here and has no environment: set "
            f"LSTM_MULTI_PYTHON_{backend.upper()} or create .tox/{backend} (tox -e {backend})."
        )
    return python


def train_on(backend: str, args: list[str]) -> list[EpochRecord]:
    """Run ``lstm-multi train --backend <backend> <args>`` where that backend is installed, with
    this package's code; returns the run's history (raises with the run's last error line)."""
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run(
            [
                python_for(backend),
                "-m",
                "lstm_multi.cli",
                "train",
                "--backend",
                backend,
                "--no-progress",
                "--out",
                out,
                *args,
            ],
            capture_output=True,
            text=True,
            env=subprocess_env(),
        )
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise RuntimeError(f"training on {backend} failed: {tail}")
        return [EpochRecord.from_dict(r) for r in json.loads(Path(out, "history.json").read_text())]


def native_layout(backend: str, cell: str = "lstm", impl: str = "concise") -> dict[str, Any]:
    """How ``backend``'s layer (native by default) stores one unit: its
    :class:`~lstm_multi.core.params.FusedLayout` as a dict (names, gate order, rows or
    columns, second bias), read in the environment that has the backend."""
    from .core.family import CELLS

    name = CELLS[cell].title + ("Scratch" if impl == "scratch" else "")
    code = (
        "import dataclasses, json; from lstm_multi import get_backend; "
        f"layer = getattr(get_backend({backend!r}), {name!r})(3, 2); prefix, k, _, reverse = layer.config.units()[0]; "
        "print(json.dumps(dataclasses.asdict(layer.unit_layout(0, prefix, k, reverse))))"
    )
    proc = subprocess.run([python_for(backend), "-c", code], capture_output=True, text=True, env=subprocess_env())
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"reading {backend}'s {name} failed: {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
