"""What several commands share: argument types, the help formatter, the model options, the
per-epoch printer, Ctrl-C handling, output checks and loading a trained language model.

The command modules import this one, never each other; this one imports no command.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType, ModuleType
from typing import TYPE_CHECKING, Any, TypeAlias

from ..core.family import MODELS, LayerConfig
from ..core.trainer import Callback, EpochRecord, Trainer

if TYPE_CHECKING:
    from ..core.checkpoint import Checkpoint
    from ..core.data import Vocab
    from ..core.lm import LanguageModel
    from ..core.module import DataModule, Module

#: The text a language model continues (d2l's), after training and by default in generate.
PREFIX = "time traveller"


# --- argument types: argparse prints "argument --lr: must be a positive number, got -1" ---


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def fraction(text: str) -> float:
    """A number in [0, 1): a dropout rate, a validation share."""
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {text}")
    return value


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default, unless its help already says it or there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if (
            "default" in (action.help or "")
            or action.default is None
            or action.default is False
            or isinstance(action, argparse._StoreFalseAction)
        ):
            return action.help
        return super()._get_help_string(action)


# --- the device: --device on train, generate, gates, parity and bench ---

DEVICE_HELP = (
    "where to compute: torch cpu, cuda, cuda:N; MXNet, JAX and TensorFlow cpu, gpu, gpu:N; numpy cpu "
    "(default: the first GPU the framework sees, else the CPU)"
)


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", help=DEVICE_HELP)


def check_device_arguments(args: argparse.Namespace, backends: Sequence[str]) -> None:
    """Fail before any work if ``--device`` has a form one of ``backends`` does not take, or asks
    data-parallel workers for a GPU (no framework is imported: whether it sees the GPU is
    checked by :func:`backend_on_device`)."""
    from ..core.device import DeviceError, parse_device

    if args.device is None:
        return
    for name in backends:
        try:
            parse_device(name, args.device)
        except DeviceError as err:
            raise ValueError(f"--device {err.value}: {err.reason}") from None
    workers = getattr(args, "workers", 1)
    if workers > 1 and args.device != "cpu":
        raise ValueError(
            f"--device {args.device}: --workers {workers} trains on the CPU (processes or CPU devices); "
            "use --device cpu or leave --device out."
        )


def backend_on_device(args: argparse.Namespace) -> ModuleType:
    """``get_backend(--backend)`` computing on ``--device``; a bad or missing device is one line
    (``--device cuda:1: torch sees 1 CUDA device (cuda:0); ...``). Data-parallel workers
    (``--workers N``) are CPU devices or processes: their default is the CPU."""
    from .. import get_backend
    from ..core.device import DeviceError

    device = getattr(args, "device", None) or ("cpu" if getattr(args, "workers", 1) > 1 else None)
    try:
        return get_backend(args.backend, device=device)
    except DeviceError as err:
        raise ValueError(f"--device {err.value}: {err.reason}") from None


def check_jit_compile(args: argparse.Namespace) -> None:
    """``--jit-compile`` is for TensorFlow's scratch layers on one worker (a clear error otherwise)."""
    from ..backend import backend_name

    if not args.jit_compile:
        return
    name = backend_name(args.backend)
    if name != "tensorflow" or args.impl != "scratch":
        raise ValueError(
            f"--jit-compile has XLA compile the steps of TensorFlow's scratch layers (--backend tensorflow "
            f"--impl scratch), not --backend {name} --impl {args.impl}."
        )
    if args.workers > 1:
        raise ValueError("--jit-compile trains on one worker; leave out --workers or --jit-compile.")


def describe_backend(bk: ModuleType) -> str:
    """``"backend torch"`` for the first line of a run; ``"backend torch on cuda:0"`` off the CPU."""
    device = str(bk.current_device())
    return f"backend {bk.NAME}" + ("" if device == "cpu" else f" on {device}")


# --- the model family's options (train builds the model from them; parity compares it) ---


def add_model_arguments(parser: argparse.ArgumentParser, dropout: bool = True) -> None:
    """The family's options (train builds the model from them; parity compares it)."""
    group = parser.add_argument_group("model (the family: LSTM, GRU, RNN)")
    group.add_argument("--model", choices=MODELS, default="lstm", help="the recurrent cell")
    group.add_argument("--num-layers", type=positive_int, default=1, help="layers stacked")
    group.add_argument(
        "--bidirectional",
        action="store_true",
        help="both directions (tasks; parity compares the layer: an LM runs forward)",
    )
    if dropout:
        group.add_argument(
            "--dropout", type=fraction, default=0.0, help="dropout between stacked layers, in training only"
        )
    group.add_argument(
        "--peephole",
        nargs="?",
        const="diagonal",
        choices=("diagonal", "full"),
        help="LSTM: peephole connections (diagonal: Gers et al. 2002; full: matrices "
        "reading the previous cell); scratch only",
    )
    group.add_argument("--forget-bias", type=float, default=0.0, help="LSTM: initial forget-gate bias")
    reset = group.add_mutually_exclusive_group()
    reset.add_argument(
        "--reset-after",
        dest="reset_after",
        action="store_true",
        default=True,
        help="GRU: reset gate after the recurrent matmul (cuDNN, torch, Keras; default)",
    )
    reset.add_argument(
        "--reset-before",
        dest="reset_after",
        action="store_false",
        help="GRU: reset gate before it (d2l's form; scratch, and Keras' native GRU)",
    )


