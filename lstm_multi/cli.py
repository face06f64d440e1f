"""``lstm-multi train | generate | gates | parity | bench``: the command line.

Defaults reproduce d2l's LSTM chapter: 32 hidden units, batches of 1024 windows
of 32 characters, SGD with lr 4, gradients clipped to norm 1, 50 epochs. ``--model``
and its options choose any member of the family (GRU, RNN, stacked, peepholes, ...);
``--task`` the course's other tasks (``cli_tasks.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import __version__
from .backend import BACKENDS, FRAMEWORKS, BackendError
from .core.family import MODELS

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


def _non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def _dropout(text):
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {text}")
    return value


def add_model_arguments(parser, dropout: bool = True) -> None:
    """The family's options (train builds the model from them; parity compares it)."""
    group = parser.add_argument_group("model (the family: LSTM, GRU, RNN)")
    group.add_argument("--model", choices=MODELS, default="lstm", help="the recurrent cell")
    group.add_argument("--num-layers", type=_positive_int, default=1, help="layers stacked")
    group.add_argument("--bidirectional", action="store_true",
                       help="both directions (tasks; parity compares the layer: an LM runs forward)")
    if dropout:
        group.add_argument("--dropout", type=_dropout, default=0.0,
                           help="dropout between stacked layers, in training only")
    group.add_argument("--peephole", nargs="?", const="diagonal", choices=("diagonal", "full"),
                       help="LSTM: peephole connections (diagonal: Gers et al. 2002; full: matrices "
                            "reading the previous cell); scratch only")
    group.add_argument("--forget-bias", type=float, default=0.0, help="LSTM: initial forget-gate bias")
    reset = group.add_mutually_exclusive_group()
    reset.add_argument("--reset-after", dest="reset_after", action="store_true", default=True,
                       help="GRU: reset gate after the recurrent matmul (cuDNN, torch, Keras; default)")
    reset.add_argument("--reset-before", dest="reset_after", action="store_false",
                       help="GRU: reset gate before it (d2l's form; scratch, and Keras' native GRU)")


