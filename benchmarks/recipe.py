"""The d2l recipe as a user runs it, whole command, and where its time goes, per backend.

    python benchmarks/recipe.py                                # every framework, concise and scratch
    python benchmarks/recipe.py --backends jax --impls scratch --out benchmarks/results
    python benchmarks/recipe.py --backends torch tensorflow --impls concise scratch scratch-xla

Each run is ``lstm-multi train --backend B --impl I`` with the CLI's defaults (d2l's recipe:
50 epochs, h 32, batch 1024, SGD lr 4, clip 1) in the environment that has the backend
(this one, ``.tox/<backend>`` or ``LSTM_MULTI_PYTHON_<BACKEND>``), timed from the outside.
Its history's per-epoch seconds split the whole into:

- **start s**: the whole command minus its epochs: the interpreter, the imports (**import s**,
  measured apart: ``import lstm_multi`` and ``get_backend``, in a process of its own), the
  data, the model, saving the checkpoint, the curve and the sample;
- **first epoch s** and **steady epoch s** (the median of the others): their difference is the
  first epoch's tracing and compiling (**compile s**);
- **epochs s**: all 50.

Measure with every environment's bytecode compiled, as ``pip install`` leaves it (uv, which
tox uses here, does not: ``python -m compileall -q -j 0 .tox/<env>/lib/python3.11/site-packages``)
and ``PYTHONDONTWRITEBYTECODE`` unset: compiling TensorFlow's Python source at each start added
12-15 s to its runs on the 2-core EPYC.

Backends run one after another (``--repeats`` rounds, each round every backend once), so
that every ratio to torch's concise time is of the same hour. Nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lstm_multi.backend import FRAMEWORKS
from lstm_multi.core.parity import subprocess_env
from lstm_multi.notebook import python_for


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=subprocess_env())
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {(proc.stderr.strip().splitlines() or [''])[-1]}")
    return time.perf_counter() - start


# the flags of each implementation timed; "scratch-xla" is TensorFlow's scratch cell with XLA
IMPLS = {"concise": ["--impl", "concise"], "scratch": ["--impl", "scratch"]}
IMPLS["scratch-xla"] = [*IMPLS["scratch"], "--jit-compile"]


def run_recipe(backend: str, impl: str) -> dict[str, float | str]:
    python = python_for(backend)
    import_s = timed([python, "-c", f"import lstm_multi; lstm_multi.get_backend({backend!r})"])
    with tempfile.TemporaryDirectory() as out:
        whole_s = timed(
            [
                python,
                "-m",
                "lstm_multi.cli",
                "train",
                "--backend",
                backend,
                *IMPLS[impl],
                "--no-progress",
                "--out",
                out,
            ]
        )
        history = json.loads(Path(out, "history.json").read_text())
    seconds = [r["seconds"] for r in history]
    steady = statistics.median(seconds[1:])
    return {
        "backend": backend,
        "impl": impl,
        "whole_s": whole_s,
        "import_s": import_s,
        "start_s": whole_s - sum(seconds),
        "first_epoch_s": seconds[0],
        "steady_epoch_s": steady,
        "compile_s": seconds[0] - steady,
        "epochs_s": sum(seconds),
        "val_ppl": history[-1]["val_ppl"],
    }


def table(rows: list[dict]) -> str:
    base = {r["round"]: r["whole_s"] for r in rows if r["backend"] == "torch" and r["impl"] == "concise"}
    lines = [
        "| backend | impl | whole s | vs torch concise | import s | start s | first epoch s | steady epoch s "
        "| compile s | epochs s | val ppl |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = f"{r['whole_s'] / base[r['round']]:.2f}" if r["round"] in base else ""
        lines.append(
            f"| {r['backend']} | {r['impl']} | {r['whole_s']:.1f} | {ratio} | {r['import_s']:.1f} | "
            f"{r['start_s']:.1f} | {r['first_epoch_s']:.2f} | {r['steady_epoch_s']:.3f} | {r['compile_s']:.2f} | "
            f"{r['epochs_s']:.1f} | {r['val_ppl']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=list(FRAMEWORKS), choices=FRAMEWORKS)
    parser.add_argument(
        "--impls", nargs="+", default=["concise", "scratch"], choices=list(IMPLS), help="scratch-xla: TensorFlow only"
    )
    parser.add_argument("--repeats", type=int, default=1, help="rounds over every backend")
    parser.add_argument("--out", type=Path, help="folder for recipe.md and recipe.json")
    args = parser.parse_args(argv)
    backends = ["torch"] + [b for b in args.backends if b != "torch"] if "torch" in args.backends else args.backends
    rows = []
    for round_ in range(args.repeats):
        for backend in backends:
            for impl in args.impls:
                if impl == "scratch-xla" and backend != "tensorflow":
                    continue
                row = {"round": round_, **run_recipe(backend, impl)}
                print(json.dumps(row), file=sys.stderr, flush=True)
                rows.append(row)
    print(table(rows))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "recipe.json").write_text(json.dumps(rows, indent=1) + "\n")
        (args.out / "recipe.md").write_text(table(rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
