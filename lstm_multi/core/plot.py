"""Training curves as a PNG (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path


def plot_history(history, path: str | Path, title: str = "") -> Path:
    """Plot train and validation perplexity per epoch to ``path``."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    epochs = [r.epoch for r in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, [r.train_ppl for r in history], label="train ppl")
    val = [(r.epoch, r.val_ppl) for r in history if r.val_ppl is not None]
    if val:
        ax.plot(*zip(*val), "--", label="val ppl")
    ax.set_xlabel("epoch")
    ax.set_ylabel("perplexity")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
