"""JAX backend (Flax NNX modules, jitted training step)."""

from .device import current_device, place
from .distributed import DataParallel, initialize_from_env
from .gru import GRU, GRUScratch
from .layers import trace
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
    train_step,
)
from .rnn import RNN, RNNScratch
from .tasks import Classifier, Regressor

NAME = "jax"

initialize_from_env()  # several processes: before JAX computes anything

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
