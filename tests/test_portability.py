"""Portable checkpoints: trained on backend A, saved, loaded on backend B (either implementation).

For every ordered pair of backends installed in this environment, and across
environments through files when another environment's interpreter is known.
"""

import itertools
import subprocess

import numpy as np
import pytest
from conftest import assert_close

from lstm_multi.backend import BACKENDS, available_backends, get_backend, is_available
from lstm_multi.core.checkpoint import load_checkpoint, save_checkpoint
from lstm_multi.core.data import TimeMachine, Vocab
from lstm_multi.core.lm import IMPLEMENTATIONS, build_model
from lstm_multi.core.parity import interpreter_for
from lstm_multi.core.trainer import Trainer

HIDDEN = 12
PAIRS = [pytest.param(a, b, id=f"{a}->{b}") for a, b in itertools.product(available_backends(), repeat=2)]
IMPL_PAIRS = list(itertools.product(IMPLEMENTATIONS, repeat=2))

pytestmark = [pytest.mark.cross_environment, pytest.mark.xdist_group("portability")]


@pytest.fixture(scope="module")
def data():
    return TimeMachine(batch_size=32, num_steps=10, num_train=128, num_val=64, seed=1)


@pytest.fixture(scope="module")
def checkpoint_of(data, tmp_path_factory):
    """(backend, impl) -> a checkpoint trained there for one epoch (trained once per module)."""
    made = {}

    def get(name, impl):
        if (name, impl) not in made:
            path = tmp_path_factory.mktemp("ckpt") / f"{name}-{impl}.safetensors"
            trained_checkpoint(name, impl, data, path)
            made[name, impl] = path
        return made[name, impl]

    return get


def trained_checkpoint(name, impl, data, path):
    bk = get_backend(name)
    model = build_model(bk, impl, len(data.vocab), HIDDEN, lr=2.0, seed=4)
    Trainer(max_epochs=1, gradient_clip_val=1.0).fit(model, data)
    save_checkpoint(path, bk.get_params(model), data.vocab.idx_to_token, {"backend": name, "impl": impl, "lr": 2.0})
    return bk, model


def load_on(name, impl, path):
    bk = get_backend(name)
    ckpt = load_checkpoint(path)
    model = build_model(bk, impl, len(ckpt.vocab), ckpt.params["W_hq"].shape[0], lr=2.0)
    bk.set_params(model, ckpt.params)
    return bk, model, Vocab.from_tokens(ckpt.vocab)


#: seeded sampling happens once, in NumPy, over each backend's logits: the same text everywhere
SAMPLINGS = [
    dict(temperature=1.0, seed=3),
    dict(temperature=0.8, top_k=5, seed=4),
    dict(temperature=1.0, top_p=0.9, seed=5),
]


@pytest.mark.skipif(not PAIRS, reason="no backend installed in this environment")
@pytest.mark.parametrize("source,target", PAIRS or [("torch", "torch")])
@pytest.mark.parametrize("impl_a,impl_b", IMPL_PAIRS, ids=[f"{a}->{b}" for a, b in IMPL_PAIRS])
def test_checkpoint_moves_between_backends(source, target, impl_a, impl_b, data, checkpoint_of):
    path = checkpoint_of(source, impl_a)
    bk_a, model_a, _ = load_on(source, impl_a, path)  # the trained model, as saved on A
    bk_b, model_b, vocab = load_on(target, impl_b, path)
    X, Y = next(iter(data.val_dataloader()))
    # the same function
    assert_close(
        bk_b.to_numpy(model_b(bk_b.tensor(X))),
        bk_a.to_numpy(model_a(bk_a.tensor(X))),
        atol=5e-6,
        rtol=5e-6,
        what="logits",
    )
    # the same greedy text, and the same sampled text for the same seed
    assert model_b.predict("time traveller", 30, vocab) == model_a.predict("time traveller", 30, data.vocab)
    for sampling in SAMPLINGS:
        assert model_b.predict("time traveller", 30, vocab, **sampling) == model_a.predict(
            "time traveller", 30, data.vocab, **sampling
        ), sampling
    # and it trains on: the next SGD step gives the same loss and the same parameters
    loss_a = bk_a.train_step(model_a, X, Y, 2.0, 1.0)
    loss_b = bk_b.train_step(model_b, X, Y, 2.0, 1.0)
    assert loss_b == pytest.approx(loss_a, rel=2e-6)
    after_a, after_b = bk_a.get_params(model_a), bk_b.get_params(model_b)
    for name in after_a:
        assert_close(after_b[name], after_a[name], atol=2e-6, what=name)


WORKER = """
import json, sys, numpy as np
from lstm_multi.backend import get_backend
from lstm_multi.core.checkpoint import load_checkpoint, save_checkpoint
from lstm_multi.core.data import Vocab
from lstm_multi.core.lm import build_model
name, impl, path, X, out = sys.argv[1], sys.argv[2], sys.argv[3], np.load(sys.argv[4]), sys.argv[5]
bk = get_backend(name)
ckpt = load_checkpoint(path)
model = build_model(bk, impl, len(ckpt.vocab), ckpt.params["W_hq"].shape[0], lr=2.0)
bk.set_params(model, ckpt.params)
logits = bk.to_numpy(model(bk.tensor(X)))
text = model.predict("time traveller", 30, Vocab.from_tokens(ckpt.vocab))
text += "|" + model.predict("time traveller", 30, Vocab.from_tokens(ckpt.vocab), temperature=1.0, top_p=0.9, seed=3)
bk.train_step(model, X[:, :-1], X[:, 1:], 2.0, 1.0)
save_checkpoint(out, bk.get_params(model), ckpt.vocab, {"backend": name, "text": text})
np.save(out + ".logits.npy", logits)
"""

OTHER_ENVS = [n for n in BACKENDS if not is_available(n) and interpreter_for(n)]


@pytest.mark.skipif(
    not (OTHER_ENVS and available_backends()),
    reason="needs a backend here and another environment's interpreter (LSTM_MULTI_PYTHON_<BACKEND> or .tox/<backend>)",
)
@pytest.mark.other_environments
@pytest.mark.parametrize("other", OTHER_ENVS or ["none"])
def test_checkpoint_moves_across_environments(other, data, tmp_path):
    here = available_backends()[0]
    path = tmp_path / "here.safetensors"
    bk, model = trained_checkpoint(here, "scratch", data, path)
    X = next(iter(data.val_dataloader()))[0]
    np.save(tmp_path / "X.npy", X)
    out = tmp_path / "there.safetensors"
    proc = subprocess.run(
        [interpreter_for(other), "-c", WORKER, other, "concise", str(path), str(tmp_path / "X.npy"), str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert_close(
        np.load(str(out) + ".logits.npy"),
        bk.to_numpy(model(bk.tensor(X))),
        atol=5e-6,
        rtol=5e-6,
        what=f"{other} logits",
    )
    there = load_checkpoint(out)
    assert there.hparams["text"] == model.predict("time traveller", 30, data.vocab) + "|" + model.predict(
        "time traveller", 30, data.vocab, temperature=1.0, top_p=0.9, seed=3
    )
    # the step taken there equals the step taken here
    bk.train_step(model, X[:, :-1], X[:, 1:], 2.0, 1.0)
    for name, value in bk.get_params(model).items():
        assert_close(there.params[name], value, atol=2e-6, what=name)
