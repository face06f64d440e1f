"""What every backend's language model shares, written once.

A backend's ``RNNLMScratch`` subclasses :class:`LanguageModel` and its framework's
module class; it supplies ``forward_with_state`` and, in :attr:`NATIVE`, the native
names of its own parameters (the layer's are behind the prefix ``"rnn."``).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from .checks import check_batch, check_positive
from .family import CELLS, D2L_SIGMA, LayerConfig
from .module import Module
from .params import CanonicalLayer, init_params
from .types import NativeParams, Params, Shapes, Tensor


def check_lm_layer(rnn: CanonicalLayer, vocab_size: int, embedding_dim: int | None) -> None:
    """The layer must run forward only, and read one-hot characters or the embedding."""
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)) or vocab_size < 1:
        raise ValueError(f"vocab_size must be a positive integer, got {vocab_size!r}.")
    config = rnn.config
    if config.bidirectional:
        raise ValueError(
            f"A bidirectional {config.spec.title} cannot drive a next-character language "
            "model: its reverse direction reads the characters it should predict. "
            "Use bidirectional=False."
        )
    if embedding_dim is None:
        if config.num_inputs != vocab_size:
            raise ValueError(
                f"The {config.spec.title} takes {config.num_inputs} inputs but the one-hot "
                f"characters have vocab_size={vocab_size}: build it with "
                f"num_inputs={vocab_size}."
            )
    else:
        check_positive("embedding_dim", embedding_dim, integer=True)
        if config.num_inputs != embedding_dim:
            raise ValueError(
                f"The {config.spec.title} takes {config.num_inputs} inputs but the embedding "
                f"has embedding_dim={embedding_dim}: build it with "
                f"num_inputs={embedding_dim}."
            )


def lm_shapes(config: LayerConfig, vocab_size: int, embedding_dim: int | None = None) -> Shapes:
    """A language model's canonical parameters: ``W_e`` (with an embedding), the layer's, the output's."""
    embedding: Shapes = {} if embedding_dim is None else {"W_e": (vocab_size, embedding_dim)}
    return {**embedding, **config.shapes(), "W_hq": (config.num_hiddens, vocab_size), "b_q": (vocab_size,)}


class LanguageModel(Module):
    """d2l's RNN language model: one-hot characters (or an embedding) -> ``self.rnn`` -> output.

    Canonical parameters: ``W_e (vocab, embedding_dim)`` when there is an embedding, the
    layer's own, then ``W_hq (h, vocab)`` and ``b_q (vocab,)``.
    """

    #: canonical name -> (native name, stored transposed) for the LM's own parameters.
    NATIVE = {"W_e": ("W_e", False), "W_hq": ("W_hq", False), "b_q": ("b_q", False)}
    # saved by the backend class's save_hyperparameters:
    rnn: CanonicalLayer
    vocab_size: int
    embedding_dim: int | None
    seed: int

    @property
    def config(self) -> LayerConfig:
        return self.rnn.config

    def initial_output_params(self) -> Params:
        """d2l's initialisation: ``W_hq`` ~ N(0, sigma^2) and ``b_q`` = 0 drawn by NumPy from
        ``seed + 1`` (sigma: the layer's when it draws d2l's init, else d2l's 0.01); the embedding
        ~ N(0, 1) (as ``nn.Embedding``) from ``seed + 2``."""
        h = self.config.num_hiddens
        sigma = getattr(self.rnn, "sigma", None) or D2L_SIGMA  # None: xavier, orthogonal, native layers
        params = init_params(h, h, self.vocab_size, sigma=sigma, seed=self.seed + 1)
        output = {"W_hq": params["W_hq"], "b_q": params["b_q"]}
        if self.embedding_dim is None:
            return output
        rng = np.random.default_rng(self.seed + 2)
        return {"W_e": rng.standard_normal((self.vocab_size, self.embedding_dim)).astype(np.float32), **output}

    def canonical_shapes(self) -> Shapes:
        return lm_shapes(self.config, self.vocab_size, self.embedding_dim)

    def _own_names(self) -> list[str]:
        return [name for name in self.NATIVE if name != "W_e" or self.embedding_dim is not None]

    def to_canonical(self, native: NativeParams, grads: bool = False) -> Params:
        """Native names -> canonical; ``grads=True`` converts gradients (two-bias layers differ)."""
        rnn = {name[len("rnn.") :]: value for name, value in native.items() if name.startswith("rnn.")}
        own: Params = {}
        for name in self._own_names():
            native_name, transposed = self.NATIVE[name]
            own[name] = native[native_name].T if transposed else native[native_name]
        params = {**own, **self.rnn.to_canonical(rnn, grads)}
        return {name: params[name] for name in self.canonical_shapes()}

    def from_canonical(self, params: Params) -> NativeParams:
        native = {f"rnn.{name}": value for name, value in self.rnn.from_canonical(params).items()}
        for name in self._own_names():
            native_name, transposed = self.NATIVE[name]
            native[native_name] = np.ascontiguousarray(params[name].T if transposed else params[name])
        return native

    def frozen(self) -> Params:
        """Native name -> mask of the entries that training keeps at zero."""
        return {f"rnn.{name}": mask for name, mask in self.rnn.frozen().items()}

    def check_batch(self, tokens: Tensor, targets: Tensor) -> tuple[np.ndarray, np.ndarray]:
        """NumPy ``(batch_size, num_steps)`` token ids from NumPy or backend tensors, checked."""
        return check_batch(tokens, targets, self.vocab_size)


