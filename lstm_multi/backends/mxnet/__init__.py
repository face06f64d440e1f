"""MXNet backend (Gluon, NumPy-compatible interface).

MXNet is retired: 1.9.1 is its last release, and it needs NumPy < 1.24. Like d2l,
this backend uses MXNet's NumPy interface (``from mxnet import np, npx``), switched
on once here with ``npx.set_np()``; that switch is global to the process, so
MXNet code run beside this backend sees NumPy-interface arrays too.
"""

from mxnet import npx

npx.set_np()

from .device import current_device, place  # noqa: E402

place()  # the default device: the first GPU MXNet sees, else the CPU (every Gluon array follows it)
from .distributed import DataParallel  # noqa: E402
from .gru import GRU, GRUScratch  # noqa: E402  (set_np first: parameters are created as np arrays)
from .layers import trace  # noqa: E402
from .lm import RNNLM, RNNLMScratch  # noqa: E402
from .lstm import LSTM, LSTMScratch  # noqa: E402
from .ops import (  # noqa: E402
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
    train_step,
)
from .rnn import RNN, RNNScratch  # noqa: E402
from .tasks import Classifier, Regressor  # noqa: E402

NAME = "mxnet"

__all__ = [
    "DataParallel",
    "GRU",
    "Classifier",
    "GRUScratch",
    "LSTM",
    "LSTMScratch",
    "NAME",
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
