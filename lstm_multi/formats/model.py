"""What every export format writes, described once in NumPy: the input, the layer's units, the head.

A checkpoint holds one of three models (``hparams["task"]`` tells which):

============  =========================================  ==============================
kind          input, time-major                          first output
============  =========================================  ==============================
lm            ``tokens`` int64 ``(T, B)``                ``logits (T, B, V)``
classifier    ``tokens`` int64 ``(T, B)`` (symbol ids)   ``logits (B, C)``
regressor     ``values`` float32 ``(T, B)``              ``predictions (B, 1)``
============  =========================================  ==============================

then the layer's final states (``H``, and ``C`` for an LSTM), each ``(units, B, h)`` in the
package's unit order (layer 0 forward, layer 0 reverse, layer 1, ...).

Token input is a table lookup: row ``t`` of ``table (V, d)`` is what the layer reads for
token ``t``. With an embedding the table is ``W_e``; with one-hot input it is the identity
``eye(V)``, so the layer reads the one-hot vector itself and multiplies it by ``W_x`` as the
package does: exact (one 1 and zeros), and the same graph for both inputs. The price is a
``(V, V)`` table in the file (28 x 28 for the Time Machine's characters).

The head is a list of dense layers ``y = x W + b`` with a ReLU between two: the LM's
``W_hq, b_q`` (on every step), a task model's ``W_out, b_out``, after ``W_mlp, b_mlp`` for an
MLP head (on the features: the last layer's final ``H``, both directions' for a
bidirectional layer, which is the reference's "forward at the last step, reverse at the first").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.checkpoint import Checkpoint
from ..core.family import LayerConfig
from ..core.types import Params
from . import ExportError

#: What each format's framework cannot express: (the model's feature, the formats that can).
PEEPHOLE_FORMATS = {"diagonal": "onnx or jax", "full": "jax"}
RESET_BEFORE_FORMATS = "onnx, keras or jax"


@dataclass(frozen=True)
class ExportModel:
    """A checkpoint's model in the terms every format builds from (float32 NumPy arrays)."""

    kind: str  # "lm", "classifier" or "regressor"
    config: LayerConfig
    table: np.ndarray | None  # (V, d): the layer's input for each token; None: real values (regressor)
    units: list[Params]  # each unit's canonical parameters, unprefixed, in config.units() order
    dense: list[tuple[np.ndarray, np.ndarray]]  # the head's (W (n_in, n_out), b (n_out,)), ReLU between

    @property
    def input_name(self) -> str:
        return "values" if self.kind == "regressor" else "tokens"

    @property
    def output_name(self) -> str:
        return "predictions" if self.kind == "regressor" else "logits"

    @property
    def state_names(self) -> tuple[str, ...]:
        """``("H", "C")`` for an LSTM, ``("H",)`` otherwise: the outputs after the first."""
        return self.config.spec.state


def describe(ckpt: Checkpoint) -> ExportModel:
    """The model of ``ckpt`` as :class:`ExportModel` (no framework needed)."""
    params = {name: np.asarray(value, np.float32) for name, value in ckpt.params.items()}
    config = ckpt.config
    task = ckpt.hparams.get("task")
    units = [{name: params[prefix + name] for name in config.unit_shapes(d)} for prefix, _, d, _ in config.units()]
    if task is None:
        table = params["W_e"] if "W_e" in params else np.eye(len(ckpt.vocab), dtype=np.float32)
        return ExportModel("lm", config, table, units, [(params["W_hq"], params["b_q"])])
    dense = [(params["W_mlp"], params["b_mlp"])] if task["head"] == "mlp" else []
    dense.append((params["W_out"], params["b_out"]))
    if task["num_outputs"] == 1:  # one prediction: the regressor reads one real value per step
        return ExportModel("regressor", config, None, units, dense)
    return ExportModel("classifier", config, np.eye(config.num_inputs, dtype=np.float32), units, dense)


def refuse_peepholes(model: ExportModel, format: str, framework: str) -> None:
    """Raise :class:`ExportError` for a peephole LSTM: no framework's native LSTM has peepholes."""
    config = model.config
    if config.peephole:
        raise ExportError(
            f"Cannot export the {config.describe()} to {format}: {framework}'s LSTM has no peephole "
            f"connections; use --format {PEEPHOLE_FORMATS[config.peephole]}."
        )


def refuse_reset_before(model: ExportModel, format: str, framework: str) -> None:
    """Raise :class:`ExportError` for d2l's reset-before GRU where the framework has only cuDNN's form."""
    config = model.config
    if config.cell == "gru" and not config.reset_after:
        raise ExportError(
            f"Cannot export the {config.describe()} to {format}: {framework}'s GRU has only the reset-after "
            f"form; use --format {RESET_BEFORE_FORMATS}."
        )
