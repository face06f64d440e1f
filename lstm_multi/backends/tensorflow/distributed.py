"""Data parallel on ``tf.distribute.MirroredStrategy``: one process, one replica per device.

The model keeps its variables (one copy, where they were made) and its optimizer state
(:class:`~.ops.OptimizerState`), so saving, checkpoints and resuming work as on one
worker. Each step is one ``tf.function``: the global batch ``(B, ...)`` is cut into
``workers`` equal blocks of ``B / workers`` rows (:func:`~lstm_multi.core.distributed.block`),
block ``r`` placed on replica ``r``; every replica computes its block's mean loss and the
gradient of every native variable (``strategy.run``); ``strategy.reduce(MEAN)`` averages
the losses and the gradients over the replicas, which, the blocks being equal, is the
global batch's mean loss and gradient; then the update of one worker
(:func:`~.ops.apply_gradients`: frozen entries 0, clipped by the global norm of the
averaged gradient, SGD or Adam) is applied once to the variables.

On a CPU, TensorFlow sees one device unless the CPU is split into logical devices when
the backend is imported (``LSTM_MULTI_HOST_DEVICES``, :func:`lstm_multi.request_host_devices`,
``lstm-multi train --workers N``); the devices share the machine's cores. Several
machines: with ``TF_CONFIG`` set (the cluster's ``host:port`` of every worker and this
one's index), the backend makes a ``MultiWorkerMirroredStrategy`` when it is imported
(its collectives must exist before TensorFlow's first op: :func:`multi_worker_strategy`),
and the same step runs with one replica per process, the reduce going over the network.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from ...core.distributed import block, too_few_devices
from . import ops
from ._imports import tf

_MULTI_WORKER: list[Any] = []  # the MultiWorkerMirroredStrategy made at import, when TF_CONFIG is set


def multi_worker_strategy():
    """The process's ``MultiWorkerMirroredStrategy`` if ``TF_CONFIG`` is set (made on the first
    call, which the backend's import makes before any op runs), else None."""
    if not os.environ.get("TF_CONFIG"):
        return None
    if not _MULTI_WORKER:
        _MULTI_WORKER.append(tf.distribute.MultiWorkerMirroredStrategy())
    return _MULTI_WORKER[0]


class DataParallel:
    """``workers`` CPU devices training one model (see the module's docstring).

    Attributes: ``workers``; ``rank``, 0 in one process, else the ``TF_CONFIG`` task index
    (worker 0 writes the files); ``strategy``.
    """

    def __init__(self, workers: int):
        self.workers, self.rank = workers, 0
        strategy = multi_worker_strategy()
        if strategy is not None:  # several processes (TF_CONFIG)
            if strategy.num_replicas_in_sync != workers:
                raise ValueError(
                    f"workers={workers}, but TF_CONFIG's cluster has "
                    f"{strategy.num_replicas_in_sync} workers; ask for as many."
                )
            self.strategy, self.rank = strategy, strategy.cluster_resolver.task_id
        else:
            devices = tf.config.list_logical_devices("CPU")
            if len(devices) < workers:
                raise too_few_devices("tensorflow", workers, len(devices))
            self.strategy = tf.distribute.MirroredStrategy(devices=[d.name for d in devices[:workers]])
        self._steps: dict[type, Any] = {}  # optimizer class -> the compiled step

    def prepare(self, model) -> None:
        """Nothing to copy: every replica reads the model's one set of variables."""
        self._steps = {}

    def training_step(self, model, batch, optimizer, clip, stop: bool = False) -> tuple[float, bool]:
        """One step on the global ``batch``, its rows split over the replicas; returns the batch's
        mean loss (before the update) and ``stop`` (one process decides for all its replicas)."""
        inputs, targets = model.check_batch(*batch)
        block(len(inputs), self.workers, 0)  # a clear error for uneven blocks, before tracing
        cls, (clip, hyperparameters) = ops.step_arguments(model, optimizer, clip)
        step = self._steps.get(cls)
        if step is None:
            step = self._steps[cls] = tf.function(functools.partial(self._step, model, cls))
        # Scalars as tensors: a new learning rate is no new trace (a new batch shape is one).
        scalar = functools.partial(tf.constant, dtype=tf.float32)
        loss = step(ops.tensor(inputs), ops.tensor(targets), scalar(clip), tuple(map(scalar, hyperparameters)))
        return float(loss), bool(stop)

    def _step(self, model, optimizer_class, inputs, targets, clip, hyperparameters):
        """Traced once per batch shape: the static ``B`` gives the blocks."""

        def rows(context):
            return block(inputs.shape[0], self.workers, context.replica_id_in_sync_group)

        blocks = self.strategy.experimental_distribute_values_from_function(
            lambda context: (inputs[rows(context)], targets[rows(context)])
        )
        loss, grads = self.strategy.run(functools.partial(ops._loss_and_param_grads, model, training=True), args=blocks)
        mean = functools.partial(self.strategy.reduce, tf.distribute.ReduceOp.MEAN, axis=None)
        loss, grads = mean(loss), [mean(g) for g in grads]  # one by one: a list would be packed
        ops.apply_gradients(model, optimizer_class, grads, clip, hyperparameters)
        return loss

    def finish(self, model) -> None:
        """Nothing to gather: the model's variables are the trained ones."""


multi_worker_strategy()  # TF_CONFIG: at import, before the model's first op
