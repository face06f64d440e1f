"""``lstm-multi parity``: every implementation of one model against the NumPy reference."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..backend import BACKENDS, FRAMEWORKS
from .common import (
    DefaultsHelpFormatter,
    add_device_argument,
    add_model_arguments,
    check_device_arguments,
    check_output_file,
    model_options,
    non_negative_int,
    positive_int,
)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    par = subparsers.add_parser(
        "parity", help="compare every implementation with the NumPy reference", formatter_class=DefaultsHelpFormatter
    )
    par.add_argument("--backends", nargs="+", choices=BACKENDS, help="default: the four frameworks")
    par.add_argument("--hidden", type=positive_int, default=32, help="num_hiddens")
    par.add_argument("--num-steps", type=positive_int, default=16, help="time steps of the case")
    par.add_argument("--batch-size", type=positive_int, default=8, help="sequences of the case")
    par.add_argument("--steps", type=positive_int, default=20, help="SGD steps of the trajectory")
    par.add_argument("--seed", type=non_negative_int, default=0, help="seeds the case")
    par.add_argument("--full", action="store_true", help="every quantity, not the worst of each kind")
    par.add_argument("--json", metavar="FILE", help="also write every row as JSON")
    add_device_argument(par)
    add_model_arguments(par, dropout=False)
    return par


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from ..core.parity import TOLERANCES, parity, tolerance

    if args.json:
        check_output_file(args.json, "--json")
    check_device_arguments(args, args.backends or FRAMEWORKS)
    report = parity(
        args.backends,
        hidden=args.hidden,
        num_steps=args.num_steps,
        batch_size=args.batch_size,
        seed=args.seed,
        steps=args.steps,
        model=args.model,
        device=args.device,
        **model_options(args),
    )
    print(report.to_markdown(full=args.full))
    terms = args.num_steps * args.batch_size
    print(
        "\npasses when max abs diff <= atol + rtol * max|reference|; (atol, rtol): "
        + ", ".join(f"{kind} {tolerance(kind, terms)}" for kind in TOLERANCES)
    )
    if args.json:
        Path(args.json).write_text(json.dumps([{**asdict(r), "ok": r.ok} for r in report.rows], indent=1))
    if not report.rows:
        print("no implementation could run", file=sys.stderr)
        return 1
    ran = len({(r.backend, r.impl) for r in report.rows})
    if not report.ok:
        print("SOME IMPLEMENTATIONS DIFFER FROM THE REFERENCE")
        return 1
    if not report.complete:
        from ..backend import is_available

        installed = [name for name in FRAMEWORKS if is_available(name)] or ["numpy"]
        print(
            f"the {ran} implementations that ran agree with the reference, but {len(report.skipped)} "
            "requested did not run (listed above). To compare only what is installed here: "
            f"lstm-multi parity --backends {' '.join(installed)}"
        )
        return 1
    print(f"all {ran} implementations agree with the reference")
    return 0
