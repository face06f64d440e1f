"""``device=`` and ``--device``: the forms each backend takes, the framework's own answer when a GPU
is missing, and the CPU path (what runs on this machine) unchanged. The GPU runs themselves are
``benchmarks/gpu_check.sh`` (no test here needs a GPU)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lstm_multi import get_backend
from lstm_multi.backend import available_backends
from lstm_multi.cli import main
from lstm_multi.core.checkpoint import load_checkpoint
from lstm_multi.core.device import DeviceError, parse_device, resolve_device

TORCH_FORMS = "valid: cpu, cuda, cuda:N (N the GPU's index)."
GPU_FORMS = "valid: cpu, gpu, gpu:N (N the GPU's index)."


@pytest.mark.parametrize(
    ("backend", "value", "index"),
    [
        ("torch", "cpu", None),
        ("torch", "cuda", 0),
        ("torch", "cuda:3", 3),
        ("mxnet", "gpu", 0),
        ("mxnet", "gpu:1", 1),
        ("jax", "gpu:0", 0),
        ("tensorflow", "cpu", None),
        ("numpy", "cpu", None),
    ],
)
def test_valid_forms(backend, value, index):
    assert parse_device(backend, value) == index


@pytest.mark.parametrize(
    ("backend", "value", "message"),
    [
        ("torch", "gpu", f"device 'gpu': not a device the torch backend takes; {TORCH_FORMS}"),
        ("torch", "cuda:", f"device 'cuda:': not a device the torch backend takes; {TORCH_FORMS}"),
        ("torch", "CUDA", f"device 'CUDA': not a device the torch backend takes; {TORCH_FORMS}"),
        ("mxnet", "cuda:0", f"device 'cuda:0': not a device the mxnet backend takes; {GPU_FORMS}"),
        ("jax", "tpu", f"device 'tpu': not a device the jax backend takes; {GPU_FORMS}"),
        ("tensorflow", "gpu:-1", f"device 'gpu:-1': not a device the tensorflow backend takes; {GPU_FORMS}"),
        ("tensorflow", "cpu:0", f"device 'cpu:0': not a device the tensorflow backend takes; {GPU_FORMS}"),
        ("numpy", "cuda", "device 'cuda': not a device the numpy backend takes (it runs on the CPU only); valid: cpu."),
    ],
)
def test_wrong_forms_name_the_valid_ones(backend, value, message):
    with pytest.raises(DeviceError) as err:
        parse_device(backend, value)
    assert str(err.value) == message


def test_resolve_against_what_the_framework_sees():
    """The default is the first GPU when there is one; an index beyond them names those there are."""
    assert resolve_device("torch", None, 0, "") == "cpu"
    assert resolve_device("torch", None, 2, "") == "cuda:0"
    assert resolve_device("mxnet", "gpu", 2, "") == "gpu:0"
    assert resolve_device("jax", "cpu", 2, "") == "cpu"
    with pytest.raises(DeviceError) as err:
        resolve_device("torch", "cuda:1", 1, "")
    assert str(err.value) == "device 'cuda:1': torch sees 1 CUDA device (cuda:0); valid here: cpu, cuda, cuda:0."
    with pytest.raises(DeviceError) as err:
        resolve_device("mxnet", "gpu:2", 2, "", framework="MXNet")
    assert str(err.value) == "device 'gpu:2': MXNet sees 2 GPUs (gpu:0, gpu:1); valid here: cpu, gpu, gpu:0, gpu:1."
    with pytest.raises(DeviceError) as err:
        resolve_device("torch", "cuda", 0, "this build is CPU-only (torch 2.0)")
    assert str(err.value) == "device 'cuda': torch sees no CUDA device; this build is CPU-only (torch 2.0). Use cpu."


FRAMEWORK_NAME = {"torch": "torch", "tensorflow": "TensorFlow", "jax": "JAX", "mxnet": "MXNet"}
WORD = {"torch": "CUDA device", "tensorflow": "GPU", "jax": "GPU", "mxnet": "GPU"}
GPU = {"torch": "cuda", "tensorflow": "gpu", "jax": "gpu", "mxnet": "gpu"}


def gpus_seen(bk) -> int:
    """How many GPUs the framework itself says it has (its own query, in ``backends/<name>/device.py``)."""
    device = importlib.import_module(f"lstm_multi.backends.{bk.NAME}.device")
    return len(device.gpus()) if hasattr(device, "gpus") else device.gpu_count()


def test_a_missing_gpu_is_the_frameworks_answer(bk):
    if bk.NAME == "numpy":
        with pytest.raises(DeviceError, match="runs on the CPU only"):
            get_backend("numpy", device="cuda")
        return
    device = importlib.import_module(f"lstm_multi.backends.{bk.NAME}.device")
    seen, gpu = gpus_seen(bk), GPU[bk.NAME]
    with pytest.raises(DeviceError) as err:
        get_backend(bk.NAME, device=f"{gpu}:{seen}")  # one beyond those it sees
    if seen:
        assert str(err.value).startswith(
            f"device '{gpu}:{seen}': {FRAMEWORK_NAME[bk.NAME]} sees {seen} {WORD[bk.NAME]}"
        )
    else:
        assert str(err.value) == (
            f"device '{gpu}:0': {FRAMEWORK_NAME[bk.NAME]} sees no {WORD[bk.NAME]}; {device.why_no_gpu()}. Use cpu."
        )
        assert str(bk.current_device()) == "cpu"  # the failed choice changed nothing
    if bk.NAME == "torch":
        import torch

        if torch.version.cuda is None:
            assert "this build is CPU-only" in str(err.value)


def train_briefly(bk):
    """Three SGD steps of a small scratch LM; its parameters and losses."""
    from lstm_multi.core.lm import build_model

    model = build_model(bk, "scratch", 7, 5, lr=1.0, seed=4)
    rng = np.random.default_rng(0)
    losses = [
        bk.train_step(model, *(rng.integers(0, 7, (3, 6)).astype(np.int32) for _ in range(2)), 1.0, 1.0)
        for _ in range(3)
    ]
    return bk.get_params(model), losses


def test_device_cpu_trains_as_the_default_here(bk):
    """On a machine whose framework sees no GPU the default is the CPU: ``device="cpu"`` is the same
    code path, so the same numbers bit for bit."""
    if bk.NAME != "numpy" and gpus_seen(bk):
        pytest.skip(f"{bk.NAME} sees a GPU here: its default is the GPU (benchmarks/gpu_check.sh)")
    default_params, default_losses = train_briefly(get_backend(bk.NAME))
    placed = get_backend(bk.NAME, device="cpu")
    assert str(placed.current_device()) == "cpu"
    params, losses = train_briefly(placed)
    assert losses == default_losses
    for name, value in default_params.items():
        assert np.array_equal(params[name], value), name


TINY = ["--hidden", "8", "--batch-size", "32", "--num-steps", "6", "--num-train", "64", "--num-val", "32"]


def test_cli_device_cpu_and_a_device_neutral_checkpoint(bk, tmp_path, capsys):
    """``--device cpu`` trains; the checkpoint names no device, and generate loads it with ``--device cpu``."""
    out = tmp_path / "run"
    args = ["--backend", bk.NAME, "--device", "cpu"]
    assert main(["train", *args, *TINY, "--epochs", "1", "--no-progress", "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"backend {bk.NAME}, scratch LSTM")  # no "on <device>": the CPU
    ckpt = load_checkpoint(out / "model.safetensors")
    assert "cuda" not in str(ckpt.hparams) and "gpu" not in str(ckpt.hparams) and "device" not in str(ckpt.hparams)
    generate = ["generate", "--checkpoint", str(out / "model.safetensors"), "--num-preds", "5"]
    assert main([*generate, "--backend", bk.NAME, "--device", "cpu"]) == 0
    on_cpu = capsys.readouterr().out
    assert main([*generate, "--backend", "numpy"]) == 0  # the float64 reference reads it too
    assert len(capsys.readouterr().out) == len(on_cpu) > 5


def test_cli_device_errors_before_any_work(tmp_path, capsys):
    """Forms are checked for every backend parity or bench runs, before any framework is imported."""
    assert main(["parity", "--device", "cuda"]) == 2
    assert capsys.readouterr().err == (
        f"lstm-multi parity: error: --device cuda: not a device the tensorflow backend takes; {GPU_FORMS}\n"
    )
    assert main(["bench", "--backends", "torch", "mxnet", "--device", "gpu:1"]) == 2
    assert capsys.readouterr().err == (
        f"lstm-multi bench: error: --device gpu:1: not a device the torch backend takes; {TORCH_FORMS}\n"
    )
    out = ["--out", str(tmp_path / "run")]
    assert main(["train", "--backend", "torch", "--workers", "2", "--device", "cuda", *TINY, *out]) == 2
    assert capsys.readouterr().err == (
        "lstm-multi train: error: --device cuda: --workers 2 trains on the CPU (processes or CPU devices); "
        "use --device cpu or leave --device out.\n"
    )


@pytest.mark.framework("torch", "tensorflow", "jax", "mxnet")  # the first one installed
def test_cli_missing_gpu_in_a_subprocess(tmp_path):
    """The command as a user types it: one line from the framework's own device query, exit 2."""
    frameworks = [name for name in available_backends() if name != "numpy"]
    if not frameworks:
        pytest.skip("no framework is installed in this environment (pip install lstm-multi[torch])")
    name = frameworks[0]
    bk = get_backend(name)
    seen, gpu = gpus_seen(bk), GPU[name]
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "lstm_multi.cli", "train", "--backend", name, "--device", f"{gpu}:{seen}", *TINY],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"lstm-multi train: error: --device {gpu}:{seen}: {FRAMEWORK_NAME[name]} sees "
    ), proc.stderr
    assert not list(tmp_path.glob("runs/latest/*.safetensors"))  # nothing was trained


