"""The exercises notebook (``notebooks/08_exercises.py``) solved, for ``tox -e notebooks``.

Its cells are tagged: ``exercise:<name>`` the student's code (the stub), ``check:<name>`` the
check under it, ``backend`` the cell that sets ``BACKEND``. :func:`fill_solutions` replaces each
exercise cell with an import of the package's solution and pins ``BACKEND``; after the
notebook ran, :func:`failed_checks` lists the checks that did not pass. Both take an nbformat
notebook (or any dict of that shape) and import nothing but this package.
"""

from __future__ import annotations

from .catalog import get_exercise

EXERCISE_TAG, CHECK_TAG, BACKEND_TAG = "exercise:", "check:", "backend"


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def tagged(notebook, prefix: str):
    """``(name, cell)`` for each cell with a tag ``prefix<name>``."""
    for cell in notebook["cells"]:
        for tag in tags(cell):
            if tag.startswith(prefix):
                yield tag[len(prefix) :], cell


def solution_import(name: str, backend: str) -> str:
    """The line that brings the package's solution of ``name`` into the notebook (the exercise's
    own backend where it has only one: lstm_step_backward is NumPy's)."""
    exercise = get_exercise(name)
    backend = backend if backend in exercise.backends else exercise.backends[0]
    return f"from lstm_multi.exercises.solutions.{backend} import {', '.join(exercise.functions)}"


def fill_solutions(notebook, backend: str):
    """Replace every ``exercise:<name>`` cell with an import of the package's solution on ``backend``
    and set ``BACKEND = "<backend>"`` in the ``backend`` cell; returns the notebook (changed in place)."""
    for name, cell in tagged(notebook, EXERCISE_TAG):
        cell["source"] = solution_import(name, backend)
    for cell in notebook["cells"]:
        if BACKEND_TAG in tags(cell):
            lines = cell["source"].splitlines()
            cell["source"] = "\n".join(
                f'BACKEND = "{backend}"' if line.startswith("BACKEND = ") else line for line in lines
            )
    return notebook


def output_text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def failed_checks(notebook) -> list[str]:
    """The first line of every check of an executed notebook that did not pass (empty: all passed)."""
    failed = []
    for name, cell in tagged(notebook, CHECK_TAG):
        text = output_text(cell)
        first = text.splitlines()[0] if text.strip() else f"{name}: the check printed nothing"
        if ": passed (" not in first:
            failed.append(first)
    return failed