def add_text_arguments(parser: argparse.ArgumentParser) -> None:
    """How text becomes tokens (``core/text.py``): the options of ``train --text`` and ``prepare``."""
    parser.add_argument(
        "--preprocess",
        choices=("d2l", "none"),
        default="d2l",
        help="d2l: letters a-z and space, lower case (the book's); none: the text's own characters, any language",
    )
    parser.add_argument(
        "--tokens",
        choices=("char", "word"),
        default="char",
        help="characters (d2l) or words (split on white space; generation joins them with spaces)",
    )
    parser.add_argument(
        "--min-freq", type=non_negative_int, help="rarer tokens read as <unk> (default: 0 for characters, 2 for words)"
    )


def model_options(args: argparse.Namespace) -> dict[str, Any]:
    """The LayerConfig options the arguments set (only those of the chosen cell)."""
    options: dict[str, Any] = {"num_layers": args.num_layers}
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


def describe_model(config: LayerConfig) -> str:
    """``config.describe()`` (layers, direction, cell, peepholes, GRU reset, dropout) with the option
    it leaves out, the LSTM's initial forget-gate bias: ``"LSTM (peephole: diagonal, forget bias 1.0)"``."""
    text = config.describe()
    if config.forget_bias:
        note = f"forget bias {config.forget_bias}"
        text = f"{text[:-1]}, {note})" if text.endswith(")") else f"{text} ({note})"
    return text


def describe_init(layer: Any, args: argparse.Namespace) -> str:
    """``", init orthogonal"`` for the first line: the scratch layer's initialisation when it was asked
    for (``--init``, ``--sigma``) or is not d2l's (the stacked default); else ``""`` (a native layer
    draws its framework's own)."""
    init = getattr(layer, "init", None)
    if init is None or (init == "d2l" and args.init is None and args.sigma is None):
        return ""
    return f", init {init}" + (f" (sigma {layer.sigma})" if init == "d2l" else "")


# --- training: the epoch lines, Ctrl-C / SIGTERM ---


class EpochPrinter(Callback):
    """Prints one line per epoch above the progress bar."""

    def on_fit_start(self, trainer: Trainer, model: Module, data: DataModule) -> None:
        pass

    def on_epoch_end(self, trainer: Trainer, model: Module, record: EpochRecord) -> None:
        from tqdm.auto import tqdm

        if trainer.is_chief:
            tqdm.write(f"epoch {record.epoch:3d}  {record.summary()}  ({record.seconds:.2f} s)")

    def on_fit_end(self, trainer: Trainer, model: Module) -> None:
        pass


#: what ``signal.signal`` takes and returns: a function, ``SIG_DFL`` or ``SIG_IGN``, or None (not set from Python)
SignalHandler: TypeAlias = Callable[[int, FrameType | None], Any] | int | None


class StopOnSignals:
    """Ctrl-C (SIGINT) or SIGTERM: ask the trainer to stop after the current step."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.signal: int | None = None  # the signal that asked to stop
        self.previous: dict[int, SignalHandler] = {}

    def __enter__(self) -> StopOnSignals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signal = signum
        self.trainer.request_stop()
        signal.signal(signum, self.previous[signum])  # a second one stops at once

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def interrupted(signum: int | None, trainer: Trainer, out: Path) -> int:
    """After a run stopped by a signal: say what was kept and how to resume; the exit status."""
    if not trainer.is_chief:
        return 143 if signum == signal.SIGTERM else 130
    name = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
    done = len(trainer.history)
    where = (
        f"the last finished epoch ({done}) is saved in {out / 'model.safetensors'}"
        if done
        else "no epoch had finished, nothing was saved"
    )
    print(f"\nlstm-multi train: stopped by {name}: {where}.", file=sys.stderr)
    if done:
        print(f"resume with: lstm-multi train --resume {out} --epochs {trainer.max_epochs}", file=sys.stderr)
    return 143 if signum == signal.SIGTERM else 130


# --- output paths, checked before any work ---


def check_output_file(path: str | Path, flag: str) -> None:
    """Fail before any work if ``path`` cannot be written as a file."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{flag} {path} is a directory; give a file name.")
    if not path.parent.is_dir():
        raise ValueError(f"{flag} {path}: the directory {path.parent} does not exist.")


def check_output_dir(path: str | Path, flag: str) -> None:
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


# --- figures: matplotlib is optional ---


def can_draw(command: str, figures: list[str]) -> bool:
    """Whether matplotlib is installed to draw ``figures``; if not, one line says they are not
    drawn and how to install it (the run itself, trained and saved, needs no matplotlib)."""
    from ..core.plot import MATPLOTLIB_HINT, matplotlib_available

    if matplotlib_available():
        return True
    print(
        f"lstm-multi {command}: {' and '.join(figures)} not drawn: it needs matplotlib, which is not "
        f"installed: {MATPLOTLIB_HINT}.",
        file=sys.stderr,
    )
    return False


# --- a trained language model (generate, gates) ---


def vocab_of(ckpt: Checkpoint) -> Vocab:
    """A checkpoint's vocabulary, preparing text as its run's corpus was prepared."""
    from ..core.data import Vocab

    vocab = Vocab.from_tokens(ckpt.vocab)
    run = ckpt.hparams.get("run", {})
    vocab.preprocessing, vocab.tokens = run.get("preprocess", "d2l"), run.get("tokens", "char")
    return vocab


def language_model(ckpt: Checkpoint, args: argparse.Namespace) -> LanguageModel:
    """The checkpoint's language model on ``--backend`` and ``--device``, built with ``--impl``
    (default: the implementation it was trained with), its parameters loaded (from NumPy: a
    checkpoint names no device, so one trained on a GPU loads anywhere)."""
    from ..core.lm import model_from_config

    bk = backend_on_device(args)
    impl = args.impl or ckpt.hparams.get("impl", "scratch")
    model = model_from_config(
        bk, impl, ckpt.config, len(ckpt.vocab), ckpt.hparams.get("lr", 1.0), embedding_dim=ckpt.embedding_dim
    )
    bk.set_params(model, ckpt.params)
    return model
