"""The file a student starts from: the backend's imports, the signature, a docstring with the
shapes and the equations, and a body that raises ``NotImplementedError("TODO")``."""

from __future__ import annotations

from .catalog import check_backend, get_exercise

IMPORTS = {
    "torch": "import torch",
    "tensorflow": "import tensorflow as tf",
    "jax": "import jax\nimport jax.numpy as jnp",
    "mxnet": "from mxnet import np, npx\n\nnpx.set_np()  # MXNet's NumPy interface, as d2l uses it",
    "numpy": "import numpy as np",
}


def stub_function(name: str, backend: str) -> str:
    """Only the function definition(s) of the stub (what a notebook's exercise cell holds)."""
    exercise = get_exercise(name)
    check_backend(exercise, backend)
    return exercise.stub_source(backend)


def stub(name: str, backend: str) -> str:
    """The whole file for the student: ``lstm-multi exercise NAME --backend B > NAME.py``."""
    exercise = get_exercise(name)
    check_backend(exercise, backend)
    header = (
        f'"""Exercise {name} on {backend}: {exercise.title}.\n\n'
        f"Write the body of {' and '.join(exercise.functions)} below, then check it:\n\n"
        f"    lstm-multi check {name} {name}.py --backend {backend}\n"
    )
    header += '"""\n\n'
    imports = f"{IMPORTS[backend]}\n\n\n" if exercise.imports else ""
    return header + imports + exercise.stub_source(backend)
