"""``lstm-multi bench``: training and generation tokens/s per implementation (``lstm_multi/bench.py``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..backend import BACKENDS, FRAMEWORKS
from .common import (
    DefaultsHelpFormatter,
    add_device_argument,
    check_device_arguments,
    check_output_dir,
    non_negative_float,
    positive_int,
)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    bench = subparsers.add_parser(
        "bench", help="training and generation tokens/s per implementation", formatter_class=DefaultsHelpFormatter
    )
    bench.add_argument("--backends", nargs="+", choices=BACKENDS, help="default: the four frameworks")
    bench.add_argument(
        "--impls",
        nargs="+",
        choices=("scratch", "concise", "d2l"),
        default=["scratch", "concise", "d2l"],
        help="implementations to time",
    )
    bench.add_argument(
        "--models",
        nargs="+",
        choices=("lstm", "gru", "rnn"),
        default=["lstm"],
        help="the cells to time (the book's d2l loop: LSTM only)",
    )
    bench.add_argument("--hidden", nargs="+", type=positive_int, default=[32, 256], help="num_hiddens")
    bench.add_argument("--batch-size", nargs="+", type=positive_int, default=[1024, 32], help="windows per batch")
    bench.add_argument("--num-steps", type=positive_int, default=32, help="characters per window")
    bench.add_argument("--steps", type=positive_int, default=10, help="timed training steps, at least")
    bench.add_argument(
        "--min-seconds",
        type=non_negative_float,
        default=1.0,
        help="time more steps until this many seconds have passed",
    )
    bench.add_argument("--gen-tokens", type=positive_int, default=100, help="characters generated")
    bench.add_argument("--out", default="bench-results", help="folder for results.md and results.json")
    add_device_argument(bench)
    return bench


def run(args: argparse.Namespace) -> int:
    from .. import bench as harness

    check_output_dir(args.out, "--out")
    check_device_arguments(args, args.backends or FRAMEWORKS)
    results = harness.run(
        args.backends or FRAMEWORKS,
        args.impls,
        args.hidden,
        args.batch_size,
        args.num_steps,
        args.steps,
        args.gen_tokens,
        args.min_seconds,
        models=args.models,
        device=args.device,
    )
    table = harness.to_markdown(results)
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(table + "\n")
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "machine.json").write_text(json.dumps(harness.machine(), indent=1))
    print(f"wrote {out / 'results.md'}, {out / 'results.json'} and {out / 'machine.json'}")
    return 0 if all("error" not in r for r in results) else 1
