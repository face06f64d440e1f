"""``lstm-multi prepare``: tokenize a corpus larger than memory once, into token files that
``lstm-multi train --data`` reads windows from (``core/tokenfile.py``)."""

from __future__ import annotations

import argparse
import time

from .common import DefaultsHelpFormatter, add_text_arguments, check_output_dir, fraction


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "prepare",
        help="tokenize a large text once into train.bin, val.bin and meta.json (for train --data)",
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument(
        "source", metavar="FILE_OR_DIR", help="a UTF-8 text file, or a folder: every .txt file in it, sorted"
    )
    parser.add_argument("--out", required=True, metavar="DATA_DIR", help="the folder to write the token files into")
    add_text_arguments(parser)
    parser.add_argument(
        "--val-fraction", type=fraction, default=0.05, help="the share of tokens (the end of the text) that validate"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def run(args: argparse.Namespace) -> int:
    from ..core.tokenfile import META, TRAIN, VAL, prepare

    check_output_dir(args.out, "--out")
    start = time.perf_counter()
    meta = prepare(
        args.source,
        args.out,
        tokens=args.tokens,
        preprocessing=args.preprocess,
        min_freq=args.min_freq,
        val_fraction=args.val_fraction,
        progress=not args.no_progress,
    )
    seconds = time.perf_counter() - start
    source = meta["source"]
    megabytes = source["bytes"] / 1e6
    print(
        f"read {len(source['files'])} file{'s' * (len(source['files']) > 1)}, {megabytes:.1f} MB in {seconds:.1f} s "
        f"({megabytes / max(seconds, 1e-9):.1f} MB/s); vocabulary of {len(meta['vocab'])} tokens ({meta['dtype']})"
    )
    print(
        f"wrote {args.out}/{TRAIN} ({meta['train_tokens']} tokens), {args.out}/{VAL} ({meta['val_tokens']} tokens), "
        f"{args.out}/{META}"
    )
    print(f"next: lstm-multi train --data {args.out}")
    return 0
