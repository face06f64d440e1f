"""Data parallel on MXNet's kvstore: one process, one context per worker (``mx.cpu(0)`` ...).

:meth:`DataParallel.prepare` puts a copy of every parameter on each of the ``N``
contexts and opens a ``device`` kvstore (the one Gluon's ``Trainer`` uses for several
contexts in one process). Each step, every context runs forward and backward on its
block of rows (MXNet's engine runs the contexts' work side by side), the kvstore sums
the gradients into context 0's, and context 0 divides by ``N``, zeroes the frozen
entries, clips and updates (:func:`~.ops.apply_gradients`, the one-worker update, its
optimizer state on the model as before); the new values are then copied to the other
contexts, so every copy is the same. Everything that reads the model between steps
(validation, checkpoints, ``get_params``) reads context 0's copy, the default context.

Several machines (MXNet's ``dist_sync`` kvstore, processes started with ``DMLC_ROLE`` ...)
are not supported: see :class:`DataParallel`.
"""

from __future__ import annotations

import os

import mxnet as mx
from mxnet import autograd

from ...core.distributed import block
from .ops import _batch, apply_gradients, named_parameters, trained_parameters

#: the variables MXNet's parameter-server launcher sets in each process of a multi-machine run
DIST_VARS = ("DMLC_ROLE", "DMLC_PS_ROOT_URI")


class DataParallel:
    """``workers`` contexts in this process training one model (see the module's docstring).

    Attributes: ``workers``; ``rank``, always 0 (one process writes the files); ``contexts``.

    Multi-machine training is refused with a clear error when MXNet's launcher variables are
    set: the 1.9.1 wheel has the ``dist_sync`` kvstore, but this engine runs in one process;
    the multi-process path (scheduler and servers, ranks, each worker's share of the data)
    is not built here.
    """

    def __init__(self, workers: int):
        found = [name for name in DIST_VARS if name in os.environ]
        if found:
            raise ValueError(
                f"multi-machine MXNet training is not supported ({', '.join(found)} set): the mxnet backend "
                f"trains {workers} workers as {workers} contexts in one process, on a 'device' kvstore. "
                f"MXNet's multi-machine kvstore ('dist_sync') runs one process per worker beside a "
                f"scheduler and servers, which this backend does not implement. Run one process without "
                f"the DMLC_* variables, or train across machines on torch (torchrun).")
        self.workers = workers
        self.rank = 0
        self.contexts = [mx.cpu(i) for i in range(workers)]
        self.kvstore = None

    def prepare(self, model) -> None:
        """Copy every parameter to the ``workers`` contexts (values from the current one) and
        give each trained parameter a kvstore key, initialised with its value."""
        for p in named_parameters(model).values():
            p.reset_ctx(self.contexts)
        self.kvstore = mx.kv.create("device")
        for key, (_, p, _) in enumerate(trained_parameters(model)):
            self.kvstore.init(key, p.data(self.contexts[0]))

    def training_step(self, model, batch, optimizer, clip, stop: bool = False) -> tuple[float, bool]:
        """One step on the global ``batch``: each context's block, gradients summed by the kvstore
        and averaged, the one-worker update on context 0, copied to the others. Returns the global
        batch's mean loss and ``stop`` (one process: all contexts stop together)."""
        inputs, targets = batch
        trained = trained_parameters(model)
        losses = []
        for rank, ctx in enumerate(self.contexts):
            rows = block(len(inputs), self.workers, rank)
            with ctx:  # p.data() and p.grad() (and new arrays) are this context's
                X, Y = (t.as_in_ctx(ctx) for t in _batch(model, inputs[rows], targets[rows]))
                with autograd.record(train_mode=True):
                    loss = model.loss(model(X), Y)
                loss.backward()
            losses.append(loss)
        # Sum over contexts into context 0's gradients, every key in one call.
        first = self.contexts[0]
        keys = list(range(len(trained)))
        self.kvstore.pushpull(keys, [[p.grad(ctx) for ctx in self.contexts] for _, p, _ in trained],
                              out=[p.grad(first) for _, p, _ in trained])
        grads = []
        for name, p, keep in trained:
            g = p.grad(first)
            g /= self.workers
            if keep is not None:
                g *= keep  # frozen entries, before the norm and the update (as ops does)
            grads.append((name, p, g))
        with first:  # the update reads and writes context 0's copy, its state stays there
            apply_gradients(model, grads, optimizer, clip)
        for _, p, _ in trained:
            value = p.data(first)
            for ctx in self.contexts[1:]:
                value.copyto(p.data(ctx))  # every context continues from the same values
        return sum(loss.item() for loss in losses) / self.workers, bool(stop)

    def finish(self, model) -> None:
        """Back to one context, ``mx.cpu()`` (context 0's values, which every copy shares), for
        prediction, evaluation and ``get_params`` as after one-worker training."""
        for p in named_parameters(model).values():
            value = p.data(self.contexts[0]).copyto(mx.cpu())
            p.reset_ctx(mx.cpu())
            p.set_data(value)  # exactly context 0's (reset_ctx averages the copies)
        self.kvstore = None
