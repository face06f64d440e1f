"""``lstm-multi train --task parentheses | timeseries``: the course's tasks, on the same
Module/Trainer as the language model (``train.py`` dispatches here)."""

from __future__ import annotations

import argparse
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .common import EpochPrinter, StopOnSignals, can_draw, describe_backend, describe_init, describe_model, interrupted

if TYPE_CHECKING:
    from ..core.checkpoint import Checkpoint
    from ..core.tasks import Parentheses, TimeSeries
    from ..core.tasks.models import TaskModel

#: Defaults that differ per task (the LM's are d2l's; the tasks' the course's).
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "lm": dict(epochs=50, optimizer="sgd", lr_schedule="constant", batch_size=1024, num_train=10000, num_val=5000),
    "parentheses": dict(
        epochs=15, optimizer="adam", lr=0.01, lr_schedule="constant", batch_size=100, num_train=10000, num_val=2000
    ),
    # A constant rate leaves the last epochs' validation MSE jittering by +-0.002 around 0.045
    # (the noise floor is 0.04); decaying it lets them settle.
    "timeseries": dict(
        epochs=20, optimizer="adam", lr=0.005, lr_schedule="cosine", batch_size=16, num_train=600, num_val=None
    ),
}
DEFAULT_LR = {"sgd": 4.0, "adam": 0.001}  # the LM's: d2l's SGD rate, Adam's usual one


def fill_task_defaults(args: argparse.Namespace) -> None:
    """Arguments left unset take the task's defaults (then the optimizer's learning rate)."""
    defaults = TASK_DEFAULTS[args.task]
    for name, value in defaults.items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    if args.lr is None:
        args.lr = defaults.get("lr", DEFAULT_LR[args.optimizer])
    if args.task == "lm" and (args.bidirectional or args.head != "linear"):
        raise ValueError(
            "--bidirectional and --head are options of the tasks (--task parentheses or "
            "timeseries): a language model reads forward only and has its output layer."
        )


def task_data(args: argparse.Namespace) -> Parentheses | TimeSeries:
    """The data module of ``args.task`` (seeded by ``--seed``)."""
    from ..core.tasks import Parentheses, TimeSeries

    if args.task == "parentheses":
        return Parentheses(args.batch_size, args.length, args.num_train, args.num_val, seed=args.seed)
    return TimeSeries(args.batch_size, args.tau, num_train=args.num_train, seed=args.seed)


def task_model(bk: ModuleType, args: argparse.Namespace, options: dict[str, Any], num_inputs: int) -> TaskModel:
    from ..core.family import LayerConfig
    from ..core.lm import build_layer

    config = LayerConfig(args.model, num_inputs, args.hidden, **options)
    layer = build_layer(bk, args.impl, config, seed=args.seed, init=args.init, sigma=args.sigma)
    head = dict(head=args.head, mlp_hiddens=args.mlp_hiddens, lr=args.lr, seed=args.seed, optimizer=args.optimizer)
    if args.task == "parentheses":
        return bk.Classifier(layer, num_classes=2, **head)
    return bk.Regressor(layer, **head)


def train_task(
    args: argparse.Namespace, bk: ModuleType, options: dict[str, Any], ckpt: Checkpoint | None, run_args: dict[str, Any]
) -> int:
    """Train a task model; print its validation metric beside the references a student compares with."""
    from ..core.checkpoint import RunCheckpoints
    from ..core.optim import make_optimizer
    from ..core.plot import plot_history
    from ..core.tasks import ALPHABET, NOISE_FLOOR, Parentheses, Regressor, TimeSeries
    from ..core.tasks.timeseries import plot_forecasts
    from ..core.trainer import Trainer

    data = task_data(args)
    vocab = list(ALPHABET) if args.task == "parentheses" else []
    model = task_model(bk, args, options, len(vocab) or 1)
    if args.jit_compile:
        model.rnn.jit_compile = True  # type: ignore[attr-defined]  # TF scratch (checked)
    if ckpt is not None:
        bk.set_params(model, ckpt.params)
        if ckpt.optimizer is not None:
            bk.set_optimizer_state(model, ckpt.optimizer)
    what = (
        f"{data.num_train} strings of length {args.length}"
        if args.task == "parentheses"
        else f"{data.num_train} windows of {args.tau} values"
    )
    print(
        f"{describe_backend(bk)}, task {args.task}, {args.impl} {describe_model(model.config)}, {args.hidden} "
        f"hidden units{describe_init(model.rnn, args)}, {args.head} head, {args.optimizer} lr {args.lr} "
        f"({args.lr_schedule}), {what}"
    )
    out = Path(args.out)
    hparams = {
        "backend": bk.NAME,
        "impl": args.impl,
        "model": model.config.to_dict(),
        "task": model.task_hparams(args.task),
        "num_hiddens": args.hidden,
        "lr": args.lr,
        "clip": args.clip,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "run": run_args,
    }
    trainer = Trainer(
        max_epochs=args.epochs,
        gradient_clip_val=args.clip,
        callbacks=[EpochPrinter(), RunCheckpoints(out, vocab, hparams)],
        progress=not args.no_progress,
        optimizer=make_optimizer(args.optimizer, args.lr),
        lr_schedule=args.lr_schedule,
        workers=args.workers,
    )
    with StopOnSignals(trainer) as stop:
        history = trainer.fit(model, data, resume=ckpt.training if ckpt is not None and args.resume else None)
    if trainer.interrupted:
        return interrupted(stop.signal, trainer, out)
    if not trainer.is_chief:
        return 0
    last = history[-1]
    if isinstance(data, Parentheses):
        print(
            f"validation accuracy {last.metrics['val_accuracy']:.4f} (chance: 0.5), "
            f"{sum(r.seconds for r in history):.1f} s"
        )
    else:
        print(
            f"validation MSE {last.metrics['val_mse']:.4f}; linear autoregression AR({args.tau}) "
            f"{data.baseline_mse:.4f}; noise floor {NOISE_FLOOR:.4f}"
        )
    written = [out / "model.safetensors", out / "best.safetensors", out / "history.json"]
    figures = ["curve.png", "forecasts.png"] if args.task == "timeseries" else ["curve.png"]
    if can_draw("train", figures):
        plot_history(
            history, out / "curve.png", title=f"{args.task}: {bk.NAME} {args.impl} {describe_model(model.config)}"
        )
        if isinstance(model, Regressor) and isinstance(data, TimeSeries):  # the timeseries task
            plot_forecasts(model, data, out / "forecasts.png")
        written += [out / name for name in figures]
    print(f"wrote {', '.join(map(str, written))}")
    return 0
