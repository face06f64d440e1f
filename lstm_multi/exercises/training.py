"""clip_gradients: global-norm clipping, what ``Trainer(gradient_clip_val=...)`` does to every step's
gradients (the package's own lines: ``core/optim.py`` and the backends' ``train_step``)."""

from __future__ import annotations

import numpy as np

from .base import ALL_BACKENDS, Case, Exercise, Mistake, Student, f32

SHAPES = {"W_xh": (3, 4), "W_hh": (4, 4), "b_h": (4,)}
#: per-tensor sizes before the whole set is scaled to the case's norm: uneven, so that clipping each
#: tensor on its own, or by value, gives something else than clipping by the global norm.
SPREAD = {"W_xh": 1.0, "W_hh": 2.5, "b_h": 0.1}
CLIP_SIZES = (
    {"norm": 3.0, "max_norm": 1.0, "seed": 0},
    {"norm": 0.5, "max_norm": 1.0, "seed": 1},
    {"norm": 8.0, "max_norm": 5.0, "seed": 2},
)


def clip_case(sizes) -> Case:
    rng = np.random.default_rng(sizes.get("seed", 0))
    grads = {name: rng.standard_normal(shape) * SPREAD[name] for name, shape in SHAPES.items()}
    total = np.sqrt(sum((g**2).sum() for g in grads.values()))
    grads = {name: f32(g * (sizes["norm"] / total)) for name, g in grads.items()}
    return Case(
        f"global norm {sizes['norm']:g}, max_norm {sizes['max_norm']:g}",
        {"grads": grads, "max_norm": float(sizes["max_norm"])},
        dict(sizes),
    )


def norm(g) -> float:
    return float(np.sqrt((g**2).sum()))


def clipped(case, mistake=None) -> dict:
    """Global-norm clipping in float64 (``mistake``: how it goes wrong)."""
    grads, max_norm = case.inputs["grads"], case.inputs["max_norm"]
    if mistake == "per_tensor":
        return {f"grads[{n!r}]": g * min(1.0, max_norm / norm(g)) for n, g in grads.items()}
    if mistake == "by_value":
        return {f"grads[{n!r}]": np.clip(g, -max_norm, max_norm) for n, g in grads.items()}
    total = {
        "squared_norm": sum((g**2).sum() for g in grads.values()),
        "sum_of_norms": sum(norm(g) for g in grads.values()),
    }.get(mistake, np.sqrt(sum((g**2).sum() for g in grads.values())))
    scale = max_norm / total if mistake == "always_scale" else min(1.0, max_norm / total)
    return {f"grads[{n!r}]": g * scale for n, g in grads.items()}


CLIP_MISTAKES = (
    Mistake(
        "per_tensor",
        "each gradient is clipped by its own norm; clip by the global norm of all of them "
        "together, so that they keep their proportions.",
        lambda case: clipped(case, "per_tensor"),
    ),
    Mistake(
        "always_scale",
        "the gradients are scaled up when their norm is below max_norm: scale by min(1, max_norm / global_norm).",
        lambda case: clipped(case, "always_scale"),
    ),
    Mistake(
        "squared_norm",
        "the global norm is missing its square root: sqrt(sum of g^2).",
        lambda case: clipped(case, "squared_norm"),
    ),
    Mistake(
        "sum_of_norms",
        "the global norm is the sum of the tensors' norms; it is sqrt(sum over all tensors of the sum of g^2).",
        lambda case: clipped(case, "sum_of_norms"),
    ),
    Mistake(
        "by_value",
        "each value is clipped to [-max_norm, max_norm]; clipping by norm scales all gradients by one factor.",
        lambda case: clipped(case, "by_value"),
    ),
)


def run_clip(student: Student, case: Case) -> dict:
    grads = case.inputs["grads"]
    result = student.call("clip_gradients", student.tensors(grads), case.inputs["max_norm"])
    result = student.mapping(result, "the value clip_gradients returned", list(grads))
    return {f"grads[{n!r}]": student.array(result[n], f"grads[{n!r}]", g.shape) for n, g in grads.items()}


def clip_stub(backend: str) -> str:
    return '''def clip_gradients(grads, max_norm):
    """Clip gradients by their global norm (what Trainer(gradient_clip_val=...) does each step).

    Args:
        grads: a dict name -> gradient tensor, of any shapes.
        max_norm: a float > 0.

    Returns:
        a dict with the same names, every gradient multiplied by the same factor::

            global_norm = sqrt(sum over every tensor and every entry of g^2)
            scale = min(1, max_norm / global_norm)
    """
    raise NotImplementedError("TODO")
'''


EXERCISES = (
    Exercise(
        "clip_gradients",
        "clip a dict of gradients by their global norm",
        ("clip_gradients",),
        ALL_BACKENDS,
        CLIP_SIZES,
        clip_case,
        run_clip,
        clipped,
        clip_stub,
        CLIP_MISTAKES,
    ),
)
