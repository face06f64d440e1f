"""Looking inside a trained language model: its gates and states over a text.

``trace_text(model, text, vocab)`` runs the model's layer over the text (prepared like
the corpus) with the backend's ``trace`` (every gate and state per step, scratch and
native layers alike); ``plot_gates`` draws one heatmap per gate, characters on the x
axis and hidden units on the y axis; ``gate_table`` prints the values per step, as the
course tutorial does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .plot import _pyplot, save_figure
from .sampling import encode_prefix

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .data import Vocab
    from .family import LayerConfig
    from .lm import LanguageModel

#: What each trace is, for titles.
MEANINGS = {
    "i": "input gate",
    "f": "forget gate",
    "o": "output gate",
    "c_tilde": "candidate cell",
    "C": "cell state",
    "H": "hidden state",
    "z": "update gate",
    "r": "reset gate",
    "h_tilde": "candidate state",
}


def trace_text(model: LanguageModel, text: str, vocab: Vocab) -> tuple[list[str], dict[str, np.ndarray]]:
    """The tokens of ``text`` and the trace of ``model.rnn`` over them: ``{name: (T, h)}``.

    The layer reads the same inputs the LM gives it: one-hot vectors, or rows of ``W_e``.
    """
    ids = encode_prefix(text, vocab)
    tokens = [vocab.idx_to_token[i] for i in ids]
    if model.embedding_dim is None:
        X = np.eye(model.vocab_size, dtype=np.float32)[ids][:, None, :]
    else:
        X = model.ops.get_params(model)["W_e"][ids][:, None, :]
    traces = model.ops.trace(model.rnn, X)
    return tokens, {name: np.asarray(value)[:, 0, :] for name, value in traces.items()}


def unit_prefix(config: LayerConfig, layer: int, reverse: bool = False) -> str:
    """The name prefix of a layer's unit ("" for a single unit)."""
    if not 0 <= layer < config.num_layers:
        raise ValueError(
            f"layer must lie in [0, {config.num_layers}) for this {config.num_layers}-layer model, got {layer}."
        )
    return "" if config.single else f"l{layer}.{'rev.' if reverse else ''}"


def plot_gates(
    tokens: list[str], traces: dict[str, np.ndarray], path: str | Path | None = None, prefix: str = "", title: str = ""
) -> Figure | Path:
    """One heatmap per gate and state of the unit ``prefix``: tokens across, hidden units down.

    Gates lie in [0, 1] (one colour scale), states in [-1, 1] or beyond (their own).
    Saved to ``path``, or returned as a figure.
    """
    plt = _pyplot()
    names = [n[len(prefix) :] for n in traces if n.startswith(prefix) and "." not in n[len(prefix) :]]
    T, h = traces[prefix + names[0]].shape
    fig, axes = plt.subplots(
        len(names), 1, figsize=(max(6.0, 0.28 * T + 1.5), 1.0 + len(names) * (0.9 + 0.06 * h)), squeeze=False
    )
    labels = [t if t != " " else "␣" for t in tokens]
    for ax, name in zip(axes[:, 0], names):
        values = traces[prefix + name].T  # (h, T)
        gate = name in ("i", "f", "o", "z", "r")
        bound = max(float(np.abs(values).max()), 1e-6)
        image = ax.imshow(
            values,
            aspect="auto",
            interpolation="nearest",
            cmap="viridis" if gate else "RdBu_r",
            vmin=0.0 if gate else -bound,
            vmax=1.0 if gate else bound,
        )
        ax.set_ylabel(f"{name}\n{MEANINGS.get(name, '')}", rotation=0, ha="right", va="center", fontsize=8)
        ax.set_yticks([])
        ax.set_xticks(range(T))
        ax.set_xticklabels(labels, fontsize=8, family="monospace")
        fig.colorbar(image, ax=ax, fraction=0.02, pad=0.01)
    axes[0, 0].set_title(title or "gates and states over the text (rows: hidden units)")
    fig.tight_layout()
    return fig if path is None else save_figure(fig, path)


def gate_table(tokens: list[str], traces: dict[str, np.ndarray], prefix: str = "") -> str:
    """Per step: the token and each gate's mean over hidden units (the tutorial's printout)."""
    names = [n[len(prefix) :] for n in traces if n.startswith(prefix) and "." not in n[len(prefix) :]]
    lines = ["step  token  " + "  ".join(f"{n:>7}" for n in names)]
    for t, token in enumerate(tokens):
        values = "  ".join(f"{traces[prefix + n][t].mean():7.3f}" for n in names)
        lines.append(f"{t:4d}  {token!r:5}  {values}")
    return "\n".join(lines)
