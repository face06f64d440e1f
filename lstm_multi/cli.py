"""``lstm-multi train | generate | parity | bench``: the command line.

Defaults reproduce d2l's LSTM chapter: 32 hidden units, batches of 1024 windows
of 32 characters, SGD with lr 4, gradients clipped to norm 1, 50 epochs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .backend import BACKENDS, BackendError

PREFIX = "time traveller"


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _non_negative_float(text):
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lstm-multi", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train the character LM and sample from it")
    train.add_argument("--backend", choices=BACKENDS, help="default: $LSTM_MULTI_BACKEND or "
                       "the first installed of torch, jax, tensorflow, mxnet")
    train.add_argument("--impl", choices=("scratch", "concise"), default="scratch")
    train.add_argument("--hidden", type=_positive_int, default=32, help="num_hiddens")
    train.add_argument("--epochs", type=_positive_int, default=50)
    train.add_argument("--lr", type=_positive_float, default=4.0)
    train.add_argument("--clip", type=_positive_float, default=1.0, help="gradient_clip_val")
    train.add_argument("--batch-size", type=_positive_int, default=1024)
    train.add_argument("--num-steps", type=_positive_int, default=32)
    train.add_argument("--num-train", type=_positive_int, default=10000)
    train.add_argument("--num-val", type=_positive_int, default=5000)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--text", help="train on this UTF-8 text file instead of The Time Machine")
    train.add_argument("--init-from", metavar="CHECKPOINT",
                       help="start from this checkpoint's parameters (any backend's)")
    train.add_argument("--out", default="runs/latest", help="folder for model.safetensors, "
                       "history.json and curve.png")
    train.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    gen = sub.add_parser("generate", help="continue a prefix with a trained checkpoint")
    gen.add_argument("--checkpoint", required=True)
    gen.add_argument("--backend", choices=BACKENDS)
    gen.add_argument("--impl", choices=("scratch", "concise"),
                     help="default: the one the checkpoint was trained with")
    gen.add_argument("--prefix", default=PREFIX)
    gen.add_argument("--num-preds", type=int, default=50)
    gen.add_argument("--temperature", type=float, default=0.0, help="0: greedy (d2l)")
    gen.add_argument("--seed", type=int, default=0)

    par = sub.add_parser("parity", help="compare every implementation with the NumPy reference")
    par.add_argument("--backends", nargs="+", choices=BACKENDS, help="default: all four")
    par.add_argument("--hidden", type=_positive_int, default=32)
    par.add_argument("--num-steps", type=_positive_int, default=16)
    par.add_argument("--batch-size", type=_positive_int, default=8)
    par.add_argument("--steps", type=_positive_int, default=20, help="SGD steps of the trajectory")
    par.add_argument("--seed", type=int, default=0)
    par.add_argument("--full", action="store_true", help="every quantity, not the worst of each kind")
    par.add_argument("--json", metavar="FILE", help="also write every row as JSON")

    bench = sub.add_parser("bench", help="training and generation tokens/s per implementation")
    bench.add_argument("--backends", nargs="+", choices=BACKENDS, help="default: all four")
    bench.add_argument("--impls", nargs="+", choices=("scratch", "concise", "d2l"),
                       default=["scratch", "concise", "d2l"])
    bench.add_argument("--hidden", nargs="+", type=_positive_int, default=[32, 256])
    bench.add_argument("--batch-size", nargs="+", type=_positive_int, default=[1024, 32])
    bench.add_argument("--num-steps", type=_positive_int, default=32)
    bench.add_argument("--steps", type=_positive_int, default=10, help="timed training steps, at least")
    bench.add_argument("--min-seconds", type=_non_negative_float, default=1.0,
                       help="time more steps until this many seconds have passed")
    bench.add_argument("--gen-tokens", type=_positive_int, default=100)
    bench.add_argument("--out", default="bench-results", help="folder for results.md and results.json")
    return parser


class _EpochPrinter:
    """Prints one line per epoch above the progress bar."""

    def on_fit_start(self, trainer, model, data):
        pass

    def on_epoch_end(self, trainer, model, record):
        from tqdm.auto import tqdm

        val = "-" if record.val_ppl is None else f"{record.val_ppl:.2f}"
        tqdm.write(f"epoch {record.epoch:3d}  train ppl {record.train_ppl:7.2f}  val ppl {val:>7}"
                   f"  ({record.seconds:.2f} s)")

    def on_fit_end(self, trainer, model):
        pass


def train(args) -> int:
    from . import get_backend, load_checkpoint, plot_history, save_checkpoint
    from .core.data import TimeMachine
    from .core.lm import build_model
    from .core.trainer import Trainer

    bk = get_backend(args.backend)
    data = TimeMachine(args.batch_size, args.num_steps, args.num_train, args.num_val,
                       text=args.text, seed=args.seed)
    model = build_model(bk, args.impl, len(data.vocab), args.hidden, args.lr, seed=args.seed)
    if args.init_from:
        ckpt = load_checkpoint(args.init_from)
        if ckpt.vocab != data.vocab.idx_to_token:
            raise ValueError(f"{args.init_from} was trained with another vocabulary "
                             f"({len(ckpt.vocab)} tokens); it cannot continue on this text.")
        bk.set_params(model, ckpt.params)
    print(f"backend {bk.NAME}, {args.impl} LSTM, {args.hidden} hidden units, "
          f"{data.num_train} training windows of {args.num_steps} characters")
    trainer = Trainer(max_epochs=args.epochs, gradient_clip_val=args.clip,
                      callbacks=[_EpochPrinter()], progress=not args.no_progress)
    history = trainer.fit(model, data)
    last = history[-1]
    seconds = sum(r.seconds for r in history)
    print(f"train perplexity {last.train_ppl:.2f}, validation perplexity "
          f"{'-' if last.val_ppl is None else f'{last.val_ppl:.2f}'}, {seconds:.1f} s")
    print(f"sample: {model.predict(PREFIX, 50, data.vocab)!r}")

    out = Path(args.out)
    hparams = {"backend": bk.NAME, "impl": args.impl, "num_hiddens": args.hidden, "lr": args.lr,
               "clip": args.clip, "batch_size": args.batch_size, "num_steps": args.num_steps,
               "epochs": len(history), "seed": args.seed, "val_ppl": last.val_ppl}
    save_checkpoint(out / "model.safetensors", bk.get_params(model), data.vocab.idx_to_token, hparams)
    (out / "history.json").write_text(json.dumps([r.as_dict() for r in history], indent=1))
    plot_history(history, out / "curve.png", title=f"{bk.NAME} {args.impl} LSTM")
    print(f"wrote {out / 'model.safetensors'}, {out / 'history.json'}, {out / 'curve.png'}")
    return 0


def generate(args) -> int:
    from . import get_backend, load_checkpoint
    from .core.data import Vocab
    from .core.lm import build_model

    ckpt = load_checkpoint(args.checkpoint)
    bk = get_backend(args.backend)
    vocab = Vocab.from_tokens(ckpt.vocab)
    impl = args.impl or ckpt.hparams.get("impl", "scratch")
    model = build_model(bk, impl, len(vocab), ckpt.params["W_hq"].shape[0],
                        ckpt.hparams.get("lr", 1.0))
    bk.set_params(model, ckpt.params)
    print(model.predict(args.prefix, args.num_preds, vocab, temperature=args.temperature,
                        seed=args.seed))
    return 0


def parity(args) -> int:
    from dataclasses import asdict

    from .core.parity import TOLERANCES, parity as run_parity, tolerance

    report = run_parity(args.backends, hidden=args.hidden, num_steps=args.num_steps,
                        batch_size=args.batch_size, seed=args.seed, steps=args.steps)
    print(report.to_markdown(full=args.full))
    terms = args.num_steps * args.batch_size
    print("\npasses when max abs diff <= atol + rtol * max|reference|; (atol, rtol): "
          + ", ".join(f"{kind} {tolerance(kind, terms)}" for kind in TOLERANCES))
    if args.json:
        Path(args.json).write_text(json.dumps(
            [{**asdict(r), "ok": r.ok} for r in report.rows], indent=1))
    if not report.rows:
        print("no implementation could run", file=sys.stderr)
        return 1
    print("all implementations agree with the reference" if report.ok
          else "SOME IMPLEMENTATIONS DIFFER FROM THE REFERENCE")
    return 0 if report.ok else 1


def bench(args) -> int:
    from .backend import BACKENDS as ALL
    from .bench import run, to_markdown

    results = run(args.backends or ALL, args.impls, args.hidden, args.batch_size, args.num_steps,
                  args.steps, args.gen_tokens, args.min_seconds)
    table = to_markdown(results)
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(table + "\n")
    (out / "results.json").write_text(json.dumps(results, indent=1))
    print(f"wrote {out / 'results.md'} and {out / 'results.json'}")
    return 0 if all("error" not in r for r in results) else 1


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"train": train, "generate": generate, "parity": parity, "bench": bench}[args.command](args)
    except (BackendError, ValueError, FloatingPointError) as err:
        # Our own errors say what was wrong and what is valid; no traceback.
        print(f"lstm-multi {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
