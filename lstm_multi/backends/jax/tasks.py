"""The task models on JAX / Flax NNX: a layer of the family and a head on its last step.

``inputs (B, T)`` -> one-hot ``(T, B, d)`` (symbol ids) or one value per step ``(T, B, 1)``
-> the layer (any cell, scratch or native, stacked, bidirectional) -> its last step (both
directions' summaries for a bidirectional layer) -> ``F W_out + b_out``, or with the MLP
head ``relu(F W_mlp + b_mlp) W_out + b_out`` -> ``(B, num_classes)`` logits or ``(B, 1)``
predictions. The equations are in ``reference/heads.py``; names, initialisation, checks,
loss and metrics in :mod:`lstm_multi.core.tasks.models`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx
from flax.core import FrozenDict

from ...core.tasks import models
from .ops import jit_method


class TaskModel:
    """The head's parameters (``nnx.Param`` named as the canonical ones) and the forward pass,
    for both tasks (mixed in before :mod:`~lstm_multi.core.tasks.models`' class and ``nnx.Module``)."""

    backend_name = "jax"

    def init_head(self, rnn):
        """Called by ``__init__`` after ``save_hyperparameters``: check, keep the layer, make the head."""
        # NNX keeps plain attributes in the graph definition, which jax.jit hashes: so hparams
        # is frozen, and the layer (a submodule, not a hyper-parameter) is left out of it.
        self.hparams = FrozenDict(self.hparams)
        self.check_head()
        self.rnn = rnn
        for name, value in self.initial_head_params().items():
            setattr(self, name, nnx.Param(jnp.asarray(value)))

    def encode(self, inputs):
        """``(B, T)`` inputs -> the layer's ``(T, B, num_inputs)`` float32 input."""
        raise NotImplementedError

    def __call__(self, inputs):
        """``(B, T)`` inputs -> ``(B, num_outputs)`` logits or predictions."""
        return self.forward(inputs)

    @jit_method
    def forward(self, inputs):
        outputs, _ = self.rnn(self.encode(inputs))
        F = self.features_from(outputs, self.ops)
        if self.head == "mlp":
            F = jax.nn.relu(F @ self.W_mlp[...] + self.b_mlp[...])
        return F @ self.W_out[...] + self.b_out[...]


class Classifier(TaskModel, models.Classifier, nnx.Module):
    """Symbol ids ``(B, T)`` (one-hot) -> ``num_classes`` logits; cross-entropy; accuracy."""

    def __init__(
        self,
        rnn,
        num_classes: int = 2,
        head: str = "linear",
        mlp_hiddens: int = 32,
        lr: float = 0.01,
        seed: int = 0,
        optimizer: str = "sgd",
    ):
        self.save_hyperparameters(ignore=["rnn"])
        self.init_head(rnn)

    def encode(self, inputs):
        return jax.nn.one_hot(inputs.T, self.config.num_inputs, dtype=jnp.float32)


class Regressor(TaskModel, models.Regressor, nnx.Module):
    """Real values ``(B, T)`` (one feature per step) -> one value ``(B, 1)``; squared error; MSE."""

    def __init__(
        self, rnn, head: str = "linear", mlp_hiddens: int = 32, lr: float = 0.01, seed: int = 0, optimizer: str = "sgd"
    ):
        self.save_hyperparameters(ignore=["rnn"])
        self.init_head(rnn)

    def encode(self, inputs):
        return jnp.asarray(inputs, jnp.float32).T[..., None]
