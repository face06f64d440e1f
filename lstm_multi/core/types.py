"""The names the package's type annotations use (read by mypy and by people; no runtime role).

- :data:`Params`: parameters by name, as NumPy arrays: canonical (``"W_xi": (d, h)``) or a
  layer's own native names.
- :data:`Shapes`: parameter name -> shape.
- :data:`Tensor`: an array of any backend (``torch.Tensor``, ``tf.Tensor``, ``jax.Array``,
  ``mx.nd.NDArray`` or ``np.ndarray``). Framework-neutral code never imports a framework, so
  to the type checker it is ``Any``.
- :data:`NativeParams`: parameters by native name, in the framework's tensors or NumPy.
- :data:`Batch`: ``(inputs, targets)``, NumPy arrays or a backend's tensors.
- :data:`State`: a layer's state in the API form (LSTM ``(H, C)``, GRU and RNN ``H``).
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np

Params: TypeAlias = dict[str, np.ndarray]
Shapes: TypeAlias = dict[str, tuple[int, ...]]
Tensor: TypeAlias = Any
NativeParams: TypeAlias = dict[str, Any]
State: TypeAlias = Any
Batch: TypeAlias = tuple[Tensor, Tensor]
