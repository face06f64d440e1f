"""d2l's Trainer, framework-neutral: it owns the loop, the backend owns the tensors.

One epoch::

    for X, Y in data.train_dataloader():          # NumPy batches, seeded order
        loss = model.training_step((X, Y), optimizer, gradient_clip_val)
    for X, Y in data.val_dataloader():
        val_loss += model.validation_step((X, Y)) * len(X)

Perplexity is ``exp`` of the mean per-token cross-entropy; the training figure
averages the batch losses seen during the epoch (weighted by batch size), as
d2l's plot does, and the validation figure is measured after the epoch.

A run can be interrupted (:meth:`Trainer.request_stop`, which the CLI calls on
Ctrl-C and SIGTERM): the trainer stops after the current step and keeps only
finished epochs. :meth:`Trainer.state` and ``fit(..., resume=state)`` continue a run
exactly: epoch counter, history and the data's shuffling generator.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from .checks import check_positive
from .distributed import check_divisible, check_workers
from .module import DataModule, HyperParameters, Module
from .optim import Optimizer, make_optimizer
from .types import Batch

if TYPE_CHECKING:
    from tqdm.auto import tqdm


def perplexity(loss: float) -> float:
    """``exp(loss)``, infinite rather than an OverflowError for a diverged model."""
    return math.exp(loss) if loss < 700 else math.inf


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    val_loss: float | None
    seconds: float
    metrics: dict[str, float] = field(default_factory=dict)  # validation metrics: {"val_accuracy": ...}
    language_model: bool = True  # perplexity means something (not for a task's loss)

    @property
    def train_ppl(self) -> float:
        return perplexity(self.train_loss)

    @property
    def val_ppl(self) -> float | None:
        return None if self.val_loss is None else perplexity(self.val_loss)

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> EpochRecord:
        metrics = {k: v for k, v in record.items() if k.startswith("val_") and k not in ("val_loss", "val_ppl")}
        return cls(
            record["epoch"], record["train_loss"], record["val_loss"], record["seconds"], metrics, "train_ppl" in record
        )

    def as_dict(self) -> dict[str, Any]:
        ppl = {"train_ppl": self.train_ppl, "val_ppl": self.val_ppl} if self.language_model else {}
        return {
            "epoch": self.epoch,
            "train_loss": self.train_loss,
            "val_loss": self.val_loss,
            **ppl,
            **self.metrics,
            "seconds": self.seconds,
        }

    def summary(self, compact: bool = False) -> str:
        """One line: perplexities for a language model, else losses and metrics. The epoch lines
        align their columns (``"train ppl    6.86  val ppl    7.36"``); ``compact``, the progress
        bar's: ``"train ppl 6.86, val ppl 7.36"``."""
        width, separator = (0, ", ") if compact else (7, "  ")
        if self.language_model:
            val = "-" if self.val_ppl is None else f"{self.val_ppl:.2f}"
            return f"train ppl {self.train_ppl:{width}.2f}{separator}val ppl {val:>{width}}"
        val = "-" if self.val_loss is None else f"{self.val_loss:.4f}"
        metrics = [f"{name} {value:.4f}" for name, value in self.metrics.items()]
        return separator.join([f"train loss {self.train_loss:.4f}", f"val loss {val}", *metrics])


class Callback:
    """Hooks called by :meth:`Trainer.fit`; set ``trainer.should_stop = True`` to stop early."""

    def on_fit_start(self, trainer: Trainer, model: Module, data: DataModule) -> None:
        pass

    def on_epoch_end(self, trainer: Trainer, model: Module, record: EpochRecord) -> None:
        pass

    def on_fit_end(self, trainer: Trainer, model: Module) -> None:
        pass


class DataParallel(Protocol):
    """What the Trainer uses of a backend's ``DataParallel`` engine (``backends/<name>/distributed.py``)."""

    rank: int  # this worker's index; 0 writes the files

    def prepare(self, model: Module) -> None: ...

    def training_step(
        self, model: Module, batch: Batch, optimizer: Optimizer, clip: float | None, stop: bool = False
    ) -> tuple[float, bool]: ...

    def finish(self, model: Module) -> None: ...


LR_SCHEDULES = ("constant", "cosine")


