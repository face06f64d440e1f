"""The optimizers, written once: SGD and Adam, both after global-norm clipping.

One update, for every parameter ``p`` with gradient ``g``::

    norm = sqrt(sum over all parameters of sum(g ** 2))     # global gradient norm
    g    = g * min(1, clip / norm)                           # d2l's clip_gradients

    SGD:   p = p - lr * g
    Adam (Kingma and Ba 2015), step t = 1, 2, ...:
           m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
           p = p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

d2l scales only when ``norm > clip``; ``min(1, clip / norm)`` is the same rule. The
updates are plain arithmetic, so :meth:`SGD.update` and :meth:`Adam.update` run on any
backend's tensors (torch, TensorFlow, JAX, MXNet, NumPy) given that backend's ``sqrt``:
every backend applies exactly these lines, inside its own compiled step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from .checks import check_positive
from .types import NativeParams, Shapes, Tensor

if TYPE_CHECKING:
    from .module import Module

#: an optimizer's slots as its update takes them: slot name -> one tensor per parameter
Slots: TypeAlias = dict[str, list[Tensor]]
#: a backend's square root, applied to its tensors
Sqrt: TypeAlias = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class SGD:
    lr: float

    name = "sgd"
    slots = ()  # per-parameter state

    def __post_init__(self) -> None:
        check_positive("lr", self.lr)

    def update(
        self, params: list[Tensor], grads: list[Tensor], slots: Slots, step: int | Tensor, sqrt: Sqrt
    ) -> tuple[list[Tensor], Slots]:
        """New parameters (and slots, none) from lists of tensors: ``p - lr * g``."""
        return [p - self.lr * g for p, g in zip(params, grads)], slots


@dataclass(frozen=True)
class Adam:
    lr: float = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    name = "adam"
    slots = ("m", "v")  # first and second moment estimates, shaped like the parameters

    def __post_init__(self) -> None:
        check_positive("lr", self.lr)
        check_positive("eps", self.eps)
        for name in ("beta1", "beta2"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise ValueError(f"{name} must be a number in [0, 1), got {value!r}.")

    def update(
        self, params: list[Tensor], grads: list[Tensor], slots: Slots, step: int | Tensor, sqrt: Sqrt
    ) -> tuple[list[Tensor], Slots]:
        """New parameters and slots ``{"m": [...], "v": [...]}``; ``step`` is t (1 for the first).

        ``step`` may be a backend scalar (inside a compiled step), so the bias corrections
        are computed with ``**`` on it.
        """
        b1, b2 = self.beta1, self.beta2
        m = [b1 * m_ + (1 - b1) * g for m_, g in zip(slots["m"], grads)]
        v = [b2 * v_ + (1 - b2) * g * g for v_, g in zip(slots["v"], grads)]
        correction1, correction2 = 1 - b1**step, 1 - b2**step
        new = [
            p - self.lr * (m_ / correction1) / (sqrt(v_ / correction2) + self.eps) for p, m_, v_ in zip(params, m, v)
        ]
        return new, {"m": m, "v": v}


Optimizer: TypeAlias = SGD | Adam

#: name -> optimizer class
OPTIMIZERS: dict[str, type[Optimizer]] = {cls.name: cls for cls in (SGD, Adam)}


def as_optimizer(optimizer: Optimizer | float) -> Optimizer:
    """An optimizer object; a bare number is SGD's learning rate (d2l's ``train_step(..., lr, ...)``)."""
    if isinstance(optimizer, (SGD, Adam)):
        return optimizer
    return SGD(optimizer)


def make_optimizer(name: str, lr: float, **options: float) -> Optimizer:
    """``"sgd"`` or ``"adam"`` with learning rate ``lr`` (Adam's betas and eps in ``options``)."""
    if name == "sgd":
        if options:
            raise ValueError(f"SGD takes only lr, got {', '.join(options)}.")
        return SGD(lr)
    if name == "adam":
        return Adam(lr, **options)
    raise ValueError(f"Unknown optimizer {name!r}. Valid: {', '.join(OPTIMIZERS)}.")


def clip_scale(norm: float, clip: float | None) -> float:
    """The factor gradients are multiplied by (1.0 when not clipping)."""
    if clip is None or norm <= clip:
        return 1.0
    return clip / norm


def canonical_state(
    model: Module, optimizer: Optimizer | str, step: int, native_slots: dict[str, NativeParams]
) -> dict[str, Any]:
    """The optimizer state a checkpoint stores: ``{"name", "step", "slots": {slot: {canonical
    name: float32 array}}}`` from the backend's ``{slot: {native name: array}}``; ``optimizer``
    is the optimizer or its name.

    Slots are shaped like gradients, so they convert to canonical names as gradients do.
    """
    import numpy as np

    slots = {
        slot: {name: np.asarray(value, np.float32) for name, value in model.to_canonical(native, grads=True).items()}
        for slot, native in native_slots.items()
    }
    return {"name": getattr(optimizer, "name", optimizer), "step": int(step), "slots": slots}


def native_state(model: Module, state: dict[str, Any]) -> tuple[str, int, dict[str, NativeParams]]:
    """The inverse of :func:`canonical_state`, checked: ``(name, step, {slot: {native: array}})``."""
    import numpy as np

    from .params import check_params

    what = f"optimizer state for {type(model).__name__}"
    if not isinstance(state, dict) or state.get("name") not in OPTIMIZERS or "slots" not in state:
        raise ValueError(f"The {what} must be a dict with name ({', '.join(OPTIMIZERS)}), step and slots.")
    step = state.get("step")
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
        raise ValueError(f"The {what} must have a non-negative integer step, got {step!r}.")
    native: dict[str, NativeParams] = {}
    for slot, values in state["slots"].items():
        try:
            check_params(values, model.canonical_shapes(), what=f"model ({slot})")
        except ValueError as err:
            raise ValueError(f"The {what} does not fit: {err}") from None
        native[slot] = model.from_canonical({k: np.asarray(v, np.float32) for k, v in values.items()})
    return state["name"], int(step), native


def kept_state(
    model: Module, optimizer: Optimizer, trained: NativeParams, zeros_like: Callable[[Tensor], Tensor]
) -> dict[str, Any]:
    """The optimizer state an eager backend (torch, MXNet, NumPy) keeps on ``model``, in its
    ``__dict__`` (outside the framework's own tracking): ``{"name", "step", "slots": {slot:
    {native name: tensor}}}`` for the ``trained`` parameters ``{native name: tensor}``, started
    at zeros (``zeros_like``), and again for another kind of optimizer."""
    state = model.__dict__.get("_optimizer_state")
    if state is None or state["name"] != optimizer.name:
        state = {
            "name": optimizer.name,
            "step": 0,
            "slots": {slot: {name: zeros_like(p) for name, p in trained.items()} for slot in optimizer.slots},
        }
        model.__dict__["_optimizer_state"] = state
    return state


def export_kept_state(model: Module, shapes: Shapes, to_numpy: Callable[[Tensor], Any]) -> dict[str, Any] | None:
    """:func:`kept_state` in canonical names (what ``get_optimizer_state`` returns): ``None``
    before the first step; zeros for the parameters (``shapes``: every native name) that
    training does not update."""
    import numpy as np

    state = model.__dict__.get("_optimizer_state")
    if state is None:
        return None
    native = {slot: {name: np.zeros(shape, np.float32) for name, shape in shapes.items()} for slot in state["slots"]}
    for slot, values in state["slots"].items():
        native[slot].update({name: np.array(to_numpy(value), np.float32) for name, value in values.items()})
    return canonical_state(model, state["name"], state["step"], native)


def restore_kept_state(
    model: Module, state: dict[str, Any], trained: NativeParams, tensor: Callable[[Any, Tensor], Tensor]
) -> None:
    """The inverse, checked (:func:`native_state`): the next step with an optimizer of its kind
    is ``step + 1``; ``tensor(value, like)`` makes a slot like the trained parameter ``like``."""
    name, step, native = native_state(model, state)
    model.__dict__["_optimizer_state"] = {
        "name": name,
        "step": step,
        "slots": {slot: {n: tensor(values[n], p) for n, p in trained.items()} for slot, values in native.items()},
    }
