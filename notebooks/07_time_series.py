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
# # Time series: an LSTM against a straight line
#
# d2l's chapter "Working with Sequences" (9.1) predicts a noisy sine,
# $x_t = \sin(0.01\,t) + \epsilon_t$ with $\epsilon_t \sim \mathcal{N}(0, 0.2^2)$, $t = 1 \dots 1000$,
# from the $\tau = 4$ values before it. The first 600 values train, the rest validate.
#
# Two numbers frame every result:
#
# * **the noise floor**, $0.2^2 = 0.04$: the noise is fresh at every step, so no forecast can
#   have a smaller mean squared error;
# * **linear autoregression** AR($\tau$): $\hat x_t = w_1 x_{t-4} + \dots + w_4 x_{t-1} + b$,
#   fitted once by least squares. A sine obeys a linear recurrence, so this line is very hard
#   to beat: an LSTM that merely matches it has learned the signal.
#
# The backend comes from `LSTM_MULTI_BACKEND`; nothing else in this notebook depends on it.

# %%
import matplotlib.pyplot as plt
import numpy as np

import lstm_multi as lm
from lstm_multi.core.tasks.timeseries import forecast_errors, plot_forecasts
from lstm_multi.notebook import size

bk = lm.get_backend()
print("backend:", bk.NAME)

data = lm.TimeSeries(batch_size=16, tau=4, seed=0)
fig, ax = plt.subplots(figsize=(9, 3))
ax.plot(np.arange(1, len(data.x) + 1), data.x, lw=0.8)
ax.axvline(data.num_train + data.tau, color="0.5", ls="--", lw=0.8)
ax.set_xlabel("t")
ax.set_title("x_t = sin(0.01 t) + noise; right of the dashed line: validation")
plt.show()
print(f"{data.num_train} training windows, {data.num_val} validation windows")
print(f"AR({data.tau}) validation MSE {data.baseline_mse:.4f}   noise floor {lm.NOISE_FLOOR:.4f}")

# %% [markdown]
# ## The model
#
# A regression head on the LSTM's last hidden state: each window of $\tau$ values is read
# one value per step (`num_inputs=1`) and $\hat x = H_\tau W_{out} + b_{out}$. Squared error,
# Adam after clipping the gradient norm to 1, its learning rate decayed from 0.005 to 0 over
# the run (a cosine schedule): at a constant rate the validation MSE keeps jittering by about
# 0.002 from epoch to epoch, as large as the gap between the LSTM and the line. These are the
# defaults of `lstm-multi train --task timeseries`.

# %%
model = bk.Regressor(bk.LSTMScratch(1, 32, seed=0), lr=0.005, seed=0, optimizer="adam")
trainer = lm.Trainer(max_epochs=size(20, 2), gradient_clip_val=1.0, lr_schedule="cosine")
history = trainer.fit(model, data)

epochs = [r.epoch for r in history]
fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(epochs, [r.train_loss for r in history], label="LSTM train MSE")
ax.plot(epochs, [r.metrics["val_mse"] for r in history], label="LSTM validation MSE")
ax.axhline(data.baseline_mse, color="k", ls=":", label=f"AR({data.tau}) validation MSE")
ax.axhline(lm.NOISE_FLOOR, color="r", ls="--", label="noise floor")
ax.set_xlabel("epoch")
ax.set_ylim(0.03, 0.1)
ax.legend()
plt.show()
print(f"LSTM validation MSE {history[-1].metrics['val_mse']:.4f}  |  AR({data.tau}) {data.baseline_mse:.4f}  "
      f"|  noise floor {lm.NOISE_FLOOR:.4f}")

# %% [markdown]
# ## Predicting further ahead
#
# A k-step-ahead forecast feeds the model's own predictions back as inputs $k-1$ times. The
# errors compound: d2l's figure shows the 64-step forecast flattening out. Both models are
# asked the same question over the validation range.

# %%
plot_forecasts(model, data)
plt.show()

print(" k    LSTM MSE   AR MSE")
for k, (ours, ar) in forecast_errors(model, data).items():
    print(f"{k:2d}    {ours:.4f}    {ar:.4f}")

# %% [markdown]
# What to take away:
#
# * one step ahead, both sit just above the noise floor: the signal is learned, what remains is
#   noise;
# * many steps ahead, neither can know the noise the future will bring, and every error made
#   early is read back as input; which of the two degrades more slowly depends on how smooth
#   its learned dynamics are.
#
# Exercise (d2l 9.1): change $\tau$ (`lm.TimeSeries(tau=...)`) and watch the AR baseline and
# the LSTM; try `bk.GRUScratch` or `bk.RNNScratch` in place of the LSTM.