def model_options(args) -> dict:
    """The LayerConfig options the arguments set (only those of the chosen cell)."""
    options = {"num_layers": args.num_layers}
    for name in ("dropout", "bidirectional"):
        if getattr(args, name, None):
            options[name] = getattr(args, name)
    if args.model == "lstm":
        options.update(peephole=args.peephole, forget_bias=args.forget_bias)
    elif args.peephole or args.forget_bias:
        raise ValueError(f"--peephole and --forget-bias are LSTM options, not {args.model.upper()} ones.")
    if args.model == "gru":
        options["reset_after"] = args.reset_after
    elif not args.reset_after:
        raise ValueError(f"--reset-before is a GRU option, not an {args.model.upper()} one.")
    return options


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default, unless its help already says it or there is none to show."""

    def _get_help_string(self, action):
        if "default" in (action.help or "") or action.default is None or action.default is False \
                or isinstance(action, argparse._StoreFalseAction):
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lstm-multi", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    defaults = {"formatter_class": DefaultsHelpFormatter}  # --help shows defaults

    train = sub.add_parser("train", help="train the character LM and sample from it, or a course task",
                           **defaults)
    train.add_argument("--task", choices=("lm", "parentheses", "timeseries"), default="lm",
                       help="lm: the Time Machine language model (d2l 10.1); parentheses: balanced or "
                            "not (classification); timeseries: d2l 9.1's noisy sine (regression)")
    train.add_argument("--backend", choices=BACKENDS, help="default: $LSTM_MULTI_BACKEND or "
                       "the first installed of torch, jax, tensorflow, mxnet")
    train.add_argument("--impl", choices=("scratch", "concise"), default="scratch",
                       help="from-scratch cell or the framework's native layer")
    train.add_argument("--hidden", type=_positive_int, default=32, help="num_hiddens")
    train.add_argument("--epochs", type=_positive_int, help="passes over the training data (default: lm 50, "
                       "parentheses 15, timeseries 20)")
    train.add_argument("--optimizer", choices=("sgd", "adam"),
                       help="default: lm sgd (d2l), the tasks adam; both after clipping")
    train.add_argument("--lr", type=_positive_float, help="learning rate (default: lm with sgd 4 (d2l), "
                       "with adam 0.001; parentheses 0.01; timeseries 0.005)")
    train.add_argument("--lr-schedule", choices=("constant", "cosine"),
                       help="constant, or cosine decay to 0 over all steps (default: timeseries cosine, "
                            "else constant)")
    train.add_argument("--clip", type=_positive_float, default=1.0, help="gradient_clip_val")
    train.add_argument("--batch-size", type=_positive_int,
                       help="examples per batch (default: lm 1024, parentheses 100, timeseries 16)")
    train.add_argument("--num-steps", type=_positive_int, default=32, help="lm: characters per window")
    train.add_argument("--num-train", type=_positive_int, help="training examples (default: lm 10000 "
                       "windows, parentheses 10000 strings, timeseries the first 600 values)")
    train.add_argument("--num-val", type=_positive_int, help="validation examples (default: lm 5000, "
                       "parentheses 2000; timeseries: the rest of the series)")
    train.add_argument("--length", type=_positive_int, default=25, help="parentheses: symbols per string")
    train.add_argument("--tau", type=_positive_int, default=4, help="timeseries: values per window")
    train.add_argument("--head", choices=("linear", "mlp"), default="linear",
                       help="tasks: the head on the last hidden state")
    train.add_argument("--mlp-hiddens", type=_positive_int, default=32, help="tasks: the MLP head's width")
    train.add_argument("--seed", type=_non_negative_int, default=0,
                       help="seeds the initialisation and the batch order")
    train.add_argument("--text", help="train on this UTF-8 text file instead of The Time Machine")
    train.add_argument("--preprocess", choices=("d2l", "none"), default="d2l",
                       help="d2l: letters a-z and space, lower case (the book's); none: the text's own "
                            "characters, any language")
    train.add_argument("--tokens", choices=("char", "word"), default="char",
                       help="characters (d2l) or words (generation joins them with spaces)")
    train.add_argument("--min-freq", type=_non_negative_int,
                       help="rarer tokens read as <unk> (default: 0 for characters, 2 for words)")
    train.add_argument("--init-from", metavar="CHECKPOINT",
                       help="start from this checkpoint's parameters (any backend's)")
    train.add_argument("--out", help="folder for model.safetensors (last epoch), best.safetensors, "
                       "history.json and curve.png (default: runs/latest, or the resumed run's)")
    train.add_argument("--resume", metavar="RUN_DIR_OR_CHECKPOINT",
                       help="continue a run exactly (epochs, history, batch order) up to --epochs")
    train.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    train.add_argument("--workers", type=_positive_int, default=1,
                       help="data-parallel workers, each taking an equal part of every batch: torch "
                            "processes (gloo), JAX or TensorFlow CPU devices, MXNet contexts")
    add_model_arguments(train)
    train.add_argument("--embedding-dim", type=_positive_int,
                       help="a learned embedding of this size in front of the layer (default: one-hot)")

    gen = sub.add_parser("generate", help="continue a prefix with a trained checkpoint", **defaults)
    gen.add_argument("--checkpoint", required=True, help="a model.safetensors of any backend")
    gen.add_argument("--backend", choices=BACKENDS, help="default: as for train")
    gen.add_argument("--impl", choices=("scratch", "concise"),
                     help="default: the one the checkpoint was trained with")
    gen.add_argument("--prefix", default=PREFIX, help="text to continue")
    gen.add_argument("--num-preds", type=_non_negative_int, default=50, help="characters to generate")
    gen.add_argument("--temperature", type=float, default=0.0, help="0: greedy (d2l)")
    gen.add_argument("--top-k", type=_positive_int, help="sample among the k most likely characters")
    gen.add_argument("--top-p", type=_positive_float,
                     help="nucleus sampling: among the most likely characters whose probabilities reach p")
    gen.add_argument("--seed", type=_non_negative_int, default=0,
                     help="seeds sampling: the same seed gives the same text on every backend")

    gates = sub.add_parser("gates", help="heatmaps of a trained LM's gates and states over a text",
                           **defaults)
    gates.add_argument("--checkpoint", required=True, help="a language model's model.safetensors")
    gates.add_argument("--text", default="time traveller", help="the text the model reads")
    gates.add_argument("--out", default="gates.png", help="the figure (PNG)")
    gates.add_argument("--layer", type=_non_negative_int, default=0, help="which stacked layer (0: the first)")
    gates.add_argument("--print", action="store_true", help="also print each step's mean gate values")
    gates.add_argument("--backend", choices=BACKENDS, help="default: as for train")
    gates.add_argument("--impl", choices=("scratch", "concise"),
                       help="default: the one the checkpoint was trained with")

    par = sub.add_parser("parity", help="compare every implementation with the NumPy reference", **defaults)
    par.add_argument("--backends", nargs="+", choices=BACKENDS, help="default: the four frameworks")
    par.add_argument("--hidden", type=_positive_int, default=32, help="num_hiddens")
    par.add_argument("--num-steps", type=_positive_int, default=16, help="time steps of the case")
    par.add_argument("--batch-size", type=_positive_int, default=8, help="sequences of the case")
    par.add_argument("--steps", type=_positive_int, default=20, help="SGD steps of the trajectory")
    par.add_argument("--seed", type=_non_negative_int, default=0, help="seeds the case")
    par.add_argument("--full", action="store_true", help="every quantity, not the worst of each kind")
    par.add_argument("--json", metavar="FILE", help="also write every row as JSON")
    add_model_arguments(par, dropout=False)

    bench = sub.add_parser("bench", help="training and generation tokens/s per implementation", **defaults)
    bench.add_argument("--backends", nargs="+", choices=BACKENDS, help="default: the four frameworks")
    bench.add_argument("--impls", nargs="+", choices=("scratch", "concise", "d2l"),
                       default=["scratch", "concise", "d2l"], help="implementations to time")
    bench.add_argument("--models", nargs="+", choices=("lstm", "gru", "rnn"), default=["lstm"],
                       help="the cells to time (the book's d2l loop: LSTM only)")
    bench.add_argument("--hidden", nargs="+", type=_positive_int, default=[32, 256], help="num_hiddens")
    bench.add_argument("--batch-size", nargs="+", type=_positive_int, default=[1024, 32],
                       help="windows per batch")
    bench.add_argument("--num-steps", type=_positive_int, default=32, help="characters per window")
    bench.add_argument("--steps", type=_positive_int, default=10, help="timed training steps, at least")
    bench.add_argument("--min-seconds", type=_non_negative_float, default=1.0,
                       help="time more steps until this many seconds have passed")
    bench.add_argument("--gen-tokens", type=_positive_int, default=100, help="characters generated")
    bench.add_argument("--out", default="bench-results", help="folder for results.md and results.json")
    return parser


class EpochPrinter:
    """Prints one line per epoch above the progress bar."""

    def on_fit_start(self, trainer, model, data):
        pass

    def on_epoch_end(self, trainer, model, record):
        from tqdm.auto import tqdm

        if trainer.is_chief:
            tqdm.write(f"epoch {record.epoch:3d}  {record.summary()}  ({record.seconds:.2f} s)")

    def on_fit_end(self, trainer, model):
        pass


#: The arguments that define a training run: stored in its checkpoint, reused by --resume.
RUN_ARGS = ("task", "impl", "hidden", "optimizer", "lr", "lr_schedule", "clip", "batch_size", "num_steps",
            "num_train", "num_val", "seed", "text", "preprocess", "tokens", "min_freq", "length", "tau", "head",
            "mlp_hiddens", "model", "num_layers", "bidirectional", "dropout", "peephole", "forget_bias",
            "reset_after", "embedding_dim")


def resume_run(args):
    """``--resume``: the checkpoint's run arguments replace ours (but --epochs, --backend, --out)."""
    from . import load_checkpoint

    path = Path(args.resume)
    path = path / "model.safetensors" if path.is_dir() else path
    ckpt = load_checkpoint(path)
    if ckpt.training is None or "run" not in ckpt.hparams:
        raise ValueError(f"{path} holds no training state (it was not saved during a run); "
                         "use --init-from to start a new run from its parameters.")
    for name, value in ckpt.hparams["run"].items():
        setattr(args, name, value)
    args.lr_schedule = ckpt.hparams["run"].get("lr_schedule", "constant")  # runs saved before schedules
    args.task = ckpt.hparams["run"].get("task", "lm")  # runs saved before the tasks were LMs
    if args.out is None:
        args.out = str(path.parent)
    done = ckpt.training["epoch"]
    if args.epochs <= done:
        raise ValueError(f"{path} has already trained {done} epochs; ask for more with --epochs "
                         f"(e.g. --epochs {done + 10}).")
    return ckpt


