"""Data parallel on ``torch.distributed``: one process per worker, the gradients all-reduced.

Each process holds the whole model and sees the same global batches; it computes the
loss and gradients of its block of rows, one ``all_reduce`` sums everything at once
(the gradients, the loss and the stop flag, flattened into one buffer), and every
process divides by the number of workers and applies the same clipped update
(:func:`~.ops.apply_gradients`). The collectives run on gloo (CPU) or NCCL (CUDA).

Processes are started by ``torchrun`` (any number of machines) or by :func:`launch`
(``lstm-multi train --workers N``, one machine), which set the variables
``init_process_group`` reads: ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, TypeAlias

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ...core.distributed import block
from .ops import _loss_and_param_grads, apply_gradients

if TYPE_CHECKING:
    from ...core.optim import Optimizer
    from ...core.types import Batch

#: the command line's entry point, ``main(argv) -> exit status`` (``lstm_multi.cli.main``)
Main: TypeAlias = Callable[[list[str]], int]

LAUNCH_VARS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


class DataParallel:
    """``workers`` processes training one model (see the module's docstring).

    Attributes: ``workers``; ``rank``, this process's worker index (0 writes the files);
    ``local_blocks``, the blocks of each batch this process computes (its rank's).
    """

    def __init__(self, workers: int) -> None:
        missing = [name for name in LAUNCH_VARS if name not in os.environ]
        if not dist.is_initialized() and missing:
            raise ValueError(
                f"torch trains on {workers} workers as {workers} processes, and this process was not "
                f"started as one of them ({', '.join(missing)} not set). Start the script with "
                f"torchrun --nproc-per-node {workers} SCRIPT, or use lstm-multi train --workers {workers}."
            )
        world = dist.get_world_size() if dist.is_initialized() else int(os.environ["WORLD_SIZE"])
        if world != workers:
            raise ValueError(
                f"workers={workers}, but this torch.distributed run has {world} processes "
                f"(WORLD_SIZE); ask for as many workers as processes."
            )
        self.workers = workers
        self.rank = dist.get_rank() if dist.is_initialized() else int(os.environ["RANK"])
        self.local_blocks = range(self.rank, self.rank + 1)
        self.owns_group = False

    def prepare(self, model: torch.nn.Module) -> None:
        """Join the process group (NCCL for CUDA parameters, else gloo) and start every worker
        from worker 0's parameters, as ``DistributedDataParallel`` does."""
        params = [p for p in model.parameters()]
        self.owns_group = not dist.is_initialized()  # else the script's, left to it
        if self.owns_group:
            dist.init_process_group("nccl" if params and params[0].is_cuda else "gloo")
        with torch.no_grad():
            for p in params:
                dist.broadcast(p, src=0)

    def training_step(
        self, model: torch.nn.Module, batch: Batch, optimizer: Optimizer, clip: float | None, stop: bool = False
    ) -> tuple[float, bool]:
        """One step on the global ``batch``: this worker's block, gradients averaged over all workers,
        the same clipped update everywhere. Returns the global batch's mean loss and whether any
        worker asked to stop (so that all stop after the same step)."""
        inputs, targets = batch
        rows = block(len(inputs), self.workers, self.rank)
        loss, params, grads = _loss_and_param_grads(model, inputs[rows], targets[rows], training=True)
        flat = torch.cat(
            [g.reshape(-1) for g in grads] + [loss.detach().reshape(1), torch.tensor([float(stop)], device=loss.device)]
        )
        dist.all_reduce(flat)  # sum over workers, one collective per step
        flat /= self.workers
        grads = [g.view_as(p) for g, p in zip(torch.split(flat[:-2], [p.numel() for p in params]), params)]
        apply_gradients(model, params, grads, optimizer, clip)
        return flat[-2].item(), bool(flat[-1] > 0)

    def finish(self, model: torch.nn.Module) -> None:
        """Nothing to gather: every process already holds the trained model. The process group
        joined in :meth:`prepare` is closed, so that no gloo thread is left running when the
        process exits (which aborts it: "terminate called without an active exception")."""
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, workers: int, port: int, main: Main, argv: list[str]) -> None:
    """One spawned worker: the variables torchrun would set, then ``main(argv)``, the command line
    with the same arguments."""
    os.environ.update(
        RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(workers), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )
    if rank:
        sys.stdout = open(os.devnull, "w")  # worker 0 prints
    sys.exit(main(argv))


def launch(main: Main, argv: list[str], workers: int) -> int:
    """Run ``main(argv)`` (the command line's entry point, ``lstm-multi <argv>``) in ``workers``
    processes on this machine (like ``torchrun --nproc-per-node workers``); returns the first
    non-zero exit status, else 0. ``main`` is passed in, not imported, so that this module does
    not depend on the command line that calls it; it must be a module-level function (the
    spawned processes import it by name).

    Each process gets ``cores / workers`` threads (unless ``OMP_NUM_THREADS`` is set). Ctrl-C
    and SIGTERM reach every worker, which all stop after the same step.
    """
    # The workers print their own errors; not torch's note that it stops the others.
    logging.getLogger("torch.multiprocessing.spawn").setLevel(logging.ERROR)
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    context = mp.start_processes(
        _worker, args=(workers, _free_port(), main, argv), nprocs=workers, join=False, start_method="spawn"
    )
    # The terminal's Ctrl-C reaches the workers too; pass SIGTERM on, then wait for them.
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def stop_workers(signum: int, frame: FrameType | None) -> None:
        for process in context.processes:
            os.kill(process.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_workers)
    try:
        while not context.join():
            pass
        return 0
    except mp.ProcessExitedException as err:
        return err.exit_code if err.exit_code and err.exit_code > 0 else 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
