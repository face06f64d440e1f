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
# # Inside the gates
#
# An LSTM decides at every step, per hidden unit, how much of its cell to keep ($F_t$), how
# much of the candidate to write ($I_t$) and how much of the cell to show ($O_t$):
#
# $$C_t = F_t \odot C_{t-1} + I_t \odot \tilde C_t, \qquad H_t = O_t \odot \tanh(C_t).$$
#
# Here we train d2l's character model on *The Time Machine*, then read a sentence with it and
# look at every gate and state, step by step. `bk.trace(layer, X)` returns them all, `(T, B, h)`
# each, for scratch and native layers alike; `lm.trace_text` feeds it a text the way the
# model reads its corpus.

# %%
import matplotlib.pyplot as plt
import numpy as np

import lstm_multi as lm
from lstm_multi.notebook import size

bk = lm.get_backend()
print("backend:", bk.NAME)

data = lm.TimeMachine(batch_size=1024, num_steps=32, num_train=size(10000, 2048), num_val=size(5000, 512))
model = bk.RNNLMScratch(bk.LSTMScratch(len(data.vocab), 32), len(data.vocab), lr=4)
history = lm.Trainer(max_epochs=size(50, 2), gradient_clip_val=1.0).fit(model, data)
print(f"validation perplexity {history[-1].val_ppl:.2f}")
print(model.predict("time traveller", 40, data.vocab))

# %% [markdown]
# ## Every gate over a sentence
#
# One heatmap per gate and state: the characters across, the 32 hidden units down. Gates are
# in $[0, 1]$ (dark: closed, bright: open); states are signed (blue negative, red positive).

# %%
text = "the time traveller smiled and said that is all"
tokens, traces = lm.trace_text(model, text, data.vocab)
fig = lm.plot_gates(tokens, traces)
fig.set_dpi(64)  # six heatmaps: a smaller image keeps the stored notebook light
plt.show()

# %% [markdown]
# ## What happens at the end of a word?
#
# Compare each gate's average over the units at spaces with its average inside words. A unit
# that tracks "how far into the word am I" must reset at a space: its forget gate closes there.

# %%
space = np.array([t == " " for t in tokens])
print("gate   mean at spaces   mean inside words")
for name in ("i", "f", "o"):
    print(f"  {name}       {traces[name][space].mean():.3f}            {traces[name][~space].mean():.3f}")

drop = traces["f"][~space].mean(axis=0) - traces["f"][space].mean(axis=0)
units = np.argsort(drop)[-3:][::-1]
print("units whose forget gate closes most at spaces:", ", ".join(f"{u} (by {drop[u]:.3f})" for u in units))

# %% [markdown]
# ## The cell state over time
#
# The cell is the LSTM's memory: it changes only as much as the gates let it. Here the cell
# state of the units found above, with the forget gate beneath it.

# %%
fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 5), sharex=True)
for u in units:
    top.plot(traces["C"][:, u], marker=".", label=f"unit {u}")
    bottom.plot(traces["f"][:, u], marker=".", label=f"unit {u}")
top.set_ylabel("cell state C")
bottom.set_ylabel("forget gate F")
bottom.set_xticks(range(len(tokens)))
bottom.set_xticklabels([t if t != " " else "␣" for t in tokens], family="monospace")
for s in np.flatnonzero(space):
    top.axvline(s, color="0.85", zorder=0)
    bottom.axvline(s, color="0.85", zorder=0)
top.legend()
plt.show()

# %% [markdown]
# ## The gate values, printed
#
# As the course's tutorial prints them: per step, each gate's mean over the hidden units.
# The same table comes from the command line:
# `lstm-multi gates --checkpoint runs/latest/model.safetensors --text "..." --print`.

# %%
print(lm.gate_table(tokens[:16], {name: value[:16] for name, value in traces.items()}))
