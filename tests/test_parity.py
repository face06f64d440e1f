"""The parity report: every implementation vs the reference, in process and across environments."""

import sys

import numpy as np
import pytest

from lstm_multi.backend import BACKENDS, is_available
from lstm_multi.cli import main
from lstm_multi.core import parity as parity_mod
from lstm_multi.core.parity import (
    TOLERANCES,
    compare,
    interpreter_for,
    make_case,
    parity,
    run_backend,
    run_backend_elsewhere,
    run_reference,
    tolerance,
)

SMALL = dict(hidden=8, num_steps=6, batch_size=3, steps=20)

pytestmark = pytest.mark.cross_environment


def test_every_implementation_agrees_with_reference(bk):
    report = parity([bk.NAME], **SMALL)
    assert report.skipped == {}
    quantities = {(r.impl, r.quantity) for r in report.rows}
    for impl in ("scratch", "concise"):
        for q in ("outputs", "H", "C", "logits", "loss", "trajectory", "grad/W_xi", "grad/b_q"):
            assert (impl, q) in quantities
    bad = [r for r in report.rows if not r.ok]
    assert not bad, report.to_markdown(full=True)


def test_identical_trajectories_across_backends_and_reference(bk):
    """20 clipped SGD steps from one initialisation: per-step losses agree (rtol 1e-5)."""
    case = make_case(**SMALL)
    reference = run_reference(case)["trajectory"]
    assert reference[-1] < reference[0]  # it really trains
    results = run_backend(bk.NAME, case)
    for impl in ("scratch", "concise"):
        np.testing.assert_allclose(results[f"{impl}/trajectory"], reference, rtol=TOLERANCES["trajectory"][1])


def test_subprocess_path_gives_the_same_numbers(bk, monkeypatch):
    case = make_case(hidden=4, num_steps=3, batch_size=2, steps=2)
    here = run_backend(bk.NAME, case)
    there = run_backend_elsewhere(bk.NAME, case, sys.executable)
    assert here.keys() == there.keys()
    for key in here:
        np.testing.assert_array_equal(here[key], there[key], err_msg=key)


@pytest.mark.other_environments
def test_backends_in_other_environments():
    """Backends not importable here run through their own interpreter (tox env or variable)."""
    elsewhere = [n for n in BACKENDS if not is_available(n) and interpreter_for(n)]
    if not elsewhere:
        pytest.skip(
            "no backend of another environment has an interpreter here "
            "(set LSTM_MULTI_PYTHON_<BACKEND> or build .tox/<backend>)"
        )
    report = parity(elsewhere, **SMALL)
    assert {r.backend for r in report.rows} == set(elsewhere)
    assert report.ok, report.to_markdown(full=True)


def test_unavailable_backend_is_reported(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .tox here
    monkeypatch.setattr(parity_mod.registry, "is_available", lambda name: False)
    monkeypatch.delenv("LSTM_MULTI_PYTHON_MXNET", raising=False)
    report = parity(["mxnet"], **SMALL)
    assert report.rows == []
    assert report.skipped == {
        "mxnet": "not installed here and no interpreter for it: set "
        "LSTM_MULTI_PYTHON_MXNET or create .tox/mxnet (tox -e mxnet)"
    }


def test_compare_flags_differences():
    reference = {"loss": np.array(2.0), "grad/W_hq": np.array([1.0, -4.0])}
    rows = compare("x", {"a/loss": np.array(2.0 + 1e-5), "a/grad/W_hq": np.array([1.0, -4.0 + 1e-5])}, reference)
    assert [(r.quantity, r.ok) for r in rows] == [("loss", False), ("grad/W_hq", True)]
    assert rows[1].bound == pytest.approx(1e-8 + 5e-6 * 4)


def test_cli_exit_status(bk, capsys, monkeypatch):
    assert (
        main(
            ["parity", "--backends", bk.NAME, "--hidden", "4", "--num-steps", "3", "--batch-size", "2", "--steps", "3"]
        )
        == 0
    )
    assert "all 2 implementations agree with the reference" in capsys.readouterr().out
    if bk.NAME == "numpy":
        return  # the reference against itself: no tolerance can fail
    monkeypatch.setitem(parity_mod.TOLERANCES, "loss", (0.0, 0.0))
    monkeypatch.setitem(parity_mod.TOLERANCES, "forward", (0.0, 1e-12))
    assert (
        main(
            ["parity", "--backends", bk.NAME, "--hidden", "4", "--num-steps", "3", "--batch-size", "2", "--steps", "3"]
        )
        == 1
    )
    assert "SOME IMPLEMENTATIONS DIFFER FROM THE REFERENCE" in capsys.readouterr().out


def test_gradient_tolerance_grows_with_the_terms_summed():
    """sqrt(T * B / 128) above the default case, never tighter; other kinds unchanged."""
    assert tolerance("grad") == TOLERANCES["grad"] == (1e-8, 5e-6)
    assert tolerance("grad", 32 * 32) == pytest.approx((1e-8, 5e-6 * 8**0.5))
    assert tolerance("grad", 1) == TOLERANCES["grad"]
    assert tolerance("loss", 32 * 32) == TOLERANCES["loss"]


@pytest.mark.parametrize(
    "model,options",
    [
        ("gru", dict(num_layers=2)),
        ("rnn", dict()),
        ("lstm", dict(peephole="full")),
        ("lstm", dict(num_layers=2, bidirectional=True)),
        ("gru", dict(reset_after=False)),
    ],
)
def test_the_family_agrees_with_reference(bk, model, options):
    report = parity([bk.NAME], hidden=6, num_steps=5, batch_size=3, steps=3, model=model, **options)
    assert report.ok, report.to_markdown(full=True)
    ran = {r.impl for r in report.rows}
    quantities = {r.quantity for r in report.rows}
    assert "outputs" in quantities and "H" in quantities
    assert ("C" in quantities) == (model == "lstm")
    assert ("loss" in quantities) == (not options.get("bidirectional"))
    # a native layer without the option (peepholes; reset before on torch, JAX, MXNet) is listed
    assert ran | {k.split()[1] for k in report.skipped} == {"scratch", "concise"}
    for why in report.skipped.values():
        assert "Scratch" in why


def test_skipped_and_failed_backends_are_listed_and_exit_non_zero(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(parity_mod.registry, "is_available", lambda name: name == "numpy")
    monkeypatch.setenv("LSTM_MULTI_PYTHON_MXNET", str(tmp_path / "no-python"))
    monkeypatch.delenv("LSTM_MULTI_PYTHON_JAX", raising=False)
    assert (
        main(
            [
                "parity",
                "--backends",
                "numpy",
                "mxnet",
                "jax",
                "--hidden",
                "4",
                "--num-steps",
                "3",
                "--batch-size",
                "2",
                "--steps",
                "2",
            ]
        )
        == 1
    )
    out = capsys.readouterr().out
    assert (
        f"mxnet: NOT RUN (the interpreter {tmp_path / 'no-python'} for backend 'mxnet' does not exist "
        "(LSTM_MULTI_PYTHON_MXNET or .tox/mxnet))"
    ) in out
    assert "jax: NOT RUN (not installed here" in out
    assert (
        "the 2 implementations that ran agree with the reference, but 2 requested did not run "
        "(listed above). To compare only what is installed here: lstm-multi parity --backends"
    ) in out
