"""The task models on TensorFlow: a layer of the family and a head on its last step.

``inputs (B, T)`` -> one-hot ``(T, B, num_inputs)`` (symbol ids) or ``(T, B, 1)`` (one value
per step) -> the layer (any of the family, scratch or Keras, stacked, bidirectional) -> its
last step (a bidirectional layer's forward half at the last step and reverse half at the
first, ``features_from``) -> ``F W_out + b_out``, or ``relu(F W_mlp + b_mlp) W_out + b_out``
-> ``(B, num_classes)`` logits or ``(B, 1)`` predictions. The equations are
``reference/heads.py``'s; canonical names, initialisation, checks and metrics are
:mod:`lstm_multi.core.tasks.models`'.
"""

from __future__ import annotations

from ...core.tasks import models
from ._imports import tf


class TaskModel(tf.Module):
    """Storage and the forward pass, for both tasks: the head's ``tf.Variable``s under their
    canonical names (``W_mlp``, ``b_mlp``, ``W_out``, ``b_out``), the layer's behind ``"rnn."``."""

    backend_name = "tensorflow"

    def init_head(self):
        self.check_head()
        self.own = {name: tf.Variable(value, name=name) for name, value in self.initial_head_params().items()}

    def named_variables(self):
        """Native name -> variable (what ``get_params`` lists), the layer's behind ``"rnn."``."""
        rnn = {f"rnn.{name}": v for name, v in self.rnn.named_variables().items()}
        return {**rnn, **self.own}

    def encode(self, inputs):
        """``(B, T)`` inputs -> the layer's ``(T, B, num_inputs)``."""
        raise NotImplementedError

    def head_output(self, outputs):
        """The layer's ``outputs (T, B, h * directions)`` -> ``(B, num_outputs)``."""
        F = self.features_from(outputs, self.ops)
        if self.head == "mlp":
            F = tf.nn.relu(F @ self.own["W_mlp"] + self.own["b_mlp"])
        return F @ self.own["W_out"] + self.own["b_out"]

    def __call__(self, inputs):
        """``inputs (B, T)`` (NumPy or a tensor) -> outputs, the layer's shape checks first (eager)."""
        return self.head_output(self.rnn(self.encode(tf.convert_to_tensor(inputs)))[0])

    def forward(self, inputs, training=False):
        """Outputs without the shape checks: what the compiled steps trace (see ``ops``);
        ``training=True`` turns on the layer's dropout."""
        return self.head_output(self.rnn.forward(self.encode(inputs), training=training)[0])


class Classifier(TaskModel, models.Classifier):
    """Symbol ids ``(B, T)`` -> ``num_classes`` logits (one-hot inputs, cross-entropy, accuracy)."""

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
        tf.Module.__init__(self)
        self.save_hyperparameters()
        self.init_head()

    def encode(self, inputs):
        """One-hot, then transposed (the float tensor moves: see ``RNNLMScratch.embed``)."""
        return tf.transpose(tf.one_hot(inputs, self.config.num_inputs), (1, 0, 2))


class Regressor(TaskModel, models.Regressor):
    """Values ``(B, T)`` -> one prediction ``(B, 1)`` (one feature per step, squared error, MSE)."""

    def __init__(
        self, rnn, head: str = "linear", mlp_hiddens: int = 32, lr: float = 0.01, seed: int = 0, optimizer: str = "sgd"
    ):
        tf.Module.__init__(self)
        self.save_hyperparameters()
        self.init_head()

    def encode(self, inputs):
        return tf.transpose(tf.cast(inputs, tf.float32))[..., None]