@pytest.mark.framework("torch", "tensorflow", "jax", "mxnet")  # the first one installed
def test_gpu_check_says_what_each_framework_sees(tmp_path):
    """``benchmarks/gpu_check.sh`` run by bash as on a GPU machine: here the framework sees no GPU,
    so one line says so and the script fails without running the rest (a real GPU runs it all)."""
    frameworks = [name for name in available_backends() if name != "numpy"]
    if not frameworks:
        pytest.skip("no framework is installed in this environment (pip install lstm-multi[torch])")
    name = frameworks[0]
    bk = get_backend(name)
    if gpus_seen(bk):
        pytest.skip(f"{name} sees a GPU here: run benchmarks/gpu_check.sh itself")
    interpreters = {f"LSTM_MULTI_PYTHON_{other.upper()}": str(tmp_path / "none") for other in FRAMEWORK_NAME}
    interpreters[f"LSTM_MULTI_PYTHON_{name.upper()}"] = sys.executable
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        ["bash", str(root / "benchmarks" / "gpu_check.sh"), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env={**os.environ, **interpreters},
        timeout=300,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    device = importlib.import_module(f"lstm_multi.backends.{name}.device")
    gpu = GPU[name]
    assert f"{name}: device '{gpu}': {FRAMEWORK_NAME[name]} sees no {WORD[name]}; {device.why_no_gpu()}. Use cpu." in (
        proc.stderr.splitlines()
    )
    assert proc.stdout.splitlines()[-1] == "no framework here computed on a GPU"
    assert not list((tmp_path / "out").glob("parity-*"))  # nothing ran without the GPU
