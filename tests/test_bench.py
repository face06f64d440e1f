"""The benchmark harness in a tiny configuration (no time is asserted) and its d2l baseline."""

import numpy as np
import pytest
from conftest import assert_close

from lstm_multi.bench import (
    add_ratios,
    build,
    elementwise_bytes_per_token,
    flops_per_token,
    measure,
    run,
    set_rates,
    share_best_rates,
    to_markdown,
)


def test_d2l_baseline_computes_the_same_function(bk):
    scratch, d2l = build(bk, "scratch", 28, 6), build(bk, "d2l", 28, 6)
    rng = np.random.default_rng(0)
    params = {k: (rng.standard_normal(v.shape) * 0.5).astype(np.float32) for k, v in bk.get_params(scratch).items()}
    bk.set_params(scratch, params)
    bk.set_params(d2l, params)
    tokens = rng.integers(0, 28, (3, 5)).astype(np.int32)
    loss_a, grads_a = bk.loss_and_grads(scratch, tokens, tokens)
    loss_b, grads_b = bk.loss_and_grads(d2l, tokens, tokens)
    assert loss_b == pytest.approx(loss_a, rel=1e-6)
    for name in grads_a:
        assert_close(grads_b[name], grads_a[name], atol=1e-7, what=name)


def test_measure_reports_every_figure(bk):
    result = measure(bk.NAME, "scratch", hidden=4, batch_size=2, num_steps=3, steps=2, gen_tokens=3, min_seconds=0)
    for key in (
        "train_tokens_per_s",
        "gen_tokens_per_s",
        "compile_s",
        "matmul_gflops",
        "ceiling_fraction",
        "peak_rss_mb",
        "copy_gb_per_s",
        "matmul_bound_s",
        "elementwise_bound_s",
    ):
        assert result[key] >= 0, key
    assert result["train_tokens_per_s"] > 0 and result["peak_rss_mb"] > 10
    assert result["device"] == str(bk.current_device())  # where it ran (the default: a GPU if any)
    paths = result["matmul_paths_gflops"]  # the ceiling is the best of the framework's kernels
    assert set(paths) == (
        {"onednn"} if bk.NAME == "mxnet" else {"default", "onednn"} if bk.NAME == "torch" else {"default"}
    )
    assert min(paths.values()) > 0 and result["matmul_gflops"] == max(paths.values())
    tokens = 2 * 3
    assert result["elementwise_bound_s"] == pytest.approx(
        tokens * elementwise_bytes_per_token(4, 28) / (result["copy_gb_per_s"] * 1e9)
    )
    assert result["bound_fraction"] == pytest.approx(
        (result["matmul_bound_s"] + result["elementwise_bound_s"]) / result["step_s"]
    )


@pytest.mark.slow
def test_run_in_subprocesses_and_ratios(bk):
    results = run(
        [bk.NAME], hiddens=(4,), batch_sizes=(2,), num_steps=3, steps=1, gen_tokens=2, min_seconds=0, progress=False
    )
    assert [r["impl"] for r in results] == ["scratch", "concise", "d2l"]
    assert all("error" not in r for r in results), results
    scratch = results[0]
    assert scratch["vs_native"] == pytest.approx(scratch["train_tokens_per_s"] / results[1]["train_tokens_per_s"])
    table = to_markdown(results)
    assert table.count("\n") == 4 and f"| {bk.NAME} | lstm | d2l | 4 | 2 |" in table
    assert all(line.endswith(f" | {r['device']} |") for line, r in zip(table.splitlines()[2:], results))


def test_gru_and_rnn_are_timed_without_a_d2l_loop():
    """Which configurations a run times is the harness's own logic: checked once, on the NumPy
    backend (each framework's subprocess run is test_run_in_subprocesses_and_ratios; each
    framework's GRU and RNN are timed in test_measure_times_every_cell)."""
    results = run(
        ["numpy"],
        hiddens=(4,),
        batch_sizes=(2,),
        num_steps=3,
        steps=1,
        gen_tokens=2,
        min_seconds=0,
        progress=False,
        models=("gru", "rnn"),
    )
    assert [(r["model"], r["impl"]) for r in results] == [
        ("gru", "scratch"),
        ("gru", "concise"),
        ("rnn", "scratch"),
        ("rnn", "concise"),
    ]
    assert all("error" not in r for r in results), results
    assert results[0]["vs_native"] == pytest.approx(results[0]["train_tokens_per_s"] / results[1]["train_tokens_per_s"])


