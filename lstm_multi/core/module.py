"""d2l's ``HyperParameters``, ``Module`` and ``DataModule``, framework-neutral.

The backends mix :class:`Module` into their own model classes
(``torch.nn.Module``, ``flax.nnx.Module``, ``tf.Module``, ``gluon.Block``), so the
:class:`~lstm_multi.core.trainer.Trainer` drives every framework the same way.
"""

from __future__ import annotations

import importlib
import inspect

from .optim import make_optimizer


class HyperParameters:
    """Saves the arguments of ``__init__`` as attributes (d2l)."""

    def save_hyperparameters(self, ignore=()):
        frame = inspect.currentframe().f_back
        _, _, _, local_vars = inspect.getargvalues(frame)
        self.hparams = {k: v for k, v in local_vars.items()
                        if k not in set(ignore) | {"self"} and not k.startswith("_")
                        and k != "__class__"}
        for k, v in self.hparams.items():
            setattr(self, k, v)


class Module(HyperParameters):
    """The interface the Trainer uses; each backend's language models implement it.

    A backend class sets :attr:`backend_name`; the framework-specific work (forward,
    gradients, the SGD update) is done by that backend's ``ops`` functions, so this
    class is written once for all frameworks.
    """

    backend_name: str = ""

    @property
    def ops(self):
        """The backend module (``lstm_multi.backends.<backend_name>``)."""
        return importlib.import_module(f"lstm_multi.backends.{self.backend_name}")

    def loss(self, logits, targets):
        """Mean cross-entropy over all tokens (framework scalar)."""
        return self.ops.cross_entropy(logits, targets)

    def configure_optimizers(self):
        """The model's optimizer (``self.optimizer``: "sgd", d2l's, unless told) at its learning rate."""
        return make_optimizer(getattr(self, "optimizer", "sgd"), self.lr)

    def training_step(self, batch, optimizer, gradient_clip_val=None) -> float:
        """Forward, backward, clip by global norm, update; returns the batch loss."""
        inputs, targets = batch
        return self.ops.train_step(self, inputs, targets, optimizer, gradient_clip_val)

    def validation_step(self, batch) -> dict[str, float]:
        """The batch's mean loss (``"loss"``) and metrics, without any update."""
        inputs, targets = batch
        if not hasattr(self, "metrics"):
            return {"loss": self.ops.evaluate_loss(self, inputs, targets)}
        loss, outputs = self.ops.evaluate(self, inputs, targets)
        return {"loss": loss, **self.metrics(outputs, self.check_batch(inputs, targets)[1])}

    def predict(self, prefix: str, num_preds: int, vocab, **sampling) -> str:
        """Continue ``prefix`` by ``num_preds`` characters (greedy unless told otherwise)."""
        from .sampling import predict

        return predict(self, prefix, num_preds, vocab, **sampling)


class DataModule(HyperParameters):
    """d2l's DataModule: ``train_dataloader`` and ``val_dataloader``."""

    def get_dataloader(self, train: bool):
        raise NotImplementedError

    def train_dataloader(self):
        return self.get_dataloader(train=True)

    def val_dataloader(self):
        return self.get_dataloader(train=False)
