"""The task models on the NumPy backend: :mod:`lstm_multi.reference.heads` behind the backend API.

``inputs (B, T)`` -> one-hot (symbol ids) or one value per step -> the layer -> its last
step (both directions' summaries for a bidirectional layer) -> a linear or MLP head ->
``(B, num_classes)`` logits or ``(B, 1)`` predictions, float64. Head parameters are stored
under their canonical names, the layer's behind ``"rnn."``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...core.checks import as_numpy
from ...core.tasks import models
from ...core.types import NativeParams, Params, Tensor
from ...reference.heads import task_forward, task_loss_and_grads
from .layers import ReferenceLayer


class TaskModel(models.TaskModel):
    """Storage and the reference's forward pass and gradients, for both tasks."""

    backend_name = "numpy"
    rnn: ReferenceLayer  # saved by save_hyperparameters
    task: str  # the task class's: "classification" or "regression"

    def init_head(self) -> None:
        self.check_head()
        self.own = {name: value.astype(np.float64) for name, value in self.initial_head_params().items()}

    def native_params(self) -> dict[str, np.ndarray]:
        return {**{f"rnn.{name}": value for name, value in self.rnn.native_params().items()}, **self.own}

    def load_native(self, native: NativeParams) -> None:
        self.own = {name: np.array(native[name], dtype=np.float64) for name in self.head_shapes()}
        self.rnn.load_native({name[len("rnn.") :]: value for name, value in native.items() if name.startswith("rnn.")})

    def reference_params(self) -> Params:
        return {**self.rnn.params, **self.own}

    def reference_loss_and_grads(
        self, inputs: np.ndarray, targets: np.ndarray, masks: Sequence[np.ndarray] | None = None
    ) -> tuple[float, Params]:
        return task_loss_and_grads(self.config, self.reference_params(), inputs, targets, self.task, masks)

    def __call__(self, inputs: Tensor) -> np.ndarray:
        """Checked ``inputs (B, T)`` -> ``(B, num_outputs)`` logits or predictions, float64 (no dropout)."""
        return task_forward(self.config, self.reference_params(), as_numpy(inputs))[0]


class Classifier(TaskModel, models.Classifier):
    """Symbol ids ``(B, T)`` -> ``num_classes`` logits, on the reference (float64)."""

    def __init__(
        self,
        rnn: ReferenceLayer,
        num_classes: int = 2,
        head: str = "linear",
        mlp_hiddens: int = 32,
        lr: float = 0.01,
        seed: int = 0,
        optimizer: str = "sgd",
    ) -> None:
        self.save_hyperparameters()
        self.init_head()


class Regressor(TaskModel, models.Regressor):
    """Values ``(B, T)`` -> one prediction ``(B, 1)``, on the reference (float64)."""

    def __init__(
        self,
        rnn: ReferenceLayer,
        head: str = "linear",
        mlp_hiddens: int = 32,
        lr: float = 0.01,
        seed: int = 0,
        optimizer: str = "sgd",
    ) -> None:
        self.save_hyperparameters()
        self.init_head()
