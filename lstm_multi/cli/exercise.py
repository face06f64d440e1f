"""``lstm-multi exercise``: print an exercise's stub for a student to fill in, or list the exercises."""

from __future__ import annotations

import argparse

from ..backend import BACKENDS, backend_name
from .common import DefaultsHelpFormatter


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "exercise",
        help="print an exercise's stub (lstm-multi exercise lstm_step --backend jax > my_lstm.py)",
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument("name", nargs="?", help="the exercise (lstm-multi exercise --list shows them)")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        help="the framework the student writes in (default: $LSTM_MULTI_BACKEND or the first installed)",
    )
    parser.add_argument("--list", action="store_true", help="list every exercise with its backends")
    return parser


def run(args: argparse.Namespace) -> int:
    from .. import exercises

    if args.list:
        print("\n".join(exercises.list_lines()))
        return 0
    if args.name is None:
        raise ValueError("name an exercise (e.g. lstm-multi exercise lstm_step), or --list to see them all.")
    print(exercises.stub(args.name, backend_name(args.backend)), end="")
    return 0