@pytest.mark.parametrize("model", ["gru", "rnn"])
def test_measure_times_every_cell(bk, model):
    result = measure(
        bk.NAME, "scratch", hidden=4, batch_size=2, num_steps=3, steps=1, gen_tokens=2, min_seconds=0, model=model
    )
    assert result["model"] == model and result["train_tokens_per_s"] > 0
    assert result["flops_per_token"] == flops_per_token(4, 28, model)


def test_ratios_and_flops():
    assert flops_per_token(256, 28) == 6 * (4 * 256 * 284 + 256 * 28)  # ~1.8 MFLOP, DESIGN.md
    assert flops_per_token(256, 28, "gru") == 6 * (3 * 256 * 284 + 256 * 28)
    assert flops_per_token(256, 28, "rnn") == 6 * (256 * 284 + 256 * 28)
    assert elementwise_bytes_per_token(256, 28) == 4 * (25 * 256 + 4 * 28)  # 26 KB a token at h 256
    assert elementwise_bytes_per_token(256, 28, "rnn") == 4 * (6 * 256 + 4 * 28)
    rows = [
        {"backend": "b", "impl": i, "hidden": 8, "batch_size": 2, "train_tokens_per_s": t}
        for i, t in (("scratch", 300.0), ("concise", 150.0), ("d2l", 100.0))
    ]
    add_ratios(rows)
    assert rows[0]["vs_native"] == 2.0 and rows[0]["vs_d2l"] == 3.0 and rows[2]["vs_d2l"] == 1.0


def test_cli_writes_tables(tmp_path, capsys):
    """The command's own work (its tables and files), on the NumPy backend: every framework's runs
    are test_run_in_subprocesses_and_ratios'."""
    from lstm_multi.cli import main

    assert (
        main(
            [
                "bench",
                "--backends",
                "numpy",
                "--impls",
                "scratch",
                "--hidden",
                "4",
                "--batch-size",
                "2",
                "--num-steps",
                "3",
                "--steps",
                "1",
                "--min-seconds",
                "0",
                "--gen-tokens",
                "2",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert (tmp_path / "results.md").read_text().startswith("| backend | model | impl |")
    import json

    assert json.loads((tmp_path / "results.json").read_text())[0]["impl"] == "scratch"
    capsys.readouterr()


def test_configurations_share_the_best_rate_measured():
    rows = [
        {
            "backend": "b",
            "impl": impl,
            "hidden": 8,
            "batch_size": 2,
            "num_steps": 5,
            "step_s": 0.1,
            "train_tokens_per_s": 100.0,
            "flops_per_token": 1e8,
            "elementwise_bytes_per_token": 1e8,
        }
        for impl in ("scratch", "concise")
    ]
    for r, (gflops, bandwidth) in zip(rows, ((100.0, 20.0), (200.0, 10.0))):
        set_rates(r, gflops, bandwidth)
    assert rows[0]["ceiling_tokens_per_s"] == pytest.approx(1000.0) and rows[1]["copy_gb_per_s"] == 10.0
    share_best_rates(rows)
    for r in rows:
        assert r["matmul_gflops"] == 200.0 and r["copy_gb_per_s"] == 20.0
        assert r["ceiling_tokens_per_s"] == pytest.approx(2000.0) and r["ceiling_fraction"] == pytest.approx(0.05)
        assert r["matmul_bound_s"] == pytest.approx(10 / 2000) and r["elementwise_bound_s"] == pytest.approx(
            10 * 1e8 / 20e9
        )
        assert r["bound_fraction"] == pytest.approx((10 / 2000 + 10 * 1e8 / 20e9) / 0.1)
