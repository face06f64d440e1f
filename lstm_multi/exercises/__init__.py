"""Exercises with an autograder: a student implements a piece of the model family in any
backend, and :func:`check` compares it with the package's float64 NumPy reference on seeded
cases, saying right or wrong and why (which output, which time step, how far off, and a hint
when the result matches a common mistake), never printing a solution.

    import lstm_multi.exercises as ex
    print(ex.stub("lstm_step", "torch"))                 # the file to start from
    ex.check("lstm_step", my_lstm_step, backend="torch")  # prints the report; .status 0, 1 or 2
    ex.check_file("lstm_step", "lstm_step.py", backend="torch")

Importing this module imports no framework; a check imports the backend it runs on.
"""

from .base import Exercise
from .catalog import EXERCISES, list_lines
from .grader import CheckResult, check, check_file, solution
from .stubs import stub, stub_function

__all__ = [
    "EXERCISES",
    "CheckResult",
    "Exercise",
    "check",
    "check_file",
    "list_lines",
    "solution",
    "stub",
    "stub_function",
]
