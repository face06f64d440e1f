"""Data-parallel training, the framework-neutral part: how a global batch is shared.

Every worker holds the same parameters. Each global batch (in the same seeded order
as one worker sees it) is cut into ``N`` equal blocks of rows, worker ``r`` taking
block ``r``; each worker computes the mean loss and gradient of its block, the
framework's all-reduce averages the gradients, and every worker then clips by the
global norm of that average and applies the same update, so the parameters stay
equal everywhere. The blocks are equal, so the mean of their means is the batch's
mean: ``N`` workers train like one worker with the same global batch, to the
all-reduce's round-off.

Each framework's own engine does the work (``backends/<name>/distributed.py``, class
``DataParallel``): torch ``torch.distributed`` (gloo) across processes, JAX
``jax.sharding`` across devices, TensorFlow ``tf.distribute.MirroredStrategy``, MXNet a
``device`` kvstore across contexts (``dist_sync`` across processes). On one CPU, JAX and
TensorFlow see one device unless asked for more before they start:
:func:`request_host_devices`.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from .checks import check_positive

if TYPE_CHECKING:
    from .module import DataModule

#: the environment variable the TensorFlow backend reads at import: logical CPU devices.
HOST_DEVICES_VAR = "LSTM_MULTI_HOST_DEVICES"
XLA_DEVICES_FLAG = "--xla_force_host_platform_device_count"


def check_workers(workers: int) -> int:
    check_positive("workers", workers, integer=True)
    return int(workers)


def check_divisible(data: DataModule, workers: int) -> None:
    """Every training batch of ``data`` must split into ``workers`` equal blocks: ``batch_size``
    and the last, smaller batch of an epoch (``num_train % batch_size``) are multiples of it."""
    sizes = {data.batch_size}
    num_train = getattr(data, "num_train", None)
    if num_train is not None and num_train % data.batch_size:
        sizes.add(num_train % data.batch_size)
    bad = sorted(s for s in sizes if s % workers)
    if bad:
        last = (
            f" and the last batch of an epoch ({num_train} % {data.batch_size} = {num_train % data.batch_size})"
            if num_train is not None and num_train % data.batch_size
            else ""
        )
        raise ValueError(
            f"{workers} workers split every training batch into {workers} equal parts, but batch_size "
            f"{data.batch_size}{last} is not a multiple of {workers}. Choose a batch size (and "
            f"number of training examples) divisible by the number of workers."
        )


def block(num_rows: int, workers: int, rank: int) -> slice:
    """Rows of worker ``rank`` in a batch of ``num_rows`` (a multiple of ``workers``)."""
    if num_rows % workers:
        raise ValueError(f"a batch of {num_rows} rows does not split into {workers} equal parts")
    size = num_rows // workers
    return slice(rank * size, (rank + 1) * size)


def request_host_devices(count: int) -> None:
    """Ask JAX and TensorFlow for ``count`` CPU devices; call before either is imported.

    JAX reads ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` when it starts; the
    TensorFlow backend splits the CPU into ``N`` logical devices at import
    (``LSTM_MULTI_HOST_DEVICES``). The devices share the machine's cores.
    """
    count = check_workers(count)
    flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if not f.startswith(XLA_DEVICES_FLAG)]
    os.environ["XLA_FLAGS"] = " ".join(flags + [f"{XLA_DEVICES_FLAG}={count}"])
    os.environ[HOST_DEVICES_VAR] = str(count)


def too_few_devices(backend: str, workers: int, found: int) -> ValueError:
    return ValueError(
        f"{workers} workers need {workers} {backend} devices, but {backend} sees {found}. On a CPU, ask "
        f"for them before {backend} starts: lstm_multi.request_host_devices({workers}) (or "
        f"lstm-multi train --workers {workers}, which does it)."
    )


def launched_rank() -> int | None:
    """This process's rank when a launcher started it as one of several: torchrun's ``RANK``,
    ``JAX_PROCESS_ID``, the task index of ``TF_CONFIG``; 0 when none is set (one process, or
    the process that starts the others). None for a process of MXNet's parameter server
    (``DMLC_ROLE``), whose rank is known only once it has joined."""
    if "DMLC_ROLE" in os.environ:
        return None
    if os.environ.get("RANK"):
        return int(os.environ["RANK"])
    if os.environ.get("JAX_PROCESS_ID"):
        return int(os.environ["JAX_PROCESS_ID"])
    task: dict = json.loads(os.environ.get("TF_CONFIG") or "{}").get("task", {})
    return int(task.get("index", 0))
