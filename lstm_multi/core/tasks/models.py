"""What every backend's task model shares: a layer of the family and a head on its last
hidden state (the equations are in ``reference/heads.py``).

A backend's ``Classifier`` / ``Regressor`` subclasses :class:`Classifier` / :class:`Regressor`
here and its framework's module class, and supplies the forward pass; canonical names,
initialisation, input checks, loss choice and metrics are written once.

Canonical parameters: the layer's, then ``W_mlp (F, m)``, ``b_mlp (m,)`` for an MLP head,
and ``W_out``, ``b_out``; F = h, or 2h for a bidirectional layer.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from ..checks import as_numpy, check_positive
from ..module import Module
from ..optim import make_optimizer
from ..types import NativeParams, Params, Shapes, Tensor

if TYPE_CHECKING:
    from ..family import LayerConfig
    from ..params import CanonicalLayer

HEADS = ("linear", "mlp")


def head_shapes(num_features: int, head: str, mlp_hiddens: int, num_outputs: int) -> Shapes:
    """The head's canonical shapes on ``num_features`` (h, or 2h bidirectional) features."""
    if head == "mlp":
        return {
            "W_mlp": (num_features, mlp_hiddens),
            "b_mlp": (mlp_hiddens,),
            "W_out": (mlp_hiddens, num_outputs),
            "b_out": (num_outputs,),
        }
    return {"W_out": (num_features, num_outputs), "b_out": (num_outputs,)}


class TaskModel(Module):
    """A layer (``self.rnn``) and a head; ``outputs`` are ``(B, num_outputs)``."""

    #: canonical name -> (native name, stored transposed), for the head.
    NATIVE = {
        "W_mlp": ("W_mlp", False),
        "b_mlp": ("b_mlp", False),
        "W_out": ("W_out", False),
        "b_out": ("b_out", False),
    }
    # saved by the backend class's save_hyperparameters:
    rnn: CanonicalLayer
    head: str
    mlp_hiddens: int
    seed: int
    optimizer: str

    @property
    def config(self) -> LayerConfig:
        return self.rnn.config

    @property
    def num_outputs(self) -> int:
        """Outputs per example: one prediction (a regressor), or one logit per class."""
        return 1

    def check_head(self) -> None:
        """Check the head's and the optimizer's arguments (call after ``save_hyperparameters``)."""
        make_optimizer(self.optimizer, self.lr)
        if self.head not in HEADS:
            raise ValueError(f"Unknown head {self.head!r}. Valid: {', '.join(HEADS)}.")
        check_positive("mlp_hiddens", self.mlp_hiddens, integer=True)

    def head_shapes(self) -> Shapes:
        return head_shapes(self.config.num_outputs, self.head, self.mlp_hiddens, self.num_outputs)

    def task_hparams(self, name: str) -> dict[str, Any]:
        """What a checkpoint records to rebuild this model (``hparams["task"]``)."""
        return {"name": name, "head": self.head, "mlp_hiddens": self.mlp_hiddens, "num_outputs": self.num_outputs}

    def initial_head_params(self) -> Params:
        """Weights ~ N(0, 1/fan_in), biases 0, drawn by NumPy from ``seed + 1``: the same on every backend."""
        rng = np.random.default_rng(self.seed + 1)
        return {
            name: (np.zeros(shape) if name.startswith("b_") else rng.standard_normal(shape) / np.sqrt(shape[0])).astype(
                np.float32
            )
            for name, shape in self.head_shapes().items()
        }

    def canonical_shapes(self) -> Shapes:
        return {**self.rnn.canonical_shapes(), **self.head_shapes()}

    def to_canonical(self, native: NativeParams, grads: bool = False) -> Params:
        rnn = {name[len("rnn.") :]: value for name, value in native.items() if name.startswith("rnn.")}
        params = self.rnn.to_canonical(rnn, grads)
        for name in self.head_shapes():
            native_name, transposed = self.NATIVE[name]
            params[name] = native[native_name].T if transposed else native[native_name]
        return {name: params[name] for name in self.canonical_shapes()}

    def from_canonical(self, params: Params) -> Params:
        native = {f"rnn.{name}": value for name, value in self.rnn.from_canonical(params).items()}
        for name in self.head_shapes():
            native_name, transposed = self.NATIVE[name]
            native[native_name] = np.ascontiguousarray(params[name].T if transposed else params[name])
        return native

    def frozen(self) -> Params:
        return {f"rnn.{name}": mask for name, mask in self.rnn.frozen().items()}

    def features_from(self, outputs: Tensor, ops: ModuleType) -> Tensor:
        """The layer's last step ``(B, h)``; bidirectional: forward at the last step, reverse at
        the first ``(B, 2h)``. ``ops`` slices and concatenates in the backend's tensors."""
        h = self.config.num_hiddens
        if not self.config.bidirectional:
            return outputs[-1]
        return ops.concat([outputs[-1, :, :h], outputs[0, :, h:]], axis=-1)


