"""The framework-neutral Trainer: history, callbacks, validation, errors, the curve PNG."""

import math

import pytest

from lstm_multi.core.data import TimeMachine
from lstm_multi.core.lm import build_model
from lstm_multi.core.plot import plot_history
from lstm_multi.core.trainer import Callback, Trainer


@pytest.fixture
def data():
    return TimeMachine(batch_size=64, num_steps=8, num_train=256, num_val=128, seed=0)


def test_history_and_callbacks(bk, data):
    events = []

    class Recorder(Callback):
        def on_fit_start(self, trainer, model, data):
            events.append("start")

        def on_epoch_end(self, trainer, model, record):
            events.append(record.epoch)
            if record.epoch == 2:
                trainer.should_stop = True  # early stopping

        def on_fit_end(self, trainer, model):
            events.append("end")

    model = build_model(bk, "scratch", 28, 16, lr=1.0)
    trainer = Trainer(max_epochs=5, gradient_clip_val=1.0, callbacks=[Recorder()])
    history = trainer.fit(model, data)
    assert events == ["start", 1, 2, "end"]
    assert [r.epoch for r in history] == [1, 2] and trainer.history is history
    record = history[-1].as_dict()
    assert record["train_ppl"] == pytest.approx(math.exp(record["train_loss"]))
    # validation perplexity is the token-weighted mean loss over the validation windows
    val_losses = [bk.evaluate_loss(model, X, Y) * len(X) for X, Y in data.val_dataloader()]
    assert record["val_loss"] == pytest.approx(sum(val_losses) / data.num_val, rel=1e-6)


def test_same_seed_same_training(bk, data):
    runs = []
    for _ in range(2):
        model = build_model(bk, "scratch", 28, 16, lr=2.0, seed=3)
        d = TimeMachine(batch_size=64, num_steps=8, num_train=256, num_val=128, seed=5)
        runs.append([r.train_loss for r in Trainer(max_epochs=2, gradient_clip_val=1.0).fit(model, d)])
    assert runs[0] == runs[1]


def test_divergence_is_reported(bk, data):
    model = build_model(bk, "scratch", 28, 16, lr=1e38)
    with pytest.raises(FloatingPointError, match="^Training diverged at epoch 1: the loss is "):
        Trainer(max_epochs=3).fit(model, data)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(max_epochs=0), "max_epochs must be a positive integer, got 0."),
        (dict(max_epochs=2.5), "max_epochs must be a positive integer, got 2.5."),
        (dict(max_epochs=1, gradient_clip_val=-1), "gradient_clip_val must be a positive number, got -1."),
        (dict(max_epochs=1, gradient_clip_val=float("nan")), "gradient_clip_val must be a positive number, got nan."),
    ],
)
def test_bad_trainer_arguments(kwargs, message):
    with pytest.raises(ValueError) as err:
        Trainer(**kwargs)
    assert str(err.value) == message


def test_bad_model_arguments(bk):
    with pytest.raises(ValueError) as err:
        build_model(bk, "scratch", 28, 0, lr=1.0)
    assert str(err.value) == "num_hiddens must be a positive integer, got 0."
    with pytest.raises(ValueError) as err:
        build_model(bk, "scratch", 28, 8, lr=-4)
    assert str(err.value) == "lr must be a positive number, got -4."
    with pytest.raises(ValueError) as err:
        build_model(bk, "fused", 28, 8, lr=1.0)
    assert str(err.value) == "Unknown implementation 'fused'. Valid: scratch, concise."


def test_curve_png(tmp_path):
    from lstm_multi.core.trainer import EpochRecord

    history = [EpochRecord(e, 3.0 - 0.1 * e, 3.1 - 0.1 * e, 0.1) for e in range(1, 6)]
    path = plot_history(history, tmp_path / "c" / "curve.png", title="t")
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n" and len(raw) > 10_000


def test_cosine_schedule_decays_the_learning_rate_step_by_step(bk, data):
    """Each step's optimizer has the scheduled rate; the run equals one fed those rates by hand."""
    from lstm_multi.core.optim import Adam

    seen = []
    model = build_model(bk, "scratch", 28, 8, lr=0.01)
    trainer = Trainer(max_epochs=2, gradient_clip_val=1.0, optimizer=Adam(0.01), lr_schedule="cosine")
    original = model.training_step
    model.training_step = lambda batch, optimizer, clip: seen.append(optimizer.lr) or original(batch, optimizer, clip)
    history = trainer.fit(model, data)
    total = 2 * data.num_batches(train=True)
    assert seen == pytest.approx([0.01 * 0.5 * (1 + math.cos(math.pi * t / total)) for t in range(total)])
    assert seen[0] == 0.01 and seen[-1] < 0.01 * 0.05 and len(history) == 2
    assert Trainer(max_epochs=2, optimizer=Adam(0.01)).optimizer_at(7, 8).lr == 0.01  # constant: as given


def test_unknown_lr_schedule_is_a_clear_error():
    with pytest.raises(ValueError, match=r"^Unknown lr_schedule 'linear'\. Valid: constant, cosine\.$"):
        Trainer(max_epochs=1, lr_schedule="linear")
