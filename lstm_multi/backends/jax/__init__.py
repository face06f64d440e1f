"""JAX backend (Flax NNX modules, jitted training step)."""

from .gru import GRU, GRUScratch
from .lm import RNNLM, RNNLMScratch
from .lstm import LSTM, LSTMScratch
from .ops import (cross_entropy, evaluate_loss, get_params, loss_and_grads, set_params, tensor,
                  to_numpy, train_step)
from .rnn import RNN, RNNScratch

NAME = "jax"

__all__ = ["GRU", "GRUScratch", "LSTM", "LSTMScratch", "RNN", "RNNLM", "RNNLMScratch", "RNNScratch",
           "cross_entropy", "evaluate_loss", "get_params", "loss_and_grads", "set_params", "tensor",
           "to_numpy", "train_step"]
