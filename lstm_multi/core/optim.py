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

from dataclasses import dataclass

from .checks import check_positive

OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class SGD:
    lr: float

    name = "sgd"
    slots = ()  # per-parameter state

    def __post_init__(self):
        check_positive("lr", self.lr)

    def update(self, params, grads, slots, step, sqrt):
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

    def __post_init__(self):
        check_positive("lr", self.lr)
        check_positive("eps", self.eps)
        for name in ("beta1", "beta2"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise ValueError(f"{name} must be a number in [0, 1), got {value!r}.")

    def update(self, params, grads, slots, step, sqrt):
        """New parameters and slots ``{"m": [...], "v": [...]}``; ``step`` is t (1 for the first).

        ``step`` may be a backend scalar (inside a compiled step), so the bias corrections
        are computed with ``**`` on it.
        """
        b1, b2 = self.beta1, self.beta2
        m = [b1 * m_ + (1 - b1) * g for m_, g in zip(slots["m"], grads)]
        v = [b2 * v_ + (1 - b2) * g * g for v_, g in zip(slots["v"], grads)]
        correction1, correction2 = 1 - b1 ** step, 1 - b2 ** step
        new = [p - self.lr * (m_ / correction1) / (sqrt(v_ / correction2) + self.eps)
               for p, m_, v_ in zip(params, m, v)]
        return new, {"m": m, "v": v}


def make_optimizer(name: str, lr: float, **options):
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