class Trainer(HyperParameters):
    """Fit a :class:`~lstm_multi.core.module.Module` to a data module.

    Args:
        max_epochs: number of passes over the training windows.
        gradient_clip_val: clip gradients to this global norm (``None``: no clipping).
        callbacks: :class:`Callback` objects.
        progress: show a progress bar (tqdm) over all training steps.
        optimizer: an :mod:`~lstm_multi.core.optim` optimizer (``SGD``, ``Adam``) or its name
            (at the model's ``lr``); ``None``: the model's own (``configure_optimizers``).
        lr_schedule: ``"constant"`` (d2l's) or ``"cosine"``: the learning rate of step t of T
            (all epochs' steps) is ``lr * (1 + cos(pi t / T)) / 2``, from ``lr`` down to nearly 0,
            so the last epochs settle instead of jittering around the minimum (a run resumed
            with more epochs decays over its new total).
        workers: data-parallel workers (:mod:`~lstm_multi.core.distributed`): each global batch is
            split into ``workers`` equal blocks and the gradients averaged by the framework's own
            engine, so the run trains like one worker with the same batch. torch: one process
            each (``torchrun --nproc-per-node N`` or ``lstm-multi train --workers N``); JAX and
            TensorFlow: one device each (on a CPU, :func:`~lstm_multi.request_host_devices`
            first); MXNet: one context each, or one process each beside a parameter server
            (``DMLC_ROLE=worker``). Several machines: see the README. Only worker 0 (:attr:`is_chief`) shows progress;
            callbacks run on every worker and check ``trainer.is_chief`` to write files once.
    """

    # set by save_hyperparameters from the arguments of __init__:
    max_epochs: int
    gradient_clip_val: float | None
    progress: bool
    lr_schedule: str
    workers: int
    # set by fit (the optimizer argument stays in hparams["optimizer"]):
    model: Module
    data: DataModule
    optimizer: Optimizer

    def __init__(
        self,
        max_epochs: int,
        gradient_clip_val: float | None = None,
        callbacks: Iterable[Callback] = (),
        progress: bool = False,
        optimizer: Optimizer | str | None = None,
        lr_schedule: str = "constant",
        workers: int = 1,
    ) -> None:
        self.save_hyperparameters()
        check_positive("max_epochs", max_epochs, integer=True)
        check_workers(workers)
        if lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"Unknown lr_schedule {lr_schedule!r}. Valid: {', '.join(LR_SCHEDULES)}.")
        if gradient_clip_val is not None:
            check_positive("gradient_clip_val", gradient_clip_val)
        self.callbacks = list(callbacks)
        self.history: list[EpochRecord] = []
        self.should_stop = False
        self.interrupted = False  # stopped by request_stop() in the middle of an epoch
        self.stop_requested = False  # request_stop() was called (data parallel: not yet agreed)
        self.parallel: DataParallel | None = None  # the backend's engine while fitting with workers > 1

    @property
    def is_chief(self) -> bool:
        """True on worker 0 (and without data parallelism): the one that writes and prints."""
        return self.parallel is None or self.parallel.rank == 0

    def _optimizer_for(self, model: Module) -> Optimizer:
        optimizer: Optimizer | str | None = self.hparams["optimizer"]
        if optimizer is None:
            return model.configure_optimizers()
        if isinstance(optimizer, str):
            return make_optimizer(optimizer, model.lr)
        return optimizer

    def request_stop(self) -> None:
        """Stop after the current step; the unfinished epoch is dropped (safe from a signal handler).
        Data parallel: after the next step, which tells every worker (none waits alone)."""
        self.stop_requested = True
        if self.parallel is None:
            self.interrupted = True

    def state(self) -> dict[str, Any]:
        """What resuming needs (JSON-able): finished epochs, history, the data's generator state."""
        return {
            "epoch": len(self.history),
            "history": [r.as_dict() for r in self.history],
            "data_rng": self.data.rng.bit_generator.state,
        }

    def fit(self, model: Module, data: DataModule, resume: dict[str, Any] | None = None) -> list[EpochRecord]:
        """Train ``model`` on ``data``; returns (and keeps in ``history``) one record per epoch.

        ``resume``: a :meth:`state` saved after some epochs (with the model's parameters
        restored by the caller); training continues from the next epoch up to ``max_epochs``.
        """
        self.model, self.data = model, data
        self.optimizer = self._optimizer_for(model)
        self.should_stop = self.interrupted = self.stop_requested = False
        self.parallel = self._data_parallel(model, data)
        first = 1
        if resume is not None:
            self.history = [EpochRecord.from_dict(r) for r in resume["history"]]
            data.rng.bit_generator.state = resume["data_rng"]
            first = resume["epoch"] + 1
        for cb in self.callbacks:
            cb.on_fit_start(self, model, data)
        bar = self._progress_bar(first)
        try:
            for epoch in range(first, self.max_epochs + 1):
                record = self.fit_epoch(epoch, bar)
                if record is None:  # interrupted
                    break
                self.history.append(record)
                if bar is not None:
                    bar.set_postfix_str(record.summary(compact=True))
                for cb in self.callbacks:
                    cb.on_epoch_end(self, model, record)
                if self.should_stop:
                    break
        finally:
            if bar is not None:
                bar.close()
            if self.parallel is not None:
                self.parallel.finish(model)
                data.local_blocks = None
        for cb in self.callbacks:
            cb.on_fit_end(self, model)
        return self.history

    def fit_epoch(self, epoch: int, bar: tqdm | None = None) -> EpochRecord | None:
        """One epoch; ``None`` if :meth:`request_stop` was called during it."""
        start = time.perf_counter()
        total, count = 0.0, 0
        rng_before = self.data.rng.bit_generator.state
        per_epoch = self.data.num_batches(train=True)
        for i, (X, Y) in enumerate(self.data.train_dataloader()):
            optimizer = self.optimizer_at((epoch - 1) * per_epoch + i, self.max_epochs * per_epoch)
            if self.parallel is None:
                loss = self.model.training_step((X, Y), optimizer, self.gradient_clip_val)
            else:  # every worker stops at the same step, when any of them was asked to
                loss, self.interrupted = self.parallel.training_step(
                    self.model, (X, Y), optimizer, self.gradient_clip_val, stop=self.stop_requested
                )
            self._check_finite(epoch, loss, "loss")
            total, count = total + loss * len(X), count + len(X)
            if bar is not None:
                bar.update(1)
            if self.interrupted:
                self.data.rng.bit_generator.state = rng_before  # as after the last finished epoch
                return None
        val = self.evaluate()
        val_loss = val.pop("loss", None)
        if val_loss is not None:
            self._check_finite(epoch, val_loss, "validation loss")
        return EpochRecord(
            epoch,
            total / count,
            val_loss,
            time.perf_counter() - start,
            {f"val_{name}": value for name, value in val.items()},
            language_model=not hasattr(self.model, "task"),
        )

    def _data_parallel(self, model: Module, data: DataModule) -> DataParallel | None:
        """The backend's ``DataParallel`` engine for ``workers > 1`` (checked), else None."""
        if self.workers == 1:
            return None
        engine = getattr(model.ops, "DataParallel", None)
        if engine is None:
            raise ValueError(
                f"The {model.backend_name} backend trains on one worker; data-parallel "
                "training (workers > 1) runs on torch, tensorflow, jax and mxnet."
            )
        check_divisible(data, self.workers)
        parallel: DataParallel = engine(self.workers)
        parallel.prepare(model)
        local = getattr(parallel, "local_blocks", None)  # torch, MXNet: this process's rows only
        if local is not None and len(local) < self.workers:
            data.local_blocks = (self.workers, local)
        return parallel

    def optimizer_at(self, step: int, total_steps: int) -> Optimizer:
        """The optimizer for training step ``step`` (0-based) of ``total_steps``: its learning rate
        from :attr:`lr_schedule` (the same kind of optimizer, so its state carries on)."""
        if self.lr_schedule == "constant":
            return self.optimizer
        lr = self.optimizer.lr * 0.5 * (1.0 + math.cos(math.pi * step / total_steps))
        return replace(self.optimizer, lr=lr)

    @staticmethod
    def _check_finite(epoch: int, loss: float, what: str) -> None:
        if not math.isfinite(loss) or loss > 700:  # exp(700) overflows: no perplexity left
            raise FloatingPointError(
                f"Training diverged at epoch {epoch}: the {what} is {loss:.4g}. "
                "Lower the learning rate or clip gradients (gradient_clip_val)."
            )

    def evaluate(self) -> dict[str, float]:
        """Validation loss and metrics, each the mean over examples (empty without validation data)."""
        totals: dict[str, float] = {}
        count = 0
        for X, Y in self.data.val_dataloader():
            for name, value in self.model.validation_step((X, Y)).items():
                totals[name] = totals.get(name, 0.0) + value * len(X)
            count += len(X)
        return {name: total / count for name, total in totals.items()} if count else {}

    def _progress_bar(self, first_epoch: int = 1) -> tqdm | None:
        if not self.progress or not self.is_chief:
            return None
        from tqdm.auto import tqdm

        per_epoch = self.data.num_batches(train=True)
        return tqdm(
            total=self.max_epochs * per_epoch,
            initial=(first_epoch - 1) * per_epoch,
            unit="step",
            desc="training",
            dynamic_ncols=True,
        )
