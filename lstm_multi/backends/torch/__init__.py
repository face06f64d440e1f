"""PyTorch backend."""

from .gru import GRU, GRUScratch
from .lm import RNNLM, RNNLMScratch
from .lstm import LSTM, LSTMScratch
from .ops import (cross_entropy, evaluate_loss, get_params, loss_and_grads, set_params, tensor,
                  to_numpy, train_step)
from .rnn import RNN, RNNScratch

NAME = "torch"

__all__ = ["GRU", "GRUScratch", "LSTM", "LSTMScratch", "NAME", "RNN", "RNNLM", "RNNLMScratch", "RNNScratch",
           "cross_entropy", "evaluate_loss", "get_params", "loss_and_grads", "set_params", "tensor",
           "to_numpy", "train_step"]
