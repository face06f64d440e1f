"""What every backend's character language model shares, written once.

A backend's ``RNNLMScratch`` subclasses :class:`LanguageModel` and its framework's
module class; it supplies ``forward_with_state`` and its output layer's names.
"""

from __future__ import annotations

from .module import Module
from .params import init_params, lm_shapes


class LanguageModel(Module):
    """d2l's RNN language model: one-hot characters -> ``self.rnn`` -> output layer.

    Native parameter names (as the backend's ``get_params`` lists them) are the
    LSTM's own names behind the prefix ``"rnn."`` plus the output layer's names.
    """

    def initial_output_params(self):
        """d2l's initialisation of ``W_hq`` and ``b_q``, drawn by NumPy from ``seed + 1``."""
        params = init_params(self.rnn.num_hiddens, self.rnn.num_hiddens, self.vocab_size,
                             sigma=getattr(self.rnn, "sigma", 0.01), seed=self.seed + 1)
        return {"W_hq": params["W_hq"], "b_q": params["b_q"]}

    def canonical_shapes(self):
        return lm_shapes(self.rnn.num_inputs, self.rnn.num_hiddens, self.vocab_size)

    def to_canonical(self, native, grads=False):
        """Native names -> canonical; ``grads=True`` converts gradients (two-bias layers differ)."""
        rnn = {name[len("rnn."):]: value for name, value in native.items() if name.startswith("rnn.")}
        return {**self.rnn.to_canonical(rnn, grads), **self._output_to_canonical(native)}

    def from_canonical(self, params):
        rnn = {f"rnn.{name}": value for name, value in self.rnn.from_canonical(params).items()}
        return {**rnn, **self._output_from_canonical(params)}

    def _output_to_canonical(self, native):
        """Scratch output layer: the parameters are already ``W_hq`` and ``b_q``."""
        return {"W_hq": native["W_hq"], "b_q": native["b_q"]}

    def _output_from_canonical(self, params):
        return {"W_hq": params["W_hq"], "b_q": params["b_q"]}


IMPLEMENTATIONS = ("scratch", "concise")


def build_model(backend, impl: str, vocab_size: int, num_hiddens: int, lr: float, seed: int = 0):
    """A character LM on ``backend`` (a backend module): ``impl`` is "scratch" or "concise".

    scratch: ``RNNLMScratch(LSTMScratch(...))``, d2l's initialisation from ``seed``;
    concise: ``RNNLM(LSTM(...))``, the framework's own layers and initialisation (seeded).
    """
    from .module import check_positive

    check_positive("num_hiddens", num_hiddens, integer=True)
    check_positive("lr", lr)
    if impl == "scratch":
        return backend.RNNLMScratch(backend.LSTMScratch(vocab_size, num_hiddens, seed=seed),
                                    vocab_size, lr=lr, seed=seed)
    if impl == "concise":
        return backend.RNNLM(backend.LSTM(vocab_size, num_hiddens, seed=seed), vocab_size, lr=lr,
                             seed=seed)
    raise ValueError(f"Unknown implementation {impl!r}. Valid: {', '.join(IMPLEMENTATIONS)}.")
