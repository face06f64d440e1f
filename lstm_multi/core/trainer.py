"""d2l's Trainer, framework-neutral: it owns the loop, the backend owns the tensors.

One epoch::

    for X, Y in data.train_dataloader():          # NumPy batches, seeded order
        loss = model.training_step((X, Y), optimizer, gradient_clip_val)
    for X, Y in data.val_dataloader():
        val_loss += model.validation_step((X, Y)) * len(X)

Perplexity is ``exp`` of the mean per-token cross-entropy; the training figure
averages the batch losses seen during the epoch (weighted by batch size), as
d2l's plot does, and the validation figure is measured after the epoch.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from .checks import check_positive
from .module import HyperParameters


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    val_loss: float | None
    seconds: float

    @property
    def train_ppl(self) -> float:
        return math.exp(self.train_loss)

    @property
    def val_ppl(self) -> float | None:
        return None if self.val_loss is None else math.exp(self.val_loss)

    def as_dict(self) -> dict:
        return {"epoch": self.epoch, "train_loss": self.train_loss, "val_loss": self.val_loss,
                "train_ppl": self.train_ppl, "val_ppl": self.val_ppl, "seconds": self.seconds}


class Callback:
    """Hooks called by :meth:`Trainer.fit`; set ``trainer.should_stop = True`` to stop early."""

    def on_fit_start(self, trainer, model, data):
        pass

    def on_epoch_end(self, trainer, model, record: EpochRecord):
        pass

    def on_fit_end(self, trainer, model):
        pass


class Trainer(HyperParameters):
    """Fit a :class:`~lstm_multi.core.module.Module` to a data module.

    Args:
        max_epochs: number of passes over the training windows.
        gradient_clip_val: clip gradients to this global norm (``None``: no clipping).
        callbacks: :class:`Callback` objects.
        progress: show a progress bar (tqdm) over all training steps.
    """

    def __init__(self, max_epochs: int, gradient_clip_val: float | None = None,
                 callbacks=(), progress: bool = False):
        self.save_hyperparameters()
        check_positive("max_epochs", max_epochs, integer=True)
        if gradient_clip_val is not None:
            check_positive("gradient_clip_val", gradient_clip_val)
        self.callbacks = list(callbacks)
        self.history: list[EpochRecord] = []
        self.should_stop = False

    def fit(self, model, data) -> list[EpochRecord]:
        """Train ``model`` on ``data``; returns (and keeps in ``history``) one record per epoch."""
        self.model, self.data = model, data
        self.optimizer = model.configure_optimizers()
        self.should_stop = False
        for cb in self.callbacks:
            cb.on_fit_start(self, model, data)
        bar = self._progress_bar()
        try:
            for epoch in range(1, self.max_epochs + 1):
                record = self.fit_epoch(epoch, bar)
                self.history.append(record)
                if bar is not None:
                    bar.set_postfix(train_ppl=f"{record.train_ppl:.2f}",
                                    val_ppl="-" if record.val_ppl is None else f"{record.val_ppl:.2f}")
                for cb in self.callbacks:
                    cb.on_epoch_end(self, model, record)
                if self.should_stop:
                    break
        finally:
            if bar is not None:
                bar.close()
        for cb in self.callbacks:
            cb.on_fit_end(self, model)
        return self.history

    def fit_epoch(self, epoch: int, bar=None) -> EpochRecord:
        start = time.perf_counter()
        total, count = 0.0, 0
        for X, Y in self.data.train_dataloader():
            loss = self.model.training_step((X, Y), self.optimizer, self.gradient_clip_val)
            if not math.isfinite(loss):
                raise FloatingPointError(
                    f"Training diverged at epoch {epoch}: the loss is {loss}. "
                    "Lower the learning rate or clip gradients (gradient_clip_val).")
            total, count = total + loss * len(X), count + len(X)
            if bar is not None:
                bar.update(1)
        return EpochRecord(epoch, total / count, self.evaluate(), time.perf_counter() - start)

    def evaluate(self) -> float | None:
        """Mean per-token validation cross-entropy (``None`` without validation data)."""
        total, count = 0.0, 0
        for X, Y in self.data.val_dataloader():
            total, count = total + self.model.validation_step((X, Y)) * len(X), count + len(X)
        return total / count if count else None

    def _progress_bar(self):
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=self.max_epochs * self.data.num_batches(train=True), unit="step",
                    desc="training", dynamic_ncols=True)
