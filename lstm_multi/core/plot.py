"""Training curves as a PNG (matplotlib, headless). matplotlib is optional (``lstm-multi[plot]``):
without it everything trains and saves, and only drawing fails, saying how to install it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .trainer import EpochRecord

#: How to get matplotlib, which only the figures need.
MATPLOTLIB_HINT = 'pip install "lstm-multi[plot]" (or pip install matplotlib)'


def matplotlib_available() -> bool:
    """Whether matplotlib can be imported (the figures can be drawn)."""
    try:
        import matplotlib  # noqa: F401
    except ModuleNotFoundError as err:
        if err.name != "matplotlib":
            raise  # installed, but something it needs is missing: show that
        return False
    return True


def _pyplot() -> ModuleType:
    """pyplot; a process that has not imported it yet (the CLI) gets Agg, as figures are only
    saved, while a notebook or script keeps its own backend (inline figures stay inline)."""
    import sys

    if not matplotlib_available():
        raise ModuleNotFoundError(
            f"drawing figures needs matplotlib, which is not installed: {MATPLOTLIB_HINT}.", name="matplotlib"
        )
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` (folders created) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    _pyplot().close(fig)
    return path


def plot_history(history: Sequence[EpochRecord], path: str | Path, title: str = "") -> Path:
    """Plot train and validation perplexity per epoch to ``path`` (a language model), or the
    losses beside the validation metrics (a task model: accuracy, MSE)."""
    plt = _pyplot()
    epochs = [r.epoch for r in history]
    language_model = not history or history[0].language_model
    metrics = [] if language_model else list(history[0].metrics)
    fig, axes = plt.subplots(1, 1 + bool(metrics), figsize=(6 + 4 * bool(metrics), 4), squeeze=False)
    ax = axes[0, 0]
    what = "ppl" if language_model else "loss"
    ax.plot(epochs, [getattr(r, f"train_{what}") for r in history], label=f"train {what}")
    val = [(r.epoch, getattr(r, f"val_{what}")) for r in history if r.val_loss is not None]
    if val:
        ax.plot(*zip(*val), "--", label=f"val {what}")
    ax.set_ylabel("perplexity" if language_model else "loss")
    if metrics:
        for name in metrics:
            axes[0, 1].plot(epochs, [r.metrics[name] for r in history], label=name)
        axes[0, 1].set_ylabel(", ".join(m[len("val_") :] for m in metrics))
    for ax in axes[0]:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)
