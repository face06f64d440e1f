# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # An LSTM from scratch, four ways
#
# The equations once (d2l's notation, 10.1; $\odot$ is the element-wise product). For an input
# $X_t$ (batch x $d$) and the previous hidden state $H_{t-1}$ and cell $C_{t-1}$ (batch x $h$):
#
# $$
# \begin{aligned}
# I_t &= \sigma(X_t W_{xi} + H_{t-1} W_{hi} + b_i) && \text{input gate}\\
# F_t &= \sigma(X_t W_{xf} + H_{t-1} W_{hf} + b_f) && \text{forget gate}\\
# O_t &= \sigma(X_t W_{xo} + H_{t-1} W_{ho} + b_o) && \text{output gate}\\
# \tilde C_t &= \tanh(X_t W_{xc} + H_{t-1} W_{hc} + b_c) && \text{candidate cell}\\
# C_t &= F_t \odot C_{t-1} + I_t \odot \tilde C_t\\
# H_t &= O_t \odot \tanh(C_t)
# \end{aligned}
# $$
#
# The four gates read the same inputs, so every implementation below stores their weights side
# by side, $W_x = [W_{xi}, W_{xf}, W_{xo}, W_{xc}]$ ($d \times 4h$), and computes all four
# pre-activations with one matmul per step. Below: the same step in NumPy (the reference every
# framework is checked against), PyTorch, TensorFlow, JAX and MXNet, read from the package's
# source files.

# %%
from IPython.display import Markdown, display

from lstm_multi.backend import FRAMEWORKS
from lstm_multi.notebook import native_layout, show_source, size

show_source("reference", "step", file="lstm.py")

# %% [markdown]
# ## The four scratch cells
#
# Each framework's `lstm.py` has the same step function, written with that framework's ops.
# Peepholes (Gers et al.) are the optional terms in brackets in their docstrings: `peephole="diagonal"`
# or `"full"`.

# %%
for backend in FRAMEWORKS:
    show_source(backend, "lstm_step", file="lstm.py")
    print()

# %% [markdown]
# PyTorch's default LSTM path is faster than the readable step above: `LSTMFunction` computes
# the input half $X W_x + b$ for all steps in one matmul, runs the loop without autograd, and
# has its backward written out (the reference's backpropagation through time). `LSTMScratch(...,
# fused=False)` selects the readable cell; both are checked against the reference.

# %%
show_source("torch", "LSTMFunction", file="lstm.py")

# %% [markdown]
# ## The same input through every implementation
#
# `lstm_multi.core.parity` draws one set of canonical parameters and one batch, runs every
# framework's scratch cell and native layer on them (each in its own environment) and compares
# outputs, final state, loss, every gradient and a short SGD trajectory with the NumPy reference
# in float64. Each row is the largest difference of its kind; the bound is the float32 tolerance
# it must stay under.

# %%
from lstm_multi.core.parity import parity  # noqa: E402

report = parity(list(FRAMEWORKS), hidden=size(32, 8), num_steps=size(16, 4), batch_size=size(8, 2),
                steps=size(20, 3))
display(Markdown(report.to_markdown()))
print("every implementation within its tolerance:", report.ok, "| skipped:", report.skipped or "none")

# %% [markdown]
# ## The native layers and their weight layouts
#
# Each framework's own layer computes the same function, but stores the fused gates its own
# way: in another gate order, as rows (`(4h, d)`) or columns (`(d, 4h)`), and sometimes with a
# second bias on the recurrent half. The package maps every layout to d2l's names
# (`W_xi`, ..., `b_c`) once, from a description of it (`FusedLayout`); the figure draws those
# descriptions, read from each framework's layer.

# %%
import matplotlib.pyplot as plt  # noqa: E402

from lstm_multi.core.family import LayerConfig  # noqa: E402
from lstm_multi.core.params import scratch_layout  # noqa: E402

COLORS = {"i": "tab:blue", "f": "tab:orange", "o": "tab:green", "c": "tab:red"}
NATIVE_NAMES = {"i": "i", "f": "f", "o": "o", "c": "g / c"}  # d2l's C_tilde is "g" in torch and Flax
layouts = {"d2l / scratch": {**vars(scratch_layout(LayerConfig("lstm", 3, 2), "")), "rows": False}}
for backend in FRAMEWORKS:
    try:
        layouts[backend] = native_layout(backend)
    except RuntimeError as err:
        print(err)

fig, ax = plt.subplots(figsize=(9, 0.75 * len(layouts) + 0.6))
for row, (name, layout) in enumerate(layouts.items()):
    y = len(layouts) - 1 - row
    for j, gate in enumerate(layout["order"]):
        ax.barh(y, 1, left=j, color=COLORS[gate], edgecolor="white")
        ax.text(j + 0.5, y, NATIVE_NAMES[gate], ha="center", va="center", color="white", fontweight="bold")
    shape = "(4h, d) rows" if layout["rows"] else "(d, 4h) columns"
    second = f" + second bias {layout['b_h']} (kept 0)" if layout.get("b_h") else ""
    ax.text(4.1, y, f"{layout['W_x']}  {shape}{second}", va="center", fontsize=8)
ax.set_yticks(range(len(layouts)))
ax.set_yticklabels(list(layouts)[::-1])
ax.set_xlim(0, 10)
ax.set_xticks([])
ax.set_title("the four gate blocks of W_x in each layout (colour: which gate)")
for side in ("top", "right", "bottom"):
    ax.spines[side].set_visible(False)
plt.show()
