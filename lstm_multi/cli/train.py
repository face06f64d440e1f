"""``lstm-multi train``: the character language model (d2l 10.1), or with ``--task`` the
course's other tasks (``train_task.py``).

Defaults reproduce d2l's LSTM chapter: 32 hidden units, batches of 1024 windows of 32
characters, SGD with lr 4, gradients clipped to norm 1, 50 epochs. ``--model`` and its
options choose any member of the family (GRU, RNN, stacked, peepholes, ...).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..backend import BACKENDS
from ..core.family import INITS, STACKED_INIT
from .common import (
    PREFIX,
    DefaultsHelpFormatter,
    EpochPrinter,
    StopOnSignals,
    add_device_argument,
    add_model_arguments,
    add_text_arguments,
    backend_on_device,
    can_draw,
    check_device_arguments,
    check_jit_compile,
    check_output_dir,
    describe_backend,
    describe_init,
    describe_model,
    interrupted,
    model_options,
    non_negative_int,
    positive_float,
    positive_int,
)
from .train_task import fill_task_defaults, train_task

if TYPE_CHECKING:
    from ..core.checkpoint import Checkpoint
    from ..core.data import TimeMachine
    from ..core.lm import LanguageModel
    from ..core.tokenfile import TokenFile

#: The arguments that define a training run: stored in its checkpoint, reused by --resume.
RUN_ARGS = (
    "task",
    "impl",
    "hidden",
    "optimizer",
    "lr",
    "lr_schedule",
    "clip",
    "batch_size",
    "num_steps",
    "num_train",
    "num_val",
    "seed",
    "text",
    "data",
    "preprocess",
    "tokens",
    "min_freq",
    "length",
    "tau",
    "head",
    "mlp_hiddens",
    "model",
    "num_layers",
    "bidirectional",
    "dropout",
    "peephole",
    "forget_bias",
    "reset_after",
    "embedding_dim",
    "init",
    "sigma",
)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    train = subparsers.add_parser(
        "train",
        help="train the character LM and sample from it, or a course task",
        formatter_class=DefaultsHelpFormatter,
    )
    train.add_argument(
        "--task",
        choices=("lm", "parentheses", "timeseries"),
        default="lm",
        help="lm: the Time Machine language model (d2l 10.1); parentheses: balanced or "
        "not (classification); timeseries: d2l 9.1's noisy sine (regression)",
    )
    train.add_argument(
        "--backend",
        choices=BACKENDS,
        help="default: $LSTM_MULTI_BACKEND or the first installed of torch, jax, tensorflow, mxnet",
    )
    train.add_argument(
        "--impl",
        choices=("scratch", "concise"),
        default="scratch",
        help="from-scratch cell or the framework's native layer",
    )
    train.add_argument("--hidden", type=positive_int, default=32, help="num_hiddens")
    train.add_argument(
        "--epochs",
        type=positive_int,
        help="passes over the training data (default: lm 50, parentheses 15, timeseries 20)",
    )
    train.add_argument(
        "--optimizer", choices=("sgd", "adam"), help="default: lm sgd (d2l), the tasks adam; both after clipping"
    )
    train.add_argument(
        "--lr",
        type=positive_float,
        help="learning rate (default: lm with sgd 4 (d2l), with adam 0.001; parentheses 0.01; timeseries 0.005)",
    )
    train.add_argument(
        "--lr-schedule",
        choices=("constant", "cosine"),
        help="constant, or cosine decay to 0 over all steps (default: timeseries cosine, else constant)",
    )
    train.add_argument("--clip", type=positive_float, default=1.0, help="gradient_clip_val")
    train.add_argument(
        "--batch-size", type=positive_int, help="examples per batch (default: lm 1024, parentheses 100, timeseries 16)"
    )
    train.add_argument("--num-steps", type=positive_int, default=32, help="lm: characters per window")
    train.add_argument(
        "--num-train",
        type=positive_int,
        help="training examples (default: lm 10000 "
        "windows, parentheses 10000 strings, timeseries the first 600 values)",
    )
    train.add_argument(
        "--num-val",
        type=positive_int,
        help="validation examples (default: lm 5000, parentheses 2000; timeseries: the rest of the series)",
    )
    train.add_argument("--length", type=positive_int, default=25, help="parentheses: symbols per string")
    train.add_argument("--tau", type=positive_int, default=4, help="timeseries: values per window")
    train.add_argument(
        "--head", choices=("linear", "mlp"), default="linear", help="tasks: the head on the last hidden state"
    )
    train.add_argument("--mlp-hiddens", type=positive_int, default=32, help="tasks: the MLP head's width")
    train.add_argument("--seed", type=non_negative_int, default=0, help="seeds the initialisation and the batch order")
    train.add_argument("--text", help="train on this UTF-8 text file instead of The Time Machine")
    train.add_argument(
        "--data",
        metavar="DATA_DIR",
        help="train on a corpus tokenized by lstm-multi prepare (read from disk, any size; "
        "--preprocess, --tokens and --min-freq are the ones it was prepared with)",
    )
    add_text_arguments(train)
    train.add_argument(
        "--init-from", metavar="CHECKPOINT", help="start from this checkpoint's parameters (any backend's)"
    )
    train.add_argument(
        "--out",
        help="folder for model.safetensors (last epoch), best.safetensors, "
        "history.json and curve.png (default: runs/latest, or the resumed run's)",
    )
    train.add_argument(
        "--resume",
        metavar="RUN_DIR_OR_CHECKPOINT",
        help="continue a run exactly (epochs, history, batch order) up to --epochs",
    )
    train.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    train.add_argument(
        "--jit-compile",
        action="store_true",
        help="TensorFlow's scratch layers: XLA compiles the training step "
        "(faster at small sizes, slower at h 256 / batch 1024: benchmarks/README.md)",
    )
    train.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="data-parallel workers, each taking an equal part of every batch: torch "
        "processes (gloo), JAX or TensorFlow CPU devices, MXNet contexts",
    )
    add_device_argument(train)
    add_model_arguments(train)
    train.add_argument(
        "--embedding-dim",
        type=positive_int,
        help="a learned embedding of this size in front of the layer (default: one-hot)",
    )
    train.add_argument(
        "--init",
        choices=INITS,
        help="the scratch layer's initialisation: d2l (N(0, sigma^2) weights), xavier (Glorot "
        "uniform), orthogonal (orthogonal recurrent matrices, Glorot input ones) "
        f"(default: d2l for one layer, {STACKED_INIT} for --num-layers > 1)",
    )
    train.add_argument(
        "--sigma", type=positive_float, help="the standard deviation of d2l's init (default 0.01; implies --init d2l)"
    )
    return train


def run(args: argparse.Namespace) -> int:
    from ..backend import backend_name

    if backend_name(args.backend) == "mxnet" and "DMLC_ROLE" in os.environ and parameter_server(args):
        return 0  # this process was the run's scheduler or a server
    if args.resume and args.init_from:
        raise ValueError(
            "--resume continues a run; --init-from starts a new one from a checkpoint's parameters: give one of them."
        )
    check_device_arguments(args, [backend_name(args.backend)])
    ckpt = resume_run(args) if args.resume else None
    fill_task_defaults(args)
    args.out = args.out or "runs/latest"
    check_output_dir(args.out, "--out")  # before training, so no trained model is lost
    if args.data and args.text:
        raise ValueError("--text trains on a text file, --data on a prepared corpus: give one of them.")
    if args.data and args.task != "lm":
        raise ValueError(f"--data is a language model's corpus; --task {args.task} makes its own data.")
    with run_lock(args):  # one run per folder, released when this process ends
        return train(args, ckpt)


def train(args: argparse.Namespace, ckpt: Checkpoint | None) -> int:
    """The run itself, in the folder this process holds (see :func:`run`)."""
    from .. import plot_history
    from ..core.checkpoint import RunCheckpoints
    from ..core.lm import build_model
    from ..core.optim import make_optimizer
    from ..core.tokenfile import TokenFile
    from ..core.trainer import Trainer

    check_jit_compile(args)
    status = start_workers(args)
    if status is not None:
        return status
    options = model_options(args)
    bk = backend_on_device(args)
    if args.task != "lm":
        if args.init_from:
            raise ValueError(
                "--init-from starts a language model from a checkpoint; for the tasks, use --resume to continue a run."
            )
        return train_task(args, bk, options, ckpt, {name: getattr(args, name) for name in RUN_ARGS})
    data = corpus(args)
    prepared = data.meta if isinstance(data, TokenFile) else None  # --data's meta.json
    if args.resume and ckpt is not None and prepared is not None:
        check_same_corpus(args.resume, ckpt, args.data, prepared)
    run_args = {name: getattr(args, name) for name in RUN_ARGS}
    model = build_model(
        bk,
        args.impl,
        len(data.vocab),
        args.hidden,
        args.lr,
        seed=args.seed,
        model=args.model,
        embedding_dim=args.embedding_dim,
        init=args.init,
        sigma=args.sigma,
        **options,
    )
    if args.jit_compile:
        model.rnn.jit_compile = True  # type: ignore[attr-defined]  # TF scratch (checked)
    if args.init_from:
        ckpt = load_compatible(args.init_from, model, data)
    elif ckpt is not None:
        load_compatible(args.resume, model, data, ckpt)
    if ckpt is not None:
        bk.set_params(model, ckpt.params)
        if args.resume and ckpt.optimizer is not None:
            bk.set_optimizer_state(model, ckpt.optimizer)
    unit = "characters" if args.tokens == "char" else f"words (vocabulary of {len(data.vocab)})"
    embedding = f", embedding dim {args.embedding_dim}" if args.embedding_dim else ""
    print(
        f"{describe_backend(bk)}, {args.impl} {describe_model(model.config)}, {args.hidden} hidden units"
        f"{embedding}{describe_init(model.rnn, args)}, {data.num_train} training windows of {args.num_steps} "
        f"{unit}" + (f" from {args.data} ({prepared['train_tokens']} tokens)" if prepared else "")
    )
    out = Path(args.out)
    hparams = {
        "backend": bk.NAME,
        "impl": args.impl,
        "model": model.config.to_dict(),
        "embedding_dim": args.embedding_dim,
        "num_hiddens": args.hidden,
        "lr": args.lr,
        "clip": args.clip,
        "batch_size": args.batch_size,
        "num_steps": args.num_steps,
        "seed": args.seed,
        "run": run_args,
    }
    if prepared is not None:  # the corpus a resumed run must continue on
        hparams["data_sha256"] = prepared["source"]["sha256"]
    trainer = Trainer(
        max_epochs=args.epochs,
        gradient_clip_val=args.clip,
        callbacks=[EpochPrinter(), RunCheckpoints(out, data.vocab.idx_to_token, hparams)],
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
    seconds = sum(r.seconds for r in history)
    print(
        f"train perplexity {last.train_ppl:.2f}, validation perplexity "
        f"{'-' if last.val_ppl is None else f'{last.val_ppl:.2f}'}, {seconds:.1f} s"
    )
    if last.val_ppl is not None and last.val_ppl >= len(data.vocab):
        print(
            f"warning: validation perplexity {last.val_ppl:.3g} is no better than guessing uniformly "
            f"among {len(data.vocab)} tokens: the model did not learn. Lower --lr.",
            file=sys.stderr,
        )
    print(f"sample: {model.predict(PREFIX, 50, data.vocab)!r}")
    written = [
        f"{out / 'model.safetensors'} (last epoch)",
        f"{out / 'best.safetensors'} (best validation)",
        str(out / "history.json"),
    ]
    if can_draw("train", ["curve.png"]):
        plot_history(history, out / "curve.png", title=f"{bk.NAME} {args.impl} {describe_model(model.config)}")
        written.append(str(out / "curve.png"))
    print(f"wrote {', '.join(written)}")
    print(
        f'next: lstm-multi generate --checkpoint {out / "model.safetensors"} --prefix "time traveller"\n'
        f"      lstm-multi train --resume {out} --epochs {args.epochs + 10}   (train further)"
    )
    return 0


def corpus(args: argparse.Namespace) -> TimeMachine | TokenFile:
    """The language model's windows: ``--data`` (a prepared corpus, whose options replace
    --preprocess, --tokens and --min-freq), ``--text`` or The Time Machine."""
    from ..core.data import TimeMachine
    from ..core.tokenfile import TokenFile

    if args.data:
        data = TokenFile(args.data, args.batch_size, args.num_steps, args.num_train, args.num_val, seed=args.seed)
        args.preprocess, args.tokens, args.min_freq = (data.meta[k] for k in ("preprocessing", "tokens", "min_freq"))
        return data
    return TimeMachine(
        args.batch_size,
        args.num_steps,
        args.num_train,
        args.num_val,
        text=args.text,
        seed=args.seed,
        preprocessing=args.preprocess,
        tokens=args.tokens,
        min_freq=args.min_freq,
    )


def check_same_corpus(path: str, ckpt: Checkpoint, data_dir: str, meta: dict[str, Any]) -> None:
    """--resume --data: the prepared corpus must be the one the run started on (same source checksum)."""
    trained, found = ckpt.hparams.get("data_sha256"), meta["source"]["sha256"]
    if trained is not None and trained != found:
        raise ValueError(
            f"{path} was trained on a corpus with SHA-256 {trained[:12]}..., but {data_dir} was "
            f"prepared from another text ({found[:12]}...); resuming needs the same corpus."
        )


def run_lock(args: argparse.Namespace) -> contextlib.AbstractContextManager[object]:
    """The lock of ``--out`` (``core/runlock.py``), taken by the process that writes the run's files:
    not by data-parallel workers other than 0, nor by the workers ``--workers`` starts (their
    launcher holds it). MXNet parameter-server workers learn their rank later: they take none."""
    from ..core.distributed import launched_rank
    from ..core.runlock import RunLock

    if launched_rank() != 0:
        return contextlib.nullcontext()
    resumed = args.resume and Path(args.out) in (Path(args.resume), Path(args.resume).parent)
    return RunLock(args.out, "--resume" if resumed else "--out", parent_ok="WORLD_SIZE" in os.environ)


def resume_run(args: argparse.Namespace) -> Checkpoint:
    """``--resume``: the checkpoint's run arguments replace ours (but --epochs, --backend, --out)."""
    from .. import load_checkpoint

    path = Path(args.resume)
    path = path / "model.safetensors" if path.is_dir() else path
    ckpt = load_checkpoint(path)
    if ckpt.training is None or "run" not in ckpt.hparams:
        raise ValueError(
            f"{path} holds no training state (it was not saved during a run); "
            "use --init-from to start a new run from its parameters."
        )
    for name, value in ckpt.hparams["run"].items():
        setattr(args, name, value)
    args.lr_schedule = ckpt.hparams["run"].get("lr_schedule", "constant")  # runs saved before schedules
    args.task = ckpt.hparams["run"].get("task", "lm")  # runs saved before the tasks were LMs
    if args.out is None:
        args.out = str(path.parent)
    done = ckpt.training["epoch"]
    if args.epochs <= done:
        raise ValueError(
            f"{path} has already trained {done} epochs; ask for more with --epochs (e.g. --epochs {done + 10})."
        )
    return ckpt


