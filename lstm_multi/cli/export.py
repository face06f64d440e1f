"""``lstm-multi export``: write a checkpoint's model in a format its own runtime loads (ONNX,
torch.export, Keras, jax.export, MXNet), with ``vocab.json`` beside it."""

from __future__ import annotations

import argparse

from .common import DefaultsHelpFormatter, check_output_file


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from ..formats import FORMATS

    parser = subparsers.add_parser(
        "export",
        help="write a trained model for ONNX Runtime, PyTorch, Keras, JAX or MXNet "
        "(lstm-multi export runs/tm/best.safetensors --format onnx --out model.onnx)",
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument("checkpoint", help="a checkpoint written by lstm-multi train (a language or task model)")
    parser.add_argument(
        "--format",
        required=True,
        choices=FORMATS,
        help="onnx: ONNX operators; torch: a torch.export program (.pt2); keras: a .keras file; "
        "jax: a serialized jax.export function; mxnet: Gluon symbol and params files (OUT-symbol.json)",
    )
    parser.add_argument("--out", required=True, help="the file to write (mxnet: the prefix of its two files)")
    return parser


def run(args: argparse.Namespace) -> int:
    from ..core.checkpoint import load_checkpoint
    from ..formats import check_installed, export, usage
    from ..formats.model import describe

    check_installed(args.format)  # before reading anything: say what to install
    check_output_file(args.out, "--out")
    kind = describe(load_checkpoint(args.checkpoint)).kind
    path = export(args.checkpoint, args.format, args.out)
    print(f"wrote {path} and {path.parent / 'vocab.json'}; to run it:")
    print(usage(args.format, path, kind))
    return 0
