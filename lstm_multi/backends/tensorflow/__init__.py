"""TensorFlow backend (Keras 3 on TensorFlow).

Importing it sets ``TF_CPP_MIN_LOG_LEVEL=2`` unless you set it (TensorFlow's C++
start-up messages and absl's ``InitializeLog`` warning are hidden; set it to 0 to
see them) and imports Keras on TensorFlow; if ``KERAS_BACKEND`` names another
framework, or Keras was already imported on one, it raises a
:class:`~lstm_multi.backend.BackendError` saying what to do. See ``_imports.py``.
"""

from .device import current_device, place
from .distributed import DataParallel
from .gru import GRU, GRUScratch
from .lm import RNNLM, RNNLMScratch
from .lstm import LSTM, LSTMScratch
from .ops import (
    concat,
    cross_entropy,
    evaluate,
    evaluate_loss,
    get_optimizer_state,
    get_params,
    loss_and_grads,
    mse,
    set_optimizer_state,
    set_params,
    tensor,
    to_numpy,
    trace,
    train_step,
)
from .rnn import RNN, RNNScratch
from .tasks import Classifier, Regressor

NAME = "tensorflow"

__all__ = [
    "GRU",
    "Classifier",
    "DataParallel",
    "GRUScratch",
    "LSTM",
    "LSTMScratch",
    "RNN",
    "RNNLM",
    "RNNLMScratch",
    "RNNScratch",
    "Regressor",
    "concat",
    "current_device",
    "cross_entropy",
    "evaluate",
    "evaluate_loss",
    "get_optimizer_state",
    "get_params",
    "loss_and_grads",
    "mse",
    "place",
    "set_optimizer_state",
    "set_params",
    "tensor",
    "to_numpy",
    "trace",
    "train_step",
]