class Classifier(TaskModel):
    """Symbol ids ``(B, T)`` (one-hot) -> ``num_classes`` logits; cross-entropy; accuracy."""

    task = "classification"
    num_classes: int  # saved by the backend class's save_hyperparameters

    @property
    def num_outputs(self) -> int:
        return self.num_classes

    def check_batch(self, inputs: Tensor, labels: Tensor) -> tuple[np.ndarray, np.ndarray]:
        inputs, labels = as_numpy(inputs), as_numpy(labels)
        d = self.config.num_inputs
        if inputs.ndim != 2 or not np.issubdtype(inputs.dtype, np.integer):
            raise ValueError(
                f"inputs must be integer symbol ids of shape (batch_size, num_steps), got "
                f"{inputs.dtype} {inputs.shape}."
            )
        if inputs.min() < 0 or inputs.max() >= d:
            raise ValueError(
                f"inputs must lie in [0, {d}) (the one-hot size), got values from {inputs.min()} to {inputs.max()}."
            )
        if (
            labels.shape != (len(inputs),)
            or not np.issubdtype(labels.dtype, np.integer)
            or labels.min() < 0
            or labels.max() >= self.num_classes
        ):
            raise ValueError(
                f"labels must be {len(inputs)} integers in [0, {self.num_classes}), got {labels.dtype} {labels.shape}."
            )
        return inputs.astype(np.int32), labels.astype(np.int32)

    def metrics(self, outputs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
        """Per-batch means, from NumPy logits ``(B, C)``."""
        return {"accuracy": float(np.mean(np.argmax(outputs, axis=-1) == labels))}


class Regressor(TaskModel):
    """Real values ``(B, T)`` (one feature per step) -> one value; squared error; MSE."""

    task = "regression"

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        """Mean squared error of ``outputs (B, 1)`` against ``targets (B,)`` (framework scalar)."""
        return self.ops.mse(outputs, targets)

    def check_batch(self, inputs: Tensor, targets: Tensor) -> tuple[np.ndarray, np.ndarray]:
        inputs, targets = as_numpy(inputs), as_numpy(targets)
        if inputs.ndim != 2 or self.config.num_inputs != 1:
            raise ValueError(
                f"inputs must be real values of shape (batch_size, num_steps) for a layer "
                f"with num_inputs=1, got {inputs.shape} (num_inputs="
                f"{self.config.num_inputs})."
            )
        if targets.shape != (len(inputs),):
            raise ValueError(f"targets must have shape ({len(inputs)},), got {targets.shape}.")
        return inputs.astype(np.float32), targets.astype(np.float32)

    def metrics(self, outputs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        return {"mse": float(np.mean((np.asarray(outputs).reshape(-1) - targets) ** 2))}

    def predict_next(self, windows: ArrayLike) -> np.ndarray:
        """The next value after each window: ``(N, T)`` -> ``(N,)`` NumPy (no dropout), the
        one-step predictor :func:`~lstm_multi.core.tasks.timeseries.forecast` takes."""
        windows = np.asarray(windows, np.float32)
        return np.asarray(self.ops.evaluate(self, windows, np.zeros(len(windows), np.float32))[1])[:, 0]
