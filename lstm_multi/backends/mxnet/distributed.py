"""Data parallel on MXNet's kvstore: contexts in one process, or processes on several machines.

One machine (``lstm-multi train --workers N``): one process holds a copy of every
parameter on each of ``N`` contexts (``mx.cpu(0)`` ...) and a ``device`` kvstore, the one
Gluon's ``Trainer`` uses for several contexts; MXNet's engine runs the contexts' work
side by side.

Several machines: MXNet's parameter server, a ``dist_sync`` kvstore. Every process is
started with the same command and told its part by environment variables (what MXNet's
``tools/launch.py`` sets; see the README): ``DMLC_ROLE`` (``scheduler``, ``server`` or
``worker``), ``DMLC_PS_ROOT_URI`` and ``DMLC_PS_ROOT_PORT`` (the scheduler's IP address and
port), ``DMLC_NUM_SERVER`` and ``DMLC_NUM_WORKER``. The scheduler and the servers serve from
the moment they import MXNet until the workers finish (``lstm-multi train`` imports it
first thing there); each worker process is one worker with one context, its rank given
by the scheduler.

Each step, every context computes the loss and gradients of its block of rows; the
kvstore sums the gradients (and the losses and stop flags) of all contexts of all
workers into context 0's, which divides by ``N``, zeroes the frozen entries, clips and
updates (:func:`~.ops.apply_gradients`, the one-worker update, its optimizer state on
the model as before); the new values are then copied to the process's other contexts,
so every copy is the same. Everything that reads the model between steps (validation,
checkpoints, ``get_params``) reads context 0's copy, the default context.
"""

from __future__ import annotations

import os

import mxnet as mx

from ...core.distributed import block
from .ops import _backward, _trained_gradients, apply_gradients, named_parameters, trained_parameters

#: what each process of a parameter-server run is given (MXNet's launcher sets the same)
DIST_VARS = ("DMLC_ROLE", "DMLC_PS_ROOT_URI", "DMLC_PS_ROOT_PORT", "DMLC_NUM_SERVER", "DMLC_NUM_WORKER")


def check_cluster(workers: int) -> None:
    """A worker of a parameter-server run (``DMLC_ROLE=worker``): every variable set, and as many
    workers asked for as the run has."""
    missing = [name for name in DIST_VARS if not os.environ.get(name)]
    if missing:
        raise ValueError(
            f"a multi-machine MXNet run needs all of {', '.join(DIST_VARS)}; {', '.join(missing)} not set."
        )
    if int(os.environ["DMLC_NUM_WORKER"]) != workers:
        raise ValueError(
            f"workers={workers}, but this MXNet run has DMLC_NUM_WORKER="
            f"{os.environ['DMLC_NUM_WORKER']} worker processes; ask for as many workers "
            f"as processes."
        )


class DataParallel:
    """``workers`` contexts (one process) or worker processes (``DMLC_ROLE=worker``) training
    one model (see the module's docstring).

    Attributes: ``workers``; ``rank``, this process's worker index (0 writes the files);
    ``contexts``, this process's; ``kvstore``, a ``device`` or ``dist_sync`` kvstore;
    ``local_blocks``, the blocks of each batch this process's contexts compute.
    """

    def __init__(self, workers: int):
        self.workers = workers
        if "DMLC_ROLE" in os.environ:
            check_cluster(workers)
            self.kvstore = mx.kv.create("dist_sync")
            self.rank, self.contexts = self.kvstore.rank, [mx.cpu()]
        else:
            self.kvstore = mx.kv.create("device")
            self.rank, self.contexts = 0, [mx.cpu(i) for i in range(workers)]
        first = self.rank * len(self.contexts)
        self.local_blocks = range(first, first + len(self.contexts))

    def prepare(self, model) -> None:
        """Copy every parameter to this process's contexts and start every worker from worker 0's
        values: each trained parameter gets a kvstore key, initialised by worker 0, then pulled."""
        for p in named_parameters(model).values():
            p.reset_ctx(self.contexts)
        for key, (_, p, _) in enumerate(trained_parameters(model)):
            self.kvstore.init(key, p.data(self.contexts[0]))
            self.kvstore.pull(key, out=[p.data(ctx) for ctx in self.contexts])
        self.kvstore.init(len(trained_parameters(model)), mx.np.zeros(2))  # the loss and the stop flag

    def training_step(self, model, batch, optimizer, clip, stop: bool = False) -> tuple[float, bool]:
        """One step on the global ``batch``: each context's block, gradients summed over all contexts
        and workers and averaged, the one-worker update on context 0, copied to the others. Returns
        the global batch's mean loss and whether any worker asked to stop (all stop together)."""
        inputs, targets = batch
        trained = trained_parameters(model)
        status = []  # per context: [loss, stop]
        for i, ctx in enumerate(self.contexts):
            rows = block(len(inputs), self.workers, self.rank * len(self.contexts) + i)
            with ctx:  # p.data() and p.grad() (and new arrays) are this context's
                loss = _backward(model, inputs[rows], targets[rows], train=True)
                status.append(mx.np.stack([loss, mx.np.array(float(stop))]))
        # Sum over contexts and workers into context 0's, every key in one call.
        first = self.contexts[0]
        keys = list(range(len(trained) + 1))
        self.kvstore.pushpull(
            keys,
            [[p.grad(ctx) for ctx in self.contexts] for _, p, _ in trained] + [status],
            out=[p.grad(first) for _, p, _ in trained] + [status[0]],
        )
        with first:  # the update reads and writes context 0's copy, its state stays there
            grads = _trained_gradients(model)
            for _, _, g in grads:
                g /= self.workers
            apply_gradients(model, grads, optimizer, clip)
        for _, p, _ in trained:
            value = p.data(first)
            for ctx in self.contexts[1:]:
                value.copyto(p.data(ctx))  # every context continues from the same values
        loss_sum, stops = status[0].asnumpy()
        return float(loss_sum) / self.workers, bool(stops > 0)

    def finish(self, model) -> None:
        """Back to one context, ``mx.cpu()`` (context 0's values, which every copy shares), for
        prediction, evaluation and ``get_params`` as after one-worker training. A ``dist_sync``
        kvstore, when closed, waits for every worker, then stops the servers."""
        for p in named_parameters(model).values():
            value = p.data(self.contexts[0]).copyto(mx.cpu())
            p.reset_ctx(mx.cpu())
            p.set_data(value)  # exactly context 0's (reset_ctx averages the copies)
        self.kvstore = None
