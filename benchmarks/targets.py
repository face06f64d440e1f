"""The documented quality targets, each trained with the CLI's defaults on every backend.

    python benchmarks/targets.py                       # every target, the four frameworks
    python benchmarks/targets.py --backends jax --targets parentheses timeseries

Each run is ``lstm-multi train`` in the environment that has the backend (this one, or
``.tox/<backend>`` / ``LSTM_MULTI_PYTHON_<BACKEND>``, as the parity report finds them), and
its history's last epoch is compared with the target. The table goes to stdout and, with
``--out``, to ``targets.md`` and ``targets.json``. It takes minutes per run, so it is a
documented command, not part of the test suite; the exit status is 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from lstm_multi.backend import FRAMEWORKS
from lstm_multi.notebook import train_on

#: name -> (train arguments, the validation metric read from the last epoch, "<=" or ">=", bound)
TARGETS = {
    "lm": ([], "val_ppl", "<=", 7.5),  # d2l's recipe (10.1): 50 epochs, h 32, SGD lr 4, clip 1
    "parentheses": (["--task", "parentheses"], "val_accuracy", ">=", 0.98),  # length 25, Adam
    "timeseries": (["--task", "timeseries"], "val_mse", "<=", 0.045),  # noise floor 0.04
}


def metric(record, name: str) -> float:
    return record.val_ppl if name == "val_ppl" else record.metrics[name]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=list(FRAMEWORKS), choices=FRAMEWORKS)
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--impls", nargs="+", default=["scratch"], choices=["scratch", "concise"])
    parser.add_argument("--out", type=Path, help="folder for targets.md and targets.json")
    args = parser.parse_args(argv)
    rows = []
    for target in args.targets:
        train_args, name, op, bound = TARGETS[target]
        for backend in args.backends:
            for impl in args.impls:
                start = time.perf_counter()
                try:
                    history = train_on(backend, [*train_args, "--impl", impl])
                    value, error = metric(history[-1], name), None
                    ok = value <= bound if op == "<=" else value >= bound
                except RuntimeError as err:
                    value, error, ok = None, str(err), False
                rows.append(
                    {
                        "target": target,
                        "backend": backend,
                        "impl": impl,
                        "metric": name,
                        "value": value,
                        "bound": f"{op} {bound}",
                        "ok": ok,
                        "error": error,
                        "seconds": round(time.perf_counter() - start, 1),
                    }
                )
                row = rows[-1]
                shown = "failed: " + error if error else f"{value:.4f}"
                print(
                    f"{target:12s} {backend:10s} {impl:8s} {name} {shown} ({row['bound']}, "
                    f"{'ok' if ok else 'MISSED'}, {row['seconds']} s)",
                    flush=True,
                )
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "targets.json").write_text(json.dumps(rows, indent=1) + "\n")
        from lstm_multi.bench import machine

        m = machine()
        lines = [
            f"Measured {m['date']} on {m['cpu']} ({m['cores']} cores); seconds are wall-clock.",
            "",
            "| target | backend | impl | metric | value | target | ok | seconds |",
            "|---" * 8 + "|",
        ]
        for r in rows:
            value = "failed" if r["error"] else f"{r['value']:.4f}"
            lines.append(
                f"| {r['target']} | {r['backend']} | {r['impl']} | {r['metric']} | {value} | "
                f"{r['bound']} | {'yes' if r['ok'] else 'no'} | {r['seconds']} |"
            )
        (args.out / "targets.md").write_text("\n".join(lines) + "\n")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
