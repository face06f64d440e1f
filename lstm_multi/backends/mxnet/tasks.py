"""The task models on MXNet Gluon: a layer of the family and a head on its last hidden state.

``inputs (B, T)`` -> one-hot ``(T, B, num_inputs)`` symbol ids (classifier) or one value per
step ``(T, B, 1)`` (regressor) -> the layer -> its last step (both directions' summaries for
a bidirectional layer, :meth:`~lstm_multi.core.tasks.models.TaskModel.features_from`) -> a
linear head ``F W_out + b_out`` or an MLP ``relu(F W_mlp + b_mlp) W_out + b_out`` ->
``(B, num_classes)`` logits or ``(B, 1)`` predictions (equations: ``reference/heads.py``).

Like the LM, a model is a plain ``gluon.Block`` around the hybridized layer; the head's
parameters are its own, under their canonical names, the layer's behind ``"rnn."``.
"""

from __future__ import annotations

from mxnet import gluon, np, npx

from ...core.tasks import models
from .ops import new_parameter


class TaskModel:
    """The forward pass and the head's parameters, for both tasks (mixed in before the core's
    task model and ``gluon.Block``)."""

    backend_name = "mxnet"

    def init_head(self):
        self.check_head()
        for name, value in self.initial_head_params().items():
            setattr(self, name, new_parameter(self, name, value))

    def encode(self, inputs):
        """``(B, T)`` inputs -> the layer's time-major ``(T, B, num_inputs)``."""
        raise NotImplementedError

    def forward(self, inputs):
        outputs, _ = self.rnn(self.encode(inputs))
        F = self.features_from(outputs, self.ops)  # (B, h), or (B, 2h) bidirectional
        if self.head == "mlp":
            F = npx.relu(np.dot(F, self.W_mlp.data()) + self.b_mlp.data())
        return np.dot(F, self.W_out.data()) + self.b_out.data()


class Classifier(TaskModel, models.Classifier, gluon.Block):
    """Symbol ids ``(B, T)`` -> ``num_classes`` logits (cross-entropy, accuracy)."""

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
        gluon.Block.__init__(self)
        self.save_hyperparameters()
        self.init_head()

    def encode(self, inputs):
        """int32 ids ``(B, T)`` -> float32 one-hot vectors ``(T, B, num_inputs)``."""
        return npx.one_hot(inputs.T, self.config.num_inputs)


class Regressor(TaskModel, models.Regressor, gluon.Block):
    """Values ``(B, T)`` -> one prediction ``(B, 1)`` (squared error, MSE)."""

    def __init__(
        self, rnn, head: str = "linear", mlp_hiddens: int = 32, lr: float = 0.01, seed: int = 0, optimizer: str = "sgd"
    ):
        gluon.Block.__init__(self)
        self.save_hyperparameters()
        self.init_head()

    def encode(self, inputs):
        """float32 values ``(B, T)`` -> ``(T, B, 1)``: one feature per step."""
        return np.expand_dims(inputs.T, axis=-1)