IMPLEMENTATIONS = ("scratch", "concise")


def layer_class(backend: ModuleType, impl: str, cell: str) -> Any:
    """``bk.LSTMScratch`` for ("scratch", "lstm"), ``bk.GRU`` for ("concise", "gru"), ..."""
    if impl not in IMPLEMENTATIONS:
        raise ValueError(f"Unknown implementation {impl!r}. Valid: {', '.join(IMPLEMENTATIONS)}.")
    title = CELLS[cell].title if cell in CELLS else None
    if title is None:
        raise ValueError(f"Unknown model {cell!r}. Valid models: {', '.join(CELLS)}.")
    return getattr(backend, title + ("Scratch" if impl == "scratch" else ""))


def build_layer(
    backend: ModuleType,
    impl: str,
    config: LayerConfig,
    seed: int = 0,
    init: str | None = None,
    sigma: float | None = None,
) -> Any:  # a backend's layer (a CanonicalLayer and a framework module)
    """The layer of ``config`` on ``backend``: scratch or the framework's native layer.

    ``init`` and ``sigma`` choose a scratch layer's initialisation
    (:func:`~lstm_multi.core.family.resolve_init`; None: the default for its depth); a native
    layer starts from its framework's own, so it refuses them.
    """
    options = {k: v for k, v in config.to_dict().items() if k not in ("cell", "num_inputs", "num_hiddens")}
    options = {
        k: v for k, v in options.items() if k in ("num_layers", "bidirectional", "dropout") or k in config.spec.options
    }
    if impl == "scratch":
        options.update(init=init, sigma=sigma)
    elif init is not None or sigma is not None:
        raise ValueError(
            f"init and sigma choose the initialisation of the scratch layers; the native "
            f"{config.spec.title} (impl {impl!r}) starts from its framework's own. "
            "Leave them out (None) or use impl 'scratch'."
        )
    return layer_class(backend, impl, config.cell)(config.num_inputs, config.num_hiddens, seed=seed, **options)


def model_from_config(
    backend: ModuleType,
    impl: str,
    config: LayerConfig,
    vocab_size: int,
    lr: float,
    seed: int = 0,
    embedding_dim: int | None = None,
    init: str | None = None,
    sigma: float | None = None,
) -> LanguageModel:
    """The LM whose layer is ``config`` (``config.num_inputs`` is the vocabulary or embedding size);
    ``init``, ``sigma``: the scratch layer's initialisation (:func:`build_layer`)."""
    layer = build_layer(backend, impl, config, seed=seed, init=init, sigma=sigma)
    lm_class = backend.RNNLMScratch if impl == "scratch" else backend.RNNLM
    return lm_class(layer, vocab_size, lr=lr, seed=seed, embedding_dim=embedding_dim)


def build_model(
    backend: ModuleType,
    impl: str,
    vocab_size: int,
    num_hiddens: int,
    lr: float,
    seed: int = 0,
    model: str = "lstm",
    embedding_dim: int | None = None,
    init: str | None = None,
    sigma: float | None = None,
    **options: Any,
) -> LanguageModel:
    """A character LM on ``backend`` (a backend module): ``impl`` is "scratch" or "concise".

    scratch: ``RNNLMScratch(<Model>Scratch(...))``, initialised by NumPy from ``seed``:
    ``init`` "d2l" (N(0, sigma^2), sigma 0.01 unless given), "xavier" or "orthogonal"; None
    (the default) is d2l's for one layer and the one that trains for a stacked layer
    (:func:`~lstm_multi.core.family.resolve_init`);
    concise: ``RNNLM(<Model>(...))``, the framework's own layers and initialisation (seeded;
    ``init`` and ``sigma`` must be None).
    ``model`` is "lstm", "gru" or "rnn"; ``options`` are the layer's (``num_layers``,
    ``dropout``, ``peephole``, ``forget_bias``, ``reset_after``).
    """
    check_positive("num_hiddens", num_hiddens, integer=True)
    check_positive("lr", lr)
    num_inputs = vocab_size if embedding_dim is None else embedding_dim
    config = LayerConfig(model, num_inputs, num_hiddens, **options)
    return model_from_config(backend, impl, config, vocab_size, lr, seed, embedding_dim, init=init, sigma=sigma)