def load_compatible(
    path: str | Path, model: LanguageModel, data: TimeMachine | TokenFile, ckpt: Checkpoint | None = None
) -> Checkpoint:
    """A checkpoint that fits ``model`` and the data's vocabulary, else a clear error."""
    from .. import load_checkpoint

    ckpt = ckpt or load_checkpoint(path)
    if ckpt.vocab != data.vocab.idx_to_token:
        raise ValueError(
            f"{path} was trained with another vocabulary ({len(ckpt.vocab)} tokens); it cannot continue on this text."
        )
    if (ckpt.config, ckpt.embedding_dim) != (model.config, model.embedding_dim):
        raise ValueError(
            f"{path} holds a {describe_model(ckpt.config)} with {ckpt.config.num_hiddens} hidden "
            f"units{f', embedding {ckpt.embedding_dim}' if ckpt.embedding_dim else ''}; "
            "train with the same model options to continue from it."
        )
    return ckpt


def start_workers(args: argparse.Namespace) -> int | None:
    """``--workers N``, what the framework needs before it starts: torch runs one process per
    worker (spawned here, unless torchrun started this one); JAX and TensorFlow get N CPU devices.
    Returns the exit status when the workers ran in other processes, else None."""
    from ..backend import backend_name
    from ..core.distributed import request_host_devices

    name = backend_name(args.backend)
    if args.workers == 1 or name in ("mxnet", "numpy"):
        return None  # MXNet: contexts or the kvstore need no set-up; numpy: the Trainer's error
    if name == "torch":
        if "WORLD_SIZE" in os.environ:  # this is one of the workers
            return None
        from .. import get_backend

        get_backend("torch")  # a clear error if torch is missing
        from ..backends.torch.distributed import launch

        return launch(args.main, args.argv, args.workers)  # each worker runs main(argv) again
    if name == "tensorflow" and os.environ.get("TF_CONFIG"):
        return None  # one replica per process (MultiWorkerMirroredStrategy)
    # JAX over several processes: each brings its share of the devices
    request_host_devices(max(1, args.workers // int(os.environ.get("JAX_NUM_PROCESSES", "1"))))
    return None


def parameter_server(args: argparse.Namespace) -> bool:
    """A process of an MXNet parameter-server run (``DMLC_ROLE`` set), checked before MXNet waits
    for its peers: the scheduler and the servers serve from MXNet's import until the workers
    finish (returns True); a worker checks the run's variables against ``--workers`` (False)."""
    from .. import get_backend

    role = os.environ["DMLC_ROLE"]
    if role not in ("scheduler", "server", "worker"):  # MXNet would wait for ever
        raise ValueError(f"DMLC_ROLE must be scheduler, server or worker, got {role!r}.")
    get_backend("mxnet")  # a clear error if MXNet is missing; serves on the scheduler and servers
    if role != "worker":
        return True
    from ..backends.mxnet.distributed import check_cluster

    check_cluster(args.workers)  # with --workers 1 the other workers would wait for ever
    return False
