"""Every exercise by name, in the order a course meets them."""

from __future__ import annotations

from . import backward, cells, layers, parentheses, sampling, training
from .base import Exercise

EXERCISES: dict[str, Exercise] = {
    exercise.name: exercise
    for module in (cells, layers, backward, training, sampling, parentheses)
    for exercise in module.EXERCISES
}


def list_lines() -> list[str]:
    """One line per exercise: its name, what it asks, its backends."""
    width = max(map(len, EXERCISES))
    return [f"{name:{width}s}  {ex.title}  [{', '.join(ex.backends)}]" for name, ex in EXERCISES.items()]


def unknown_exercise(name) -> str:
    return f"Unknown exercise {name!r}. Exercises: {', '.join(EXERCISES)}."


def get_exercise(name: str) -> Exercise:
    """The exercise ``name``, else a ValueError listing them."""
    if name not in EXERCISES:
        raise ValueError(unknown_exercise(name))
    return EXERCISES[name]


def check_backend(exercise: Exercise, backend: str) -> None:
    """A ValueError when ``exercise`` is not offered on ``backend``."""
    from ..backend import validate_name

    validate_name(backend)
    if backend not in exercise.backends:
        raise ValueError(
            f"{exercise.name} is an exercise for {', '.join(exercise.backends)} only "
            f"(backend={exercise.backends[0]!r}), not for {backend!r}."
        )
