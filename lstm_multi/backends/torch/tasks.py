"""The task models on PyTorch: a layer of the family and a head on its last step.

``inputs (B, T)`` -> one-hot ``(T, B, num_inputs)`` (symbol ids) or ``(T, B, 1)`` (one value
per step) -> the layer (any cell, scratch or native, stacked, bidirectional) -> its last
step (a bidirectional layer's forward half at the last step and reverse half at the first,
``features_from``) -> ``F W_out + b_out``, or ``relu(F W_mlp + b_mlp) W_out + b_out`` ->
``(B, num_classes)`` logits or ``(B, 1)`` predictions. The equations are in
``reference/heads.py``; canonical names, initialisation, checks, loss and metrics in
:mod:`lstm_multi.core.tasks.models`.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ...core.tasks import models
from .device import current_device
from .ops import tensor


class TaskModel:
    """The head's parameters (``nn.Parameter`` under their canonical names, the layer's behind
    ``"rnn."``) and the forward pass, for both tasks (mixed in before the core's task model and
    ``nn.Module``). Built in evaluation mode, as its layer (see :mod:`.layers`)."""

    backend_name = "torch"

    def init_head(self):
        """Called by ``__init__`` after ``save_hyperparameters``: check, then make the head."""
        self.check_head()
        for name, value in self.initial_head_params().items():
            setattr(self, name, nn.Parameter(torch.from_numpy(value)))
        self.eval().to(current_device())  # built on the CPU from NumPy, then moved once

    def encode(self, inputs):
        """``(B, T)`` inputs -> the layer's time-major ``(T, B, num_inputs)`` float32 input."""
        raise NotImplementedError

    def forward(self, inputs):
        """``(B, T)`` inputs (NumPy or torch) -> ``(B, num_outputs)`` logits or predictions."""
        outputs, _ = self.rnn(self.encode(tensor(inputs)))
        features = self.features_from(outputs, self.ops)  # (B, h), or (B, 2h) bidirectional
        if self.head == "mlp":
            features = torch.relu(features @ self.W_mlp + self.b_mlp)
        return features @ self.W_out + self.b_out


class Classifier(TaskModel, models.Classifier, nn.Module):
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
        nn.Module.__init__(self)
        self.save_hyperparameters()
        self.init_head()

    def encode(self, inputs):
        return F.one_hot(inputs.T.long(), self.config.num_inputs).float()


class Regressor(TaskModel, models.Regressor, nn.Module):
    """Real values ``(B, T)`` (one feature per step) -> one value ``(B, 1)``; squared error; MSE."""

    def __init__(
        self, rnn, head: str = "linear", mlp_hiddens: int = 32, lr: float = 0.01, seed: int = 0, optimizer: str = "sgd"
    ):
        nn.Module.__init__(self)
        self.save_hyperparameters()
        self.init_head()

    def encode(self, inputs):
        return inputs.float().T.unsqueeze(-1)
