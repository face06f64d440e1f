"""``lstm-multi gates``: heatmaps (and, with --print, a table) of a trained LM's gates over a text."""

from __future__ import annotations

import argparse
import sys

from ..backend import BACKENDS
from .common import (
    PREFIX,
    DefaultsHelpFormatter,
    add_device_argument,
    check_output_file,
    describe_model,
    language_model,
    non_negative_int,
    vocab_of,
)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    gates = subparsers.add_parser(
        "gates", help="heatmaps of a trained LM's gates and states over a text", formatter_class=DefaultsHelpFormatter
    )
    gates.add_argument("--checkpoint", required=True, help="a language model's model.safetensors")
    gates.add_argument("--text", default=PREFIX, help="the text the model reads")
    gates.add_argument("--out", default="gates.png", help="the figure (PNG)")
    gates.add_argument("--layer", type=non_negative_int, default=0, help="which stacked layer (0: the first)")
    gates.add_argument("--print", action="store_true", help="also print each step's mean gate values")
    gates.add_argument("--backend", choices=BACKENDS, help="default: as for train")
    gates.add_argument(
        "--impl", choices=("scratch", "concise"), help="default: the one the checkpoint was trained with"
    )
    add_device_argument(gates)
    return gates


def run(args: argparse.Namespace) -> int:
    from .. import load_checkpoint
    from ..core.gates import gate_table, plot_gates, trace_text, unit_prefix
    from ..core.plot import MATPLOTLIB_HINT, matplotlib_available

    if not matplotlib_available():
        raise ValueError(f"gates draws its heatmaps with matplotlib, which is not installed: {MATPLOTLIB_HINT}.")
    check_output_file(args.out, "--out")
    ckpt = load_checkpoint(args.checkpoint)
    if ckpt.hparams.get("task"):
        raise ValueError(
            f"{args.checkpoint} holds a {ckpt.hparams['task']['name']} model; gates reads "
            "a language model's checkpoint."
        )
    model = language_model(ckpt, args)
    tokens, traces = trace_text(model, args.text, vocab_of(ckpt))
    prefix = unit_prefix(model.config, args.layer)
    if args.print:
        print(gate_table(tokens, traces, prefix))
    path = plot_gates(
        tokens,
        traces,
        args.out,
        prefix,
        title=f"{describe_model(model.config)}{f', layer {args.layer}' if prefix else ''}: "
        f"gates over {''.join(tokens)!r}",
    )
    print(f"wrote {path}", file=sys.stderr if args.print else sys.stdout)
    return 0