class StopOnSignals:
    """Ctrl-C (SIGINT) or SIGTERM: ask the trainer to stop after the current step."""

    def __init__(self, trainer):
        self.trainer, self.signal, self.previous = trainer, None, {}

    def __enter__(self):
        import signal

        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        import signal

        self.signal = signum
        self.trainer.request_stop()
        signal.signal(signum, self.previous[signum])  # a second one stops at once

    def __exit__(self, *exc):
        import signal

        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        return False


def start_workers(args) -> int | None:
    """``--workers N``, what the framework needs before it starts: torch runs one process per
    worker (spawned here, unless torchrun started this one); JAX and TensorFlow get N CPU devices.
    Returns the exit status when the workers ran in other processes, else None."""
    from .backend import backend_name
    from .core.distributed import request_host_devices

    name = backend_name(args.backend)
    if args.workers == 1 or name in ("mxnet", "numpy"):
        return None  # MXNet: contexts or the kvstore need no set-up; numpy: the Trainer's error
    if name == "torch":
        if "WORLD_SIZE" in os.environ:  # this is one of the workers
            return None
        from . import get_backend

        get_backend("torch")  # a clear error if torch is missing
        from .backends.torch.distributed import launch

        return launch(args.argv, args.workers)
    if name == "tensorflow" and os.environ.get("TF_CONFIG"):
        return None  # one replica per process (MultiWorkerMirroredStrategy)
    # JAX over several processes: each brings its share of the devices
    request_host_devices(max(1, args.workers // int(os.environ.get("JAX_NUM_PROCESSES", "1"))))
    return None


def parameter_server(args) -> bool:
    """A process of an MXNet parameter-server run (``DMLC_ROLE`` set), checked before MXNet waits
    for its peers: the scheduler and the servers serve from MXNet's import until the workers
    finish (returns True); a worker checks the run's variables against ``--workers`` (False)."""
    from . import get_backend

    role = os.environ["DMLC_ROLE"]
    if role not in ("scheduler", "server", "worker"):  # MXNet would wait for ever
        raise ValueError(f"DMLC_ROLE must be scheduler, server or worker, got {role!r}.")
    get_backend("mxnet")  # a clear error if MXNet is missing; serves on the scheduler and servers
    if role != "worker":
        return True
    from .backends.mxnet.distributed import check_cluster

    check_cluster(args.workers)  # with --workers 1 the other workers would wait for ever
    return False


def train(args) -> int:
    from . import get_backend, plot_history
    from .core.checkpoint import RunCheckpoints
    from .core.data import TimeMachine
    from .cli_tasks import fill_task_defaults, train_task
    from .core.lm import build_model
    from .core.optim import make_optimizer
    from .core.trainer import Trainer
    from .backend import backend_name

    if backend_name(args.backend) == "mxnet" and "DMLC_ROLE" in os.environ and parameter_server(args):
        return 0  # this process was the run's scheduler or a server
    if args.resume and args.init_from:
        raise ValueError("--resume continues a run; --init-from starts a new one from a checkpoint's "
                         "parameters: give one of them.")
    ckpt = resume_run(args) if args.resume else None
    fill_task_defaults(args)
    args.out = args.out or "runs/latest"
    check_output_dir(args.out, "--out")  # before training, so no trained model is lost
    status = start_workers(args)
    if status is not None:
        return status
    options = model_options(args)
    bk = get_backend(args.backend)
    run_args = {name: getattr(args, name) for name in RUN_ARGS}
    if args.task != "lm":
        if args.init_from:
            raise ValueError("--init-from starts a language model from a checkpoint; for the tasks, use "
                             "--resume to continue a run.")
        return train_task(args, bk, options, ckpt, run_args)
    data = TimeMachine(args.batch_size, args.num_steps, args.num_train, args.num_val,
                       text=args.text, seed=args.seed, preprocessing=args.preprocess,
                       tokens=args.tokens, min_freq=args.min_freq)
    model = build_model(bk, args.impl, len(data.vocab), args.hidden, args.lr, seed=args.seed,
                        model=args.model, embedding_dim=args.embedding_dim, **options)
    if args.init_from:
        ckpt = load_compatible(args.init_from, model, data)
    elif ckpt is not None:
        load_compatible(args.resume, model, data, ckpt)
    if ckpt is not None:
        bk.set_params(model, ckpt.params)
        if args.resume and ckpt.optimizer is not None:
            bk.set_optimizer_state(model, ckpt.optimizer)
    unit = "characters" if args.tokens == "char" else f"words (vocabulary of {len(data.vocab)})"
    print(f"backend {bk.NAME}, {args.impl} {model.config.describe()}, {args.hidden} hidden units, "
          f"{data.num_train} training windows of {args.num_steps} {unit}")
    out = Path(args.out)
    hparams = {"backend": bk.NAME, "impl": args.impl, "model": model.config.to_dict(),
               "embedding_dim": args.embedding_dim, "num_hiddens": args.hidden, "lr": args.lr,
               "clip": args.clip, "batch_size": args.batch_size, "num_steps": args.num_steps,
               "seed": args.seed, "run": run_args}
    trainer = Trainer(max_epochs=args.epochs, gradient_clip_val=args.clip,
                      callbacks=[EpochPrinter(), RunCheckpoints(out, data.vocab.idx_to_token, hparams)],
                      progress=not args.no_progress, optimizer=make_optimizer(args.optimizer, args.lr),
                      lr_schedule=args.lr_schedule, workers=args.workers)
    with StopOnSignals(trainer) as stop:
        history = trainer.fit(model, data, resume=ckpt.training if args.resume else None)
    if trainer.interrupted:
        return interrupted(stop.signal, trainer, out)
    if not trainer.is_chief:
        return 0
    last = history[-1]
    seconds = sum(r.seconds for r in history)
    print(f"train perplexity {last.train_ppl:.2f}, validation perplexity "
          f"{'-' if last.val_ppl is None else f'{last.val_ppl:.2f}'}, {seconds:.1f} s")
    if last.val_ppl is not None and last.val_ppl >= len(data.vocab):
        print(f"warning: validation perplexity {last.val_ppl:.3g} is no better than guessing uniformly "
              f"among {len(data.vocab)} tokens: the model did not learn. Lower --lr.", file=sys.stderr)
    print(f"sample: {model.predict(PREFIX, 50, data.vocab)!r}")
    plot_history(history, out / "curve.png", title=f"{bk.NAME} {args.impl} {model.config.describe()}")
    print(f"wrote {out / 'model.safetensors'} (last epoch), {out / 'best.safetensors'} (best validation), "
          f"{out / 'history.json'}, {out / 'curve.png'}")
    print(f"next: lstm-multi generate --checkpoint {out / 'model.safetensors'} --prefix \"time traveller\"\n"
          f"      lstm-multi train --resume {out} --epochs {args.epochs + 10}   (train further)")
    return 0


def load_compatible(path, model, data, ckpt=None):
    """A checkpoint that fits ``model`` and the data's vocabulary, else a clear error."""
    from . import load_checkpoint

    ckpt = ckpt or load_checkpoint(path)
    if ckpt.vocab != data.vocab.idx_to_token:
        raise ValueError(f"{path} was trained with another vocabulary "
                         f"({len(ckpt.vocab)} tokens); it cannot continue on this text.")
    if (ckpt.config, ckpt.embedding_dim) != (model.config, model.embedding_dim):
        raise ValueError(f"{path} holds a {ckpt.config.describe()} with {ckpt.config.num_hiddens} hidden "
                         f"units{f', embedding {ckpt.embedding_dim}' if ckpt.embedding_dim else ''}; "
                         "train with the same model options to continue from it.")
    return ckpt


def interrupted(signum, trainer, out) -> int:
    import signal

    if not trainer.is_chief:
        return 143 if signum == signal.SIGTERM else 130
    name = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
    done = len(trainer.history)
    where = (f"the last finished epoch ({done}) is saved in {out / 'model.safetensors'}" if done
             else "no epoch had finished, nothing was saved")
    print(f"\nlstm-multi train: stopped by {name}: {where}.", file=sys.stderr)
    if done:
        print(f"resume with: lstm-multi train --resume {out} --epochs {trainer.max_epochs}", file=sys.stderr)
    return 143 if signum == signal.SIGTERM else 130


def generate(args) -> int:
    from . import get_backend, load_checkpoint
    from .core.lm import model_from_config

    ckpt = load_checkpoint(args.checkpoint)
    if ckpt.hparams.get("task"):
        raise ValueError(f"{args.checkpoint} holds a {ckpt.hparams['task']['name']} model, which does not "
                         "generate text; give a language model's checkpoint.")
    bk = get_backend(args.backend)
    vocab = vocab_of(ckpt)
    impl = args.impl or ckpt.hparams.get("impl", "scratch")
    model = model_from_config(bk, impl, ckpt.config, len(vocab), ckpt.hparams.get("lr", 1.0),
                              embedding_dim=ckpt.embedding_dim)
    bk.set_params(model, ckpt.params)
    print(model.predict(args.prefix, args.num_preds, vocab, temperature=args.temperature,
                        seed=args.seed, top_k=args.top_k, top_p=args.top_p))
    return 0


def vocab_of(ckpt):
    """A checkpoint's vocabulary, preparing text as its run's corpus was prepared."""
    from .core.data import Vocab

    vocab = Vocab.from_tokens(ckpt.vocab)
    run = ckpt.hparams.get("run", {})
    vocab.preprocessing, vocab.tokens = run.get("preprocess", "d2l"), run.get("tokens", "char")
    return vocab


def parity(args) -> int:
    from dataclasses import asdict

    from .core.parity import TOLERANCES, parity as run_parity, tolerance

    if args.json:
        check_output_file(args.json, "--json")
    report = run_parity(args.backends, hidden=args.hidden, num_steps=args.num_steps,
                        batch_size=args.batch_size, seed=args.seed, steps=args.steps,
                        model=args.model, **model_options(args))
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
    ran = len({(r.backend, r.impl) for r in report.rows})
    if not report.ok:
        print("SOME IMPLEMENTATIONS DIFFER FROM THE REFERENCE")
        return 1
    if not report.complete:
        from .backend import is_available

        installed = [name for name in FRAMEWORKS if is_available(name)] or ["numpy"]
        print(f"the {ran} implementations that ran agree with the reference, but {len(report.skipped)} "
              "requested did not run (listed above). To compare only what is installed here: "
              f"lstm-multi parity --backends {' '.join(installed)}")
        return 1
    print(f"all {ran} implementations agree with the reference")
    return 0


def check_output_file(path, flag: str) -> None:
    """Fail before any work if ``path`` cannot be written as a file."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{flag} {path} is a directory; give a file name.")
    if not path.parent.is_dir():
        raise ValueError(f"{flag} {path}: the directory {path.parent} does not exist.")


def check_output_dir(path, flag: str) -> None:
    """Fail before any work if ``path`` cannot be used as an output directory."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{flag} {path} exists and is not a directory.")
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise ValueError(f"{flag} {path}: {existing} is a file, not a directory.")
    import os

    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {path}: {existing} is not writable.")


def bench(args) -> int:
    from .bench import machine, run, to_markdown

    check_output_dir(args.out, "--out")
    results = run(args.backends or FRAMEWORKS, args.impls, args.hidden, args.batch_size, args.num_steps,
                  args.steps, args.gen_tokens, args.min_seconds, models=args.models)
    table = to_markdown(results)
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(table + "\n")
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "machine.json").write_text(json.dumps(machine(), indent=1))
    print(f"wrote {out / 'results.md'}, {out / 'results.json'} and {out / 'machine.json'}")
    return 0 if all("error" not in r for r in results) else 1


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"lstm-multi: warning: {message}", file=sys.stderr)


def gates(args) -> int:
    from .cli_tasks import gates as run_gates

    return run_gates(args)


COMMANDS = {"train": train, "generate": generate, "gates": gates, "parity": parity, "bench": bench}


def main(argv=None) -> int:
    import warnings

    args = build_parser().parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)  # what --workers reruns in each process
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning  # one plain line, no source location
        try:
            return COMMANDS[args.command](args)
        except (BackendError, ValueError, FloatingPointError) as err:
            # Our own errors say what was wrong and what is valid; no traceback; once per run.
            if os.environ.get("RANK", "0") == "0":
                print(f"lstm-multi {args.command}: error: {err}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:  # outside training (which stops cleanly by itself)
            print(f"\nlstm-multi {args.command}: interrupted", file=sys.stderr)
            return 130


if __name__ == "__main__":
    sys.exit(main())
