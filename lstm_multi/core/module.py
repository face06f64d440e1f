"""d2l's ``HyperParameters``, ``Module`` and ``DataModule``, framework-neutral.

The backends mix :class:`Module` into their own model classes
(``torch.nn.Module``, ``flax.nnx.Module``, ``tf.Module``, ``gluon.Block``), so the
:class:`~lstm_multi.core.trainer.Trainer` drives every framework the same way.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Iterable, Iterator, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .optim import Optimizer, make_optimizer
from .types import Batch, NativeParams, Params, Shapes, State, Tensor

if TYPE_CHECKING:
    import numpy as np

    from .data import Vocab


class HyperParameters:
    """Saves the arguments of ``__init__`` as attributes (d2l)."""

    hparams: Mapping[str, Any]  # the saved arguments (the JAX backend freezes them)

    def save_hyperparameters(self, ignore: Iterable[str] = ()) -> None:
        frame = sys._getframe(1)  # the caller's: its arguments become attributes
        _, _, _, local_vars = inspect.getargvalues(frame)
        self.hparams = {
            k: v
            for k, v in local_vars.items()
            if k not in set(ignore) | {"self"} and not k.startswith("_") and k != "__class__"
        }
        for k, v in self.hparams.items():
            setattr(self, k, v)


class Module(HyperParameters):
    """The interface the Trainer uses; each backend's language models implement it.

    A backend class sets :attr:`backend_name`; the framework-specific work (forward,
    gradients, the SGD update) is done by that backend's ``ops`` functions, so this
    class is written once for all frameworks.
    """

    backend_name: str = ""
    lr: float  # the learning rate, saved by the subclass's save_hyperparameters

    @property
    def ops(self) -> ModuleType:
        """The backend module (``lstm_multi.backends.<backend_name>``)."""
        return importlib.import_module(f"lstm_multi.backends.{self.backend_name}")

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Mean cross-entropy over all tokens (framework scalar)."""
        return self.ops.cross_entropy(logits, targets)

    def configure_optimizers(self) -> Optimizer:
        """The model's optimizer (``self.optimizer``: "sgd", d2l's, unless told) at its learning rate."""
        return make_optimizer(getattr(self, "optimizer", "sgd"), self.lr)

    def training_step(
        self, batch: Batch, optimizer: Optimizer | float, gradient_clip_val: float | None = None
    ) -> float:
        """Forward, backward, clip by global norm, update; returns the batch loss."""
        inputs, targets = batch
        return self.ops.train_step(self, inputs, targets, optimizer, gradient_clip_val)

    def validation_step(self, batch: Batch) -> dict[str, float]:
        """The batch's mean loss (``"loss"``) and metrics, without any update."""
        inputs, targets = batch
        if not hasattr(self, "metrics"):
            return {"loss": self.ops.evaluate_loss(self, inputs, targets)}
        loss, outputs = self.ops.evaluate(self, inputs, targets)
        return {"loss": loss, **self.metrics(outputs, self.check_batch(inputs, targets)[1])}

    def predict(self, prefix: str, num_preds: int, vocab: Vocab, **sampling: Any) -> str:
        """Continue ``prefix`` by ``num_preds`` characters (greedy unless told otherwise)."""
        from .sampling import predict

        return predict(self, prefix, num_preds, vocab, **sampling)

    # What each model implements (core.lm.LanguageModel, core.tasks.models.TaskModel):

    def check_batch(self, inputs: Tensor, targets: Tensor) -> tuple[np.ndarray, np.ndarray]:
        """The batch as NumPy arrays, checked (clear errors for bad shapes, types and values)."""
        raise NotImplementedError

    def canonical_shapes(self) -> Shapes:
        """Every canonical parameter's shape, in canonical order."""
        raise NotImplementedError

    def to_canonical(self, native: NativeParams, grads: bool = False) -> Params:
        """Native names -> canonical; ``grads=True`` converts gradients (two-bias layers differ)."""
        raise NotImplementedError

    def from_canonical(self, params: Params) -> Params:
        """Canonical names -> native (NumPy arrays)."""
        raise NotImplementedError

    def forward_with_state(self, tokens: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """A language model's logits ``(B, T, vocab)`` for token ids ``(B, T)`` and its state after
        them, which the next call continues from (:meth:`predict`); task models do not generate."""
        raise NotImplementedError


class DataModule(HyperParameters):
    """d2l's DataModule: ``train_dataloader`` and ``val_dataloader``."""

    batch_size: int  # saved by the subclass's save_hyperparameters
    rng: np.random.Generator  # the subclass's generator of the batch order (a resumed run restores its state)
    #: data parallel in several processes: ``(workers, blocks)``, the blocks of rows of each batch this
    #: process computes (set by the Trainer), so that a module reading from disk reads only those
    #: rows (:class:`~.tokenfile.TokenFile`); None: every row
    local_blocks: tuple[int, range] | None = None

    def get_dataloader(self, train: bool) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        raise NotImplementedError

    def train_dataloader(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return self.get_dataloader(train=True)

    def val_dataloader(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return self.get_dataloader(train=False)

    def num_batches(self, train: bool) -> int:
        """Batches per epoch of the training (``train``) or validation data."""
        raise NotImplementedError
