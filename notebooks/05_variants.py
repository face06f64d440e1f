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
# # Variants: one idea, one figure
#
# Each section changes one thing about the model and trains it beside the plain one, from the
# same seed, on the same batches: stacking, reading both directions, peepholes, the
# forget-gate bias, an embedding, words instead of characters. The backend comes from
# `LSTM_MULTI_BACKEND`.

# %%
import matplotlib.pyplot as plt

import lstm_multi as lm
from lstm_multi.core.lm import build_model
from lstm_multi.notebook import size

bk = lm.get_backend()
print("backend:", bk.NAME)

EPOCHS = size(30, 2)
chars = lm.TimeMachine(batch_size=1024, num_steps=32, num_train=size(10000, 2048), num_val=size(5000, 512))


def lm_curve(data=chars, epochs=EPOCHS, hidden=32, lr=4.0, **options):
    """Validation perplexity per epoch of the Time Machine LM (scratch layer, d2l's recipe)."""
    model = build_model(bk, "scratch", len(data.vocab), hidden, lr=lr, **options)
    history = lm.Trainer(max_epochs=epochs, gradient_clip_val=1.0).fit(model, data)
    return [r.val_ppl for r in history], model


def paren_curve(length=25, epochs=size(10, 2), bidirectional=False, forget_bias=0.0):
    """Validation accuracy per epoch on balanced parentheses (LSTM, h = 32, Adam 0.01)."""
    data = lm.Parentheses(batch_size=100, length=length, num_train=size(10000, 600), num_val=size(2000, 200))
    layer = bk.LSTMScratch(data.vocab_size, 32, bidirectional=bidirectional, forget_bias=forget_bias)
    model = bk.Classifier(layer, num_classes=2, lr=0.01, optimizer="adam")
    history = lm.Trainer(max_epochs=epochs, gradient_clip_val=1.0).fit(model, data)
    return [r.metrics["val_accuracy"] for r in history]


def plot(curves, ylabel, title):
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    plt.show()
    for name, values in curves.items():
        print(f"{name:28s} last epoch: {values[-1]:.3f}")


plain, _ = lm_curve()

# %% [markdown]
# ## Stacking layers (d2l 10.3)
#
# A second LSTM reads the first one's hidden states: $H^{(2)}_t = \mathrm{LSTM}(H^{(1)}_t, H^{(2)}_{t-1})$.
# More capacity, more to train: with the same epochs, does it pay?
#
# Only if the signal gets through the stack. d2l's scratch initialisation draws every weight from
# $N(0, 0.01^2)$: one layer learns from there, but the second layer reads hidden states that start
# close to zero through weights that are small again, so both its output and the gradient that
# reaches the first layer start tiny, and the model sits at the single-character level
# (perplexity about 17). A stacked scratch layer therefore starts, unless told
# otherwise, from `init="orthogonal"` (Keras' default for recurrent weights): each gate's $W_h$ a
# random orthogonal matrix, which keeps the size of $H_{t-1}$ as it multiplies it, and $W_x$ Glorot
# uniform, $U(-a, a)$ with $a = \sqrt{6 / (d + h)}$, which keeps the size of the signal from layer
# to layer. `init="d2l"` brings the book's draw back; one layer keeps it by default.

# %%
two_layers, _ = lm_curve(num_layers=2)  # the stacked default: init="orthogonal"
two_layers_d2l, _ = lm_curve(num_layers=2, init="d2l")  # d2l's N(0, 0.01^2), as one layer draws
plot({"1 layer": plain, "2 layers": two_layers, "2 layers, d2l's N(0, 0.01²)": two_layers_d2l},
     "validation perplexity", "stacked LSTMs: the initialisation decides")

# %% [markdown]
# ## Reading both directions (d2l 10.4)
#
# A bidirectional layer runs a second LSTM from the end of the sequence to its start and
# concatenates both. A language model may not see the future, but a classifier of whole strings
# may: for parentheses, the reverse direction sees the closing brackets first.

# %%
plot({"forward only": paren_curve(), "bidirectional": paren_curve(bidirectional=True)},
     "validation accuracy", "parentheses, length 25")

# %% [markdown]
# ## Peepholes (Gers et al.)
#
# The gates also read the cell: `peephole="diagonal"` adds $w_{ci} \odot C_{t-1}$ to the input
# gate (and likewise for the forget gate; the output gate reads the new $C_t$); `"full"`
# adds $C_{t-1} W_{ci}$ with full matrices, as the course tutorial's cell does.

# %%
diagonal, _ = lm_curve(peephole="diagonal")
full, _ = lm_curve(peephole="full")
plot({"no peepholes": plain, "diagonal peepholes": diagonal, "full peepholes": full},
     "validation perplexity", "peephole connections")

# %% [markdown]
# ## Forget-gate bias 1
#
# Starting the forget gate's bias at 1 makes $F_t \approx \sigma(1) = 0.73$ at first: the cell
# keeps most of its content from the start, so gradients reach far back early in training
# (Gers et al. 2000; Jozefowicz et al. 2015). It matters most where dependencies are long.

# %%
plot({"b_f = 0": paren_curve(length=50), "b_f = 1": paren_curve(length=50, forget_bias=1.0)},
     "validation accuracy", "parentheses, length 50")

# %% [markdown]
# ## One-hot inputs or a learned embedding
#
# d2l feeds one-hot vectors, so $X_t W_{x\cdot}$ picks a row of each input matrix. An
# embedding $W_e$ (vocab x e) in front learns a dense code for each character first.

# %%
embedded, _ = lm_curve(embedding_dim=16)
plot({"one-hot (d2l)": plain, "embedding, e = 16": embedded}, "validation perplexity", "input encoding")

# %% [markdown]
# ## Words instead of characters (a d2l 10.1 exercise)
#
# With a word vocabulary (words seen at least twice; the rest are `<unk>`) each step predicts a
# whole word. Perplexity is per token, so the two numbers measure different things: a word-level
# perplexity of 100 means the model hesitates as if among 100 words, against a vocabulary of
# thousands. Generation joins the words with spaces.

# %%
words = lm.TimeMachine(batch_size=size(256, 64), num_steps=16, num_train=size(2048, 256),
                       num_val=size(512, 64), tokens="word")
word_curve, word_model = lm_curve(data=words, hidden=size(128, 16), lr=size(2.0, 1.0),
                                  epochs=size(40, 2), embedding_dim=64)
plot({f"words (vocabulary of {len(words.vocab)})": word_curve}, "validation perplexity", "a word-level LSTM")
print(word_model.predict("the time traveller", 12, words.vocab))
