"""``lstm-multi COMMAND``: prepare, train, generate, gates, parity, bench, export, import, exercise, check.

One module per command (as pip and the Hugging Face CLI do), each with ``add_parser(subparsers)``
and ``run(args) -> int``; what several share is in ``common.py``. A new command is a new module
and its name in :data:`COMMANDS` (a Python keyword's module has a trailing ``_``: ``import_.py``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from .. import __version__
from ..backend import BackendError

#: The commands, in the order --help lists them: the modules of this package of the same names.
COMMANDS = ("prepare", "train", "generate", "gates", "parity", "bench", "export", "import", "exercise", "check")


def module_of(command: str) -> str:
    """The module of ``command`` in this package: its name, ``import_`` for ``import`` (a keyword)."""
    import keyword

    return command + "_" if keyword.iskeyword(command) else command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lstm-multi", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        command = importlib.import_module(f"{__name__}.{module_of(name)}")
        command.add_parser(subparsers).set_defaults(func=command.run)
    return parser


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    print(f"lstm-multi: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """``lstm-multi ARGS``: parse, run the command; its exit status (2 for our errors, printed as one line)."""
    import warnings

    args = build_parser().parse_args(argv)
    # what --workers reruns in each process (torch: one process per worker, each calling main(argv))
    args.main, args.argv = main, sys.argv[1:] if argv is None else list(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning  # one plain line, no source location
        try:
            return args.func(args)
        except (BackendError, ValueError, FloatingPointError) as err:
            # Our own errors say what was wrong and what is valid; no traceback; once per run.
            if os.environ.get("RANK", "0") == "0":
                print(f"lstm-multi {args.command}: error: {err}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:  # outside training (which stops cleanly by itself)
            print(f"\nlstm-multi {args.command}: interrupted", file=sys.stderr)
            return 130
