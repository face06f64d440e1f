"""JAX backend (Flax NNX modules, jitted training step)."""

from .lm import RNNLM, RNNLMScratch
from .lstm import LSTM, LSTMScratch
from .ops import (cross_entropy, evaluate_loss, get_params, loss_and_grads, set_params, tensor,
                  to_numpy, train_step)

NAME = "jax"

__all__ = ["LSTM", "LSTMScratch", "RNNLM", "RNNLMScratch", "cross_entropy", "evaluate_loss",
           "get_params", "loss_and_grads", "set_params", "tensor", "to_numpy", "train_step"]
