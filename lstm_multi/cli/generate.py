"""``lstm-multi generate``: continue a prefix with a trained language model (greedy or sampled)."""

from __future__ import annotations

import argparse

from ..backend import BACKENDS
from .common import (
    PREFIX,
    DefaultsHelpFormatter,
    add_device_argument,
    language_model,
    non_negative_int,
    positive_float,
    positive_int,
    vocab_of,
)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    gen = subparsers.add_parser(
        "generate", help="continue a prefix with a trained checkpoint", formatter_class=DefaultsHelpFormatter
    )
    gen.add_argument("--checkpoint", required=True, help="a model.safetensors of any backend")
    gen.add_argument("--backend", choices=BACKENDS, help="default: as for train")
    gen.add_argument("--impl", choices=("scratch", "concise"), help="default: the one the checkpoint was trained with")
    gen.add_argument("--prefix", default=PREFIX, help="text to continue")
    gen.add_argument("--num-preds", type=non_negative_int, default=50, help="characters to generate")
    gen.add_argument(
        "--temperature",
        type=float,
        help="0: greedy (d2l); > 0: sample from softmax(logits / T) (default: greedy, or 1 with --top-k or --top-p)",
    )
    gen.add_argument("--top-k", type=positive_int, help="sample among the k most likely characters")
    gen.add_argument(
        "--top-p",
        type=positive_float,
        help="nucleus sampling: among the most likely characters whose probabilities reach p",
    )
    gen.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        help="seeds sampling: the same seed gives the same text on every backend",
    )
    add_device_argument(gen)
    return gen


def run(args: argparse.Namespace) -> int:
    from .. import load_checkpoint

    ckpt = load_checkpoint(args.checkpoint)
    if ckpt.hparams.get("task"):
        raise ValueError(
            f"{args.checkpoint} holds a {ckpt.hparams['task']['name']} model, which does not "
            "generate text; give a language model's checkpoint."
        )
    model = language_model(ckpt, args)
    print(
        model.predict(
            args.prefix,
            args.num_preds,
            vocab_of(ckpt),
            temperature=args.temperature,
            seed=args.seed,
            top_k=args.top_k,
            top_p=args.top_p,
        )
    )
    return 0
