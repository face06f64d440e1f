"""Training tokens/s with 1 and 2 data-parallel workers (``lstm-multi train --workers N``).

Runs the CLI in a fresh process per worker count, at h 256 / batch 1024 by default, and
times the last epoch (the first one pays compilation); appends one row per backend and
worker count to ``--out`` (JSON) and prints a Markdown table. Run it with the backend's
own environment, on a quiet machine::

    .tox/torch/bin/python benchmarks/data_parallel.py --backend torch --out benchmarks/results/data-parallel.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def tokens_per_second(
    backend: str, impl: str, workers: int, hidden: int, batch_size: int, num_steps: int, num_train: int, epochs: int
) -> float:
    with tempfile.TemporaryDirectory() as out:
        cmd = [
            sys.executable,
            "-m",
            "lstm_multi.cli",
            "train",
            "--backend",
            backend,
            "--impl",
            impl,
            "--workers",
            str(workers),
            "--hidden",
            str(hidden),
            "--batch-size",
            str(batch_size),
            "--num-steps",
            str(num_steps),
            "--num-train",
            str(num_train),
            "--num-val",
            str(batch_size),
            "--epochs",
            str(epochs),
            "--no-progress",
            "--out",
            out,
        ]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        last = json.loads((Path(out) / "history.json").read_text())[-1]
    return num_train * num_steps / last["seconds"]  # the epoch's seconds include its validation


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", required=True)
    parser.add_argument("--impls", nargs="+", default=["scratch", "concise"])
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--num-steps", type=int, default=32)
    parser.add_argument("--num-train", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", default="data-parallel.json")
    args = parser.parse_args()
    out = Path(args.out)
    rows = json.loads(out.read_text()) if out.exists() else []
    rows = [r for r in rows if r["backend"] != args.backend]
    for impl in args.impls:
        for workers in args.workers:
            rate = tokens_per_second(
                args.backend, impl, workers, args.hidden, args.batch_size, args.num_steps, args.num_train, args.epochs
            )
            rows.append(
                {
                    "backend": args.backend,
                    "impl": impl,
                    "workers": workers,
                    "hidden": args.hidden,
                    "batch_size": args.batch_size,
                    "tokens_per_s": round(rate),
                    "cpus": os.cpu_count(),
                }
            )
    out.write_text(json.dumps(rows, indent=1))
    print(
        "| backend | impl | " + " | ".join(f"{w} worker{'s' * (w > 1)} (tokens/s)" for w in args.workers) + " | ratio |"
    )
    print("|---|---|" + "---|" * (len(args.workers) + 1))
    for backend in dict.fromkeys(r["backend"] for r in rows):
        for impl in dict.fromkeys(r["impl"] for r in rows if r["backend"] == backend):
            rates = {r["workers"]: r["tokens_per_s"] for r in rows if (r["backend"], r["impl"]) == (backend, impl)}
            ratio = rates[max(rates)] / rates[min(rates)]
            print(
                f"| {backend} | {impl} | "
                + " | ".join(f"{rates.get(w, '-'):,}" for w in args.workers)
                + f" | {ratio:.2f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
