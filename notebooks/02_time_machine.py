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
# # The Time Machine, end to end (d2l 10.1)
#
# A character-level language model of H. G. Wells' *The Time Machine*, exactly as "Dive into
# Deep Learning" trains it: one LSTM layer of 32 units from scratch, one-hot characters,
# windows of 32 characters in batches of 1024, SGD with learning rate 4, gradients clipped to
# norm 1, 50 epochs.
#
# **Switch the framework in the next cell** (or set `LSTM_MULTI_BACKEND` before starting
# Jupyter): nothing else in this notebook changes.

# %%
import os

# os.environ["LSTM_MULTI_BACKEND"] = "jax"     # torch | tensorflow | jax | mxnet | numpy
import matplotlib.pyplot as plt

import lstm_multi as lm
from lstm_multi.notebook import size

bk = lm.get_backend()
print("backend:", bk.NAME)

# %% [markdown]
# ## The data
#
# d2l's preprocessing keeps the letters a-z and the space (in lower case), so the vocabulary
# has 28 tokens: those 27 characters and `<unk>`. Each example is a window of 32 characters;
# its target is the same window shifted by one.

# %%
data = lm.TimeMachine(batch_size=1024, num_steps=32, num_train=size(10000, 2048), num_val=size(5000, 512))
print(len(data.vocab), "tokens:", data.vocab.idx_to_token)
# data.X and data.Y hold every window; the training batches are shuffled rows of them
# (asking the dataloader for a batch here would move its seeded order on by one epoch).
print("windows:", data.X.shape, "of which", data.num_train, "for training,", data.num_val, "for validation")
print("input :", repr("".join(data.vocab.idx_to_token[i] for i in data.X[0])))
print("target:", repr("".join(data.vocab.idx_to_token[i] for i in data.Y[0])))

# %% [markdown]
# ## Training
#
# `bk.LSTMScratch` is the from-scratch cell (`bk.LSTM` the framework's native layer: swap it
# in to compare), `bk.RNNLMScratch` adds the one-hot input and the output layer, and
# `lm.Trainer` is d2l's trainer. Perplexity is $\exp$ of the mean cross-entropy per character:
# 28 for a model that guesses uniformly, 1 for a perfect one.

# %%
EPOCHS = size(50, 2)
lstm = bk.LSTMScratch(num_inputs=len(data.vocab), num_hiddens=32)
model = bk.RNNLMScratch(lstm, vocab_size=len(data.vocab), lr=4)
trainer = lm.Trainer(max_epochs=EPOCHS, gradient_clip_val=1)
history = trainer.fit(model, data)

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot([r.epoch for r in history], [r.train_ppl for r in history], label="train")
ax.plot([r.epoch for r in history], [r.val_ppl for r in history], "--", label="validation")
ax.set_xlabel("epoch")
ax.set_ylabel("perplexity")
ax.set_title(f"{bk.NAME}: LSTM from scratch")
ax.legend()
plt.show()
print(f"train perplexity {history[-1].train_ppl:.2f}, validation perplexity {history[-1].val_ppl:.2f}")

# %% [markdown]
# ## Generating text
#
# Greedy decoding (d2l's `predict`) always takes the most likely next character, and soon
# repeats itself. Sampling from $\mathrm{softmax}(\text{logits} / T)$ with a temperature $T$
# varies the text: low $T$ is cautious, high $T$ adventurous. Top-$k$ samples only among the
# $k$ most likely characters; top-$p$ (nucleus sampling, Holtzman et al. 2020) among the most
# likely ones whose probabilities add up to $p$. The sampling happens once, in NumPy, from a
# seeded generator: the same checkpoint, prefix and seed give the same text on every backend.

# %%
prefix = "time traveller"
print("greedy          ", model.predict(prefix, 60, data.vocab))
for settings in (dict(temperature=0.5), dict(temperature=1.0), dict(temperature=1.0, top_k=5),
                 dict(temperature=1.0, top_p=0.9)):
    label = ", ".join(f"{k} {v}" for k, v in settings.items())
    print(f"{label:16s}", model.predict(prefix, 60, data.vocab, seed=0, **settings))

# %% [markdown]
# ## The same run on all four frameworks
#
# The scratch models start from the same NumPy initialisation and see the same batches, so
# their curves should lie on top of each other, up to float32 round-off. Each framework runs
# in the environment that has it (`lstm-multi train` there, with this package's code).

# %%
from lstm_multi.backend import FRAMEWORKS  # noqa: E402
from lstm_multi.notebook import train_on  # noqa: E402

args = ["--epochs", str(EPOCHS), "--num-train", str(size(10000, 2048)), "--num-val", str(size(5000, 512)),
        "--seed", "0"]
curves = {}
for backend in FRAMEWORKS:
    try:
        curves[backend] = train_on(backend, args)
    except RuntimeError as err:
        print(f"{backend}: not run here ({err})")

fig, ax = plt.subplots(figsize=(6, 4))
for backend, records in curves.items():
    ax.plot([r.epoch for r in records], [r.val_ppl for r in records], label=backend, alpha=0.8)
ax.set_xlabel("epoch")
ax.set_ylabel("validation perplexity")
ax.set_title("the same seed on four frameworks (LSTM from scratch)")
ax.legend()
plt.show()
for backend, records in curves.items():
    print(f"{backend:11s} validation perplexity {records[-1].val_ppl:.4f}")

# %% [markdown]
# ## The trained model outside lstm-multi: ONNX Runtime
#
# `export` writes the trained model as an ONNX graph built from ONNX's own `LSTM` operator
# (the gate blocks reordered to ONNX's i, o, f, c), and the vocabulary beside it as
# `vocab.json`. ONNX Runtime runs it with neither lstm-multi nor a deep-learning framework:
# the input is `tokens` `(T, B)`, time-major; the outputs are the logits `(T, B, V)` and the
# final states, which go back in as `initial_H`, `initial_C` to generate one character at a time.

# %%
import json  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

from lstm_multi.formats import export  # noqa: E402

folder = Path(tempfile.mkdtemp())
lm.save_checkpoint(folder / "model.safetensors", bk.get_params(model), data.vocab.idx_to_token)
onnx_file = export(folder / "model.safetensors", "onnx", folder / "model.onnx")
vocab = json.loads((folder / "vocab.json").read_text())

options = ort.SessionOptions()
options.log_severity_level = 3  # no warning that the optional initial states are overridable
session = ort.InferenceSession(str(onnx_file), options)
ids = [vocab.index(c) for c in prefix]
logits, H, C = session.run(None, {"tokens": np.array(ids, np.int64)[:, None]})
for _ in range(60):
    ids.append(int(logits[-1, 0].argmax()))  # greedy
    logits, H, C = session.run(None, {"tokens": np.array([[ids[-1]]], np.int64), "initial_H": H, "initial_C": C})
text = "".join(vocab[i] for i in ids)
print("ONNX Runtime    ", text)
print("the same text as lstm-multi's greedy predict:", text == model.predict(prefix, 60, data.vocab))
