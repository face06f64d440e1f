"""Data parallel on ``jax.sharding``: one jitted step, its batch split across devices.

The parameters (and the optimizer's slots) are replicated on a one-axis device mesh
(``"batch"``) and each batch is laid out in equal blocks of rows, one per device. The
training step is the one-device step itself (:func:`~.ops.train_step`): XLA partitions
it from the layouts, so each device computes its block's part of the mean loss and the
gradient sums are all-reduced across the mesh before the clipped update, which every
device then applies to its copy.

On a CPU, JAX sees one device unless ``XLA_FLAGS=--xla_force_host_platform_device_count=N``
is set before it starts (:func:`lstm_multi.request_host_devices`). Several processes
(machines): each one joins with ``jax.distributed.initialize`` when the backend is imported
(:func:`initialize_from_env`), ``jax.devices()`` then lists every process's devices, and
this same code runs in each process, which reads its local copy of the replicated results
(:func:`~.ops.local`).
"""

from __future__ import annotations

import os

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
        ``stop`` (one process decides for all its devices). New optimizer slots are zeros like the
        replicated parameters, so replicated too."""
        inputs, targets = batch
        return ops.train_step(model, inputs, targets, optimizer, clip, batch_sharding=self.rows), bool(stop)

    def finish(self, model) -> None:
        """Back to this process's copy (one device): sampling and saving as after one worker."""
        nnx.update(model, jax.tree.map(ops.local, nnx.state(model)))
        state = ops._OPTIMIZER_STATE.get(model)
        if state is not None:
            state["slots"] = jax.tree.map(ops.local, state["slots"])


def initialize_from_env() -> None:
    """Join a multi-process run when ``JAX_COORDINATOR_ADDRESS`` (``host:port`` of process 0),
    ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID`` are set (CPU collectives over gloo). Called
    when the backend is imported, before JAX computes anything."""
    names = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")
    given = [name for name in names if os.environ.get(name)]
    if not given:
        return
    if len(given) < len(names):
        raise ValueError(f"a multi-process JAX run needs all of {', '.join(names)}; only {', '.join(given)} set.")
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        os.environ["JAX_COORDINATOR_ADDRESS"], int(os.environ["JAX_NUM_PROCESSES"]), int(os.environ["JAX_PROCESS_ID"])
    )
