"""Time-series forecasting on d2l's noisy sine (chapter "Working with Sequences").

``x_t = sin(0.01 t) + N(0, 0.2^2)`` for t = 1..T (T = 1000): windows of the ``tau``
previous values predict the next one. The first ``num_train`` (600) targets train,
the rest validate. Beside the recurrent model stand two references a student
compares with: linear autoregression AR(tau) fitted by least squares, and the noise
floor 0.04 (the variance of the noise, which no forecast can remove).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from ..module import DataModule

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .models import Regressor

NOISE_STD = 0.2
NOISE_FLOOR = NOISE_STD**2  # 0.04


def noisy_sine(T: int = 1000, seed: int = 0) -> np.ndarray:
    """``x (T,)`` float32: d2l's ``sin(0.01 t) + N(0, 0.2)``, t = 1..T."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, T + 1, dtype=np.float64)
    return (np.sin(0.01 * t) + rng.standard_normal(T) * NOISE_STD).astype(np.float32)


def windows(x: np.ndarray, tau: int) -> tuple[np.ndarray, np.ndarray]:
    """Features ``(T - tau, tau)`` (``x[i : i + tau]``) and targets ``(T - tau,)`` (``x[i + tau]``)."""
    features = np.lib.stride_tricks.sliding_window_view(x, tau)[:-1]
    return np.ascontiguousarray(features), x[tau:].copy()


def fit_autoregression(features: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Least-squares AR(tau) with intercept: weights ``(tau + 1,)``, the intercept last."""
    A = np.hstack([features, np.ones((len(features), 1))]).astype(np.float64)
    return np.linalg.lstsq(A, targets.astype(np.float64), rcond=None)[0]


def predict_autoregression(weights: np.ndarray, features: np.ndarray) -> np.ndarray:
    return features.astype(np.float64) @ weights[:-1] + weights[-1]


def forecast(step: Callable[[np.ndarray], ArrayLike], x: np.ndarray, tau: int, start: int, k: int) -> np.ndarray:
    """k-step-ahead forecasts (d2l): for every target index i >= start, feed the model's own
    predictions back k - 1 times, starting from the observed ``x[i - k - tau + 1 : i - k + 1]``.

    ``step(features (N, tau)) -> (N,)`` is any one-step predictor. Returns the forecasts of
    ``x[start:]`` (``start >= tau + k - 1``).
    """
    if start < tau + k - 1:
        raise ValueError(f"start must be >= tau + k - 1 = {tau + k - 1}, got {start}.")
    n = len(x) - start
    first = start - k + 1  # the first index predicted in the first round
    history = np.stack([x[first - tau + j : first - tau + j + n] for j in range(tau)], axis=1)
    for _ in range(k):
        next_values = np.asarray(step(history[:, -tau:]), dtype=np.float64).reshape(n)
        history = np.concatenate([history, next_values[:, None]], axis=1)
    return history[:, -1]


class TimeSeries(DataModule):
    """Windows of d2l's noisy sine for one-step forecasting.

    Args:
        batch_size, tau: windows per batch and values per window.
        T, num_train: series length and how many first targets train (d2l: 1000, 600).
        seed: seeds the noise and the shuffling.

    Batches are ``(X (B, tau) float32, y (B,) float32)``; :attr:`baseline_mse` is AR(tau)'s
    validation MSE, :data:`NOISE_FLOOR` the best possible.
    """

    tau: int  # saved by save_hyperparameters

    def __init__(self, batch_size: int = 16, tau: int = 4, T: int = 1000, num_train: int = 600, seed: int = 0) -> None:
        super().__init__()
        for name, value in (("batch_size", batch_size), ("tau", tau), ("T", T), ("num_train", num_train)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if not tau < num_train < T - tau:
            raise ValueError(f"num_train must lie between tau ({tau}) and T - tau ({T - tau}), got {num_train}.")
        self.save_hyperparameters()
        self.x = noisy_sine(T, seed)
        self.features, self.targets = windows(self.x, tau)
        self.num_train = num_train - tau  # targets x[tau .. num_train - 1] train
        self.num_val = len(self.targets) - self.num_train
        self.ar_weights = fit_autoregression(self.features[: self.num_train], self.targets[: self.num_train])
        val = slice(self.num_train, None)
        self.baseline_mse = float(
            np.mean((predict_autoregression(self.ar_weights, self.features[val]) - self.targets[val]) ** 2)
        )
        self.rng = np.random.default_rng(seed + 1)

    def get_dataloader(self, train: bool) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if train:
            indices = self.rng.permutation(self.num_train)
        else:
            indices = np.arange(self.num_train, len(self.targets))
        for start in range(0, len(indices), self.batch_size):
            batch = indices[start : start + self.batch_size]
            yield self.features[batch], self.targets[batch]

    def num_batches(self, train: bool) -> int:
        return -(-(self.num_train if train else self.num_val) // self.batch_size)


HORIZONS = (1, 4, 16, 64)  # d2l's k-step-ahead forecasts


def forecast_errors(
    model: Regressor, data: TimeSeries, horizons: Sequence[int] = HORIZONS
) -> dict[int, tuple[float, float]]:
    """k -> (the model's, AR(tau)'s) MSE of k-step-ahead forecasts over the validation targets."""
    tau, x = data.tau, data.x
    start = data.num_train + tau  # the first validation target
    errors = {}
    for k in horizons:
        truth = x[max(start, tau + k - 1) :]
        first = len(x) - len(truth)
        ours = forecast(model.predict_next, x, tau, first, k)
        ar = forecast(lambda f: predict_autoregression(data.ar_weights, f), x, tau, first, k)
        errors[k] = (float(np.mean((ours - truth) ** 2)), float(np.mean((ar - truth) ** 2)))
    return errors


def plot_forecasts(
    model: Regressor, data: TimeSeries, path: str | Path | None = None, horizons: Sequence[int] = HORIZONS
) -> Figure | Path:
    """d2l's figure: the series and the model's k-step-ahead forecasts (predictions fed back
    k - 1 times) beside AR(tau)'s one-step ones. Saved to ``path``, or returned as a figure."""
    from ..plot import _pyplot, save_figure

    plt = _pyplot()
    tau, x = data.tau, data.x
    start = tau + max(horizons) - 1
    fig, ax = plt.subplots(figsize=(9, 4))
    t = np.arange(1, len(x) + 1)
    ax.plot(t, x, color="0.75", lw=1, label="data")
    for k in horizons:
        ax.plot(t[start:], forecast(model.predict_next, x, tau, start, k), lw=1.2, label=f"{k}-step")
    ar = forecast(lambda f: predict_autoregression(data.ar_weights, f), x, tau, start, 1)
    ax.plot(t[start:], ar, "k:", lw=1, label=f"AR({tau}) 1-step")
    ax.axvline(data.num_train + tau, color="0.5", ls="--", lw=0.8)
    ax.set_xlabel("time")
    ax.legend(ncol=3, fontsize=8)
    ax.set_title("k-step-ahead forecasts; right of the dashed line: validation")
    fig.tight_layout()
    return fig if path is None else save_figure(fig, path)
