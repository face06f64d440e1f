"""NumPy reference LSTM (float64, hand-written BPTT): the parity oracle."""

from .lstm import (cross_entropy, lm_forward, lm_loss_and_grads, lstm_backward, lstm_forward,
                   one_hot)
from .train import sgd_train

__all__ = ["cross_entropy", "lm_forward", "lm_loss_and_grads", "lstm_backward", "lstm_forward",
           "one_hot", "sgd_train"]
