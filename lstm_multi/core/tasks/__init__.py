"""The course's tasks beyond the character LM, framework-neutral (NumPy data modules).

Each is a data module plus what the model puts on top of the recurrent layer (a
head), its loss and metrics; training goes through the common Trainer.
"""

from .models import Classifier, Regressor, TaskModel
from .parentheses import ALPHABET, Parentheses
from .timeseries import NOISE_FLOOR, TimeSeries

__all__ = ["ALPHABET", "NOISE_FLOOR", "Classifier", "Parentheses", "Regressor", "TaskModel", "TimeSeries"]
