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
# # Speed: scratch, native and the book's loop on four frameworks
#
# Three implementations of the same LSTM language model per framework:
#
# * **scratch**: the package's cell, the four gates fused into one matmul per step, the loop
#   compiled where the framework can (`lax.scan`, a `tf.function` While loop, a hybridized
#   `contrib.foreach`; torch's hand-written backward);
# * **native**: the framework's own layer (`nn.LSTM`, `keras.layers.LSTM`, Flax's
#   `OptimizedLSTMCell`, Gluon's `rnn.LSTM`);
# * **d2l**: the book's loop, eight small matmuls per step, run as the book runs it.
#
# The numbers below are read from `benchmarks/results/` (written by `lstm-multi bench --out
# benchmarks/results`, one run, nothing else running; the machine is recorded beside them), not
# measured here: a notebook is no place to time things.

# %%
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

results_dir = Path("..") / "benchmarks" / "results"
results = [r for r in json.loads((results_dir / "results.json").read_text()) if "error" not in r
           and r.get("model", "lstm") == "lstm"]  # the LSTM (GRU and RNN rows: benchmarks/README.md)
machine = json.loads((results_dir / "machine.json").read_text())
print(f"measured on: {machine['cpu']}, {machine['cores']} cores, {machine['date']}")
print("versions:", ", ".join(f"{k} {v}" for k, v in machine.get("versions", machine.get("versions_here", {})).items()))

# %% [markdown]
# ## Training throughput
#
# Characters per second of a full training step (forward, backward, clipping, update), for the
# four sizes the benchmark covers: 32 or 256 hidden units, batches of 1024 or 32 windows of 32
# characters.

# %%
backends = list(dict.fromkeys(r["backend"] for r in results))
impls = ["scratch", "concise", "d2l"]
configs = sorted({(r["hidden"], r["batch_size"]) for r in results}, key=lambda c: (c[0], -c[1]))
by_key = {(r["backend"], r["impl"], r["hidden"], r["batch_size"]): r for r in results}

fig, axes = plt.subplots(1, len(configs), figsize=(4 * len(configs), 4), squeeze=False)
width = 0.8 / len(impls)
for ax, (hidden, batch) in zip(axes[0], configs):
    x = np.arange(len(backends))
    for j, impl in enumerate(impls):
        values = [by_key.get((b, impl, hidden, batch), {}).get("train_tokens_per_s", np.nan) for b in backends]
        ax.bar(x + (j - 1) * width, np.array(values) / 1e3, width, label=impl.replace("concise", "native"))
    ceiling = [by_key.get((b, "scratch", hidden, batch), {}).get("ceiling_tokens_per_s", np.nan) for b in backends]
    ax.plot(x, np.array(ceiling) / 1e3, "k_", markersize=22, mew=2, label="matmul ceiling")
    ax.set_xticks(x)
    ax.set_xticklabels(backends, rotation=20)
    ax.set_yscale("log")
    ax.set_title(f"h = {hidden}, batch {batch}")
    ax.set_ylabel("thousand characters / s")
axes[0, 0].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The ratios the project tracks
#
# *scratch / native* (is the readable cell as fast as the framework's layer?) and
# *scratch / d2l* (is it faster than the book's loop?), measured in the same run.

# %%
print(f"{'backend':11s} {'h':>4s} {'batch':>6s}  scratch/native  scratch/d2l  of ceiling")
for backend in backends:
    for hidden, batch in configs:
        r = by_key.get((backend, "scratch", hidden, batch))
        if r:
            print(f"{backend:11s} {hidden:4d} {batch:6d}  {r['vs_native']:14.2f}  {r['vs_d2l']:11.2f}"
                  f"  {r['ceiling_fraction']:9.0%}")

# %% [markdown]
# ## The arithmetic limits
#
# A training step of the LM does about $2 \cdot 3 \cdot T B (d + h) \cdot 4h$ floating-point
# operations in its matmuls (forward, and twice that backward) plus $T B V h$ for the output
# layer. At the machine's best measured matmul rate (`matmul_gflops`) that gives the *matmul
# ceiling* drawn above: no implementation can train faster. Where a bar reaches far below it,
# the time goes elsewhere: dispatching small ops from Python (batch 32), element-wise gate
# arithmetic and memory traffic (h = 32), or the framework's own overheads.

# %%
print(f"{'backend':11s} {'h':>4s} {'batch':>6s}  best matmul GFLOP/s  ceiling tok/s  scratch tok/s")
for backend in backends:
    for hidden, batch in configs:
        r = by_key.get((backend, "scratch", hidden, batch))
        if r:
            print(f"{backend:11s} {hidden:4d} {batch:6d}  {r['matmul_gflops']:18.0f}  "
                  f"{r['ceiling_tokens_per_s']:13,.0f}  {r['train_tokens_per_s']:13,.0f}")

# %% [markdown]
# Measure your own machine with `lstm-multi bench --out my-results` and point `results_dir`
# at it; `benchmarks/README.md` discusses each framework's numbers.
