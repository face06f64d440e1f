"""NumPy backend: the NumPy reference (``lstm_multi.reference``) as a backend, the parity
oracle behind the same API as the frameworks.

Float64 throughout, exact and slow, needs nothing but NumPy (1.23 or later). NumPy has no
native recurrent layers, so ``LSTM``/``GRU``/``RNN`` (``--impl concise``) are the same
reference layers as the ``*Scratch`` classes. Choose it by name: ``get_backend("numpy")``
or ``LSTM_MULTI_BACKEND=numpy``.
"""

from .device import current_device, place
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

NAME = "numpy"

__all__ = [
    "GRU",
    "Classifier",
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
