"""Data parallel on ``jax.sharding``: one jitted step, its batch split across devices.

The parameters (and the optimizer's slots) are replicated on a one-axis device mesh
(``"batch"``) and each batch is laid out in equal blocks of rows, one per device. The
training step is the one-device step itself (:func:`~.ops.train_step`): XLA partitions
it from the layouts, so each device computes its block's part of the mean loss and the
gradient sums are all-reduced across the mesh before the clipped update, which every
device then applies to its copy.

On a CPU, JAX sees one device unless ``XLA_FLAGS=--xla_force_host_platform_device_count=N``
is set before it starts (:func:`lstm_multi.request_host_devices`). One process only: after
``jax.distributed.initialize`` the arrays span other processes' devices, from which reading a
loss or saving a parameter (``float``, ``np.array``) fails; not supported yet.
"""

from __future__ import annotations

import jax
import numpy as np
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ...core.distributed import too_few_devices
from . import ops


class DataParallel:
    """``workers`` devices training one model (see the module's docstring).

    Attributes: ``workers``; ``rank``, this process's index (0 writes the files); ``mesh``.
    """

    def __init__(self, workers: int):
        if jax.process_count() > 1:
            raise ValueError("JAX data parallel runs in one process (its devices on one machine); "
                             f"this is one of {jax.process_count()} processes (jax.distributed), "
                             "which lstm-multi does not support yet. Use one process per machine.")
        devices = jax.devices()
        if len(devices) < workers:
            raise too_few_devices("jax", workers, len(devices))
        self.workers, self.rank = workers, jax.process_index()
        self.mesh = Mesh(np.array(devices[:workers]), ("batch",))
        self.rows = NamedSharding(self.mesh, PartitionSpec("batch"))  # (B, ...) split on B
        self.replicated = NamedSharding(self.mesh, PartitionSpec())

    def _replicate(self, tree):
        return jax.device_put(tree, self.replicated)

    def prepare(self, model) -> None:
        """Every parameter, RNG counter and optimizer slot copied to each device of the mesh."""
        nnx.update(model, self._replicate(nnx.state(model)))
        state = ops._OPTIMIZER_STATE.get(model)
        if state is not None:
            state["slots"] = self._replicate(state["slots"])

    def training_step(self, model, batch, optimizer, clip, stop: bool = False) -> tuple[float, bool]:
        """One step on the global ``batch`` (rows split over the mesh); returns its mean loss and
        ``stop`` (one process decides for all its devices)."""
        optimizer = ops.as_optimizer(optimizer)
        state = ops._OPTIMIZER_STATE.get(model)
        if state is None or state["name"] != optimizer.name:  # the slots start replicated too
            params = nnx.state(model, nnx.Param)
            ops._OPTIMIZER_STATE[model] = {"name": optimizer.name, "step": 0, "slots": self._replicate(
                {slot: jax.tree.map(np.zeros_like, params) for slot in optimizer.slots})}
        inputs, targets = batch
        return ops.train_step(model, inputs, targets, optimizer, clip, batch_sharding=self.rows), bool(stop)

    def finish(self, model) -> None:
        """Nothing to gather: the replicated model evaluates, samples and saves as it is."""

