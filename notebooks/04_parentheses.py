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
# # Balanced parentheses: the task that needs a memory
#
# Is `a(b(c)d)e` balanced? A reader must carry a count of open brackets through the whole
# string and check, at every `)`, that one is open. This is the classic task that motivates
# LSTMs: the answer depends on symbols far back in the sequence.
#
# The data: strings of `a`-`z`, `(` and `)` (28 symbols, one-hot), labelled 1 when balanced.
# Half are balanced; the other half are balanced strings with **one bracket flipped or
# moved**, so they usually have as many `(` as `)`: counting brackets cannot solve it, only
# tracking the running depth can.
#
# The model: a recurrent layer over the string, a linear head on its last hidden state to 2
# classes, cross-entropy, Adam (0.01) after clipping the gradient norm to 1, batches of 100.
# The backend comes from `LSTM_MULTI_BACKEND`.

# %%
import matplotlib.pyplot as plt

import lstm_multi as lm
from lstm_multi.core.tasks.parentheses import decode
from lstm_multi.notebook import size

bk = lm.get_backend()
print("backend:", bk.NAME)

NUM_TRAIN, NUM_VAL, EPOCHS = size(10000, 600), size(2000, 200), size(15, 2)
data = lm.Parentheses(batch_size=100, length=25, num_train=NUM_TRAIN, num_val=NUM_VAL, seed=0)
for tokens, label in zip(data.X[:6], data.y[:6]):
    print("balanced  " if label else "unbalanced", decode(tokens))

# %% [markdown]
# ## LSTM, GRU and a vanilla RNN at length 25
#
# One function trains any cell of the family (scratch cells, the same initialisation on every
# backend) and returns the validation accuracy per epoch.

# %%
LAYERS = {"LSTM": bk.LSTMScratch, "GRU": bk.GRUScratch, "RNN": bk.RNNScratch}


def accuracy_curve(cell, length, head="linear", hidden=32, seed=0):
    data = lm.Parentheses(batch_size=100, length=length, num_train=NUM_TRAIN, num_val=NUM_VAL, seed=seed)
    model = bk.Classifier(LAYERS[cell](data.vocab_size, hidden, seed=seed), num_classes=2, head=head,
                          lr=0.01, seed=seed, optimizer="adam")
    history = lm.Trainer(max_epochs=EPOCHS, gradient_clip_val=1.0).fit(model, data)
    return [r.metrics["val_accuracy"] for r in history]


def plot_curves(curves, title):
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, accuracies in curves.items():
        ax.plot(range(1, len(accuracies) + 1), accuracies, marker=".", label=name)
    ax.axhline(0.5, color="0.6", ls=":", label="chance")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    ax.set_ylim(0.4, 1.02)
    ax.set_title(title)
    ax.legend()
    plt.show()
    for name, accuracies in curves.items():
        print(f"{name:12s} final validation accuracy {accuracies[-1]:.3f}")


curves_25 = {cell: accuracy_curve(cell, 25) for cell in LAYERS}
plot_curves(curves_25, "strings of length 25")

# %% [markdown]
# ## Length 100
#
# Four times longer strings: the gradient that tells an early `(` about a late `)` now
# travels through 100 steps. The gated cells carry it along their additive paths
# ($C_t = F_t \odot C_{t-1} + \dots$ for the LSTM, $H_t = Z_t \odot H_{t-1} + \dots$ for the GRU);
# the vanilla RNN multiplies it by $W_{hh}^\top$ and $\tanh'$ at every step.

# %%
curves_100 = {cell: accuracy_curve(cell, 100) for cell in LAYERS}
plot_curves(curves_100, "strings of length 100")

# %% [markdown]
# ## Exercise: an MLP head
#
# The course asks what a hidden layer between the LSTM and the output changes:
# $\hat y = \mathrm{relu}(H_T W_{mlp} + b_{mlp}) W_{out} + b_{out}$ (`head="mlp"`).

# %%
curves_head = {"linear head": curves_25["LSTM"], "MLP head": accuracy_curve("LSTM", 25, head="mlp")}
plot_curves(curves_head, "LSTM, length 25: linear vs MLP head")

# %% [markdown]
# The same comparisons run from the command line, one command per model:
#
# ```bash
# lstm-multi train --task parentheses --model lstm            # length 25
# lstm-multi train --task parentheses --model rnn --length 100
# lstm-multi train --task parentheses --head mlp
# ```
#
# Each writes `history.json` with `val_accuracy` per epoch and `curve.png`.
