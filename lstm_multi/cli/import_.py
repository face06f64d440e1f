"""``lstm-multi import``: a model another framework wrote (a PyTorch state dict, a .keras file, an
ONNX model) -> an lstm-multi checkpoint that generates, traces gates and trains on every backend."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import DefaultsHelpFormatter, check_output_file


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "import",
        help="a PyTorch state dict (.pt), a .keras or an .onnx model -> a checkpoint "
        "(lstm-multi import lstm.pt --out model.safetensors --vocab vocab.json)",
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument(
        "file",
        help="a .pt/.pth state dict of one nn.LSTM, nn.GRU or nn.RNN (optionally nn.Embedding before, "
        "nn.Linear after); a .keras model of the same shape; an .onnx model lstm-multi exported",
    )
    parser.add_argument("--out", required=True, help="the checkpoint to write (model.safetensors)")
    parser.add_argument(
        "--vocab",
        help="a JSON list of the tokens in index order (the vocab.json export writes); needed for a "
        ".pt or .keras language model, which holds none",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from ..core.checkpoint import load_checkpoint
    from ..formats.importing import SOURCES, import_model

    check_output_file(args.out, "--out")
    out = import_model(args.file, args.out, vocab=args.vocab)
    ckpt = load_checkpoint(out)
    task = ckpt.hparams.get("task")
    what = f"a {task['name']} model" if task else f"a language model, vocabulary of {len(ckpt.vocab)}"
    source = SOURCES[Path(args.file).suffix.lower()]
    print(
        f"imported {source} ({args.file}): {ckpt.config.describe()}, {ckpt.config.num_hiddens} hidden units, "
        f"{what} -> {out}"
    )
    if not task:
        print(f"generate with: lstm-multi generate --checkpoint {out}")
    return 0
