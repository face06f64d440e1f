"""``lstm-multi check``: grade a student's file against the NumPy reference (exit 0 right, 1 wrong,
2 when the file cannot be used)."""

from __future__ import annotations

import argparse

from ..backend import BACKENDS, backend_name
from .common import DefaultsHelpFormatter


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "check",
        help="check a solution of an exercise against the reference (lstm-multi check lstm_step "
        "my_lstm.py --backend jax)",
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument("name", help="the exercise (lstm-multi exercise --list shows them)")
    parser.add_argument("file", help="the student's Python file, defining a function named like the exercise")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        help="the framework the file is written in (default: $LSTM_MULTI_BACKEND or the first installed)",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from .. import exercises

    return exercises.check_file(args.name, args.file, backend=backend_name(args.backend)).status
