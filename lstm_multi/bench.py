"""Benchmarks: training and generation tokens per second, per backend and implementation.

Implementations: ``scratch`` (the fused, compiled cell), ``concise`` (the
framework's native layer) and ``d2l`` (the book's loop: eight matmuls per step, no
hoisting; ``backends/<name>/d2l.py``). Training is timed through the real
``Module.training_step`` (forward, backward, clipping, update) on Time Machine
batches; the first step is timed apart (compilation) and one more is warm-up.
Each configuration runs in its own process, so peak memory (max RSS, read after
training and generation, before the ceiling's matmuls) is its own; backends of another
environment run with that environment's interpreter.

The practical ceiling: the best FLOP/s of a plain matmul of the LSTM's shapes,
``(rows, h + V) @ (h + V, 4h)`` with one step's and all steps' rows, timed in the same
framework by each of its matmul kernels (:func:`matmul_paths`: torch's MKL and oneDNN),
so that no implementation on that framework can exceed it (each process times it; a run
takes the best rate of a backend and shape); one
training token costs ``6 * (4h(V + h) + hV)`` FLOPs (forward 2x, backward 4x the
multiply-adds), so ``ceiling = FLOP/s / FLOPs per token`` and each implementation
reports its fraction. Beside it, the element-wise work's bound: the bytes a step must move
at the least (:func:`elementwise_bytes_per_token`) over the bandwidth of a large copy, so
that ``matmul ms + element-wise ms`` is the step time of a layer whose matmuls ran at the
best rate and whose element-wise work moved each float it needs once; ``of bound`` is
that time over the measured step. :func:`machine` records the CPU's nominal peak too.
"""

from __future__ import annotations

import importlib
import json
import operator
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from .core import allocator

if TYPE_CHECKING:
    from .core.module import Module

IMPLS = ("scratch", "concise", "d2l")
PREFIX = "time traveller"


def flops_per_token(hidden: int, vocab: int, model: str = "lstm") -> int:
    """Training FLOPs of one token: 6x the multiply-adds of the G gates' matmuls and the output."""
    from .core.family import CELLS

    gates = len(CELLS[model].gates)
    return 6 * (gates * hidden * (vocab + hidden) + hidden * vocab)


#: Floats of element-wise traffic per token and time step, at the least, in units of h: what a
#: fused kernel must read and write (its pre-activations, states and kept gates forward; those,
#: the incoming gradients and the outgoing ``dA`` and state gradients backward).
ELEMENTWISE_FLOATS = {
    "lstm": 25,  # forward: read A 4h, C h; write gates 4h, C h, H h. Backward: read gates 4h,
    # C_prev h, C h, dH 2h (output and recurrent), dC h; write dA 4h, dC h.
    "gru": 25,  # forward: read A_x 3h, A_h 3h, H h; write gates 3h, H h. Backward: read gates
    # 3h, H h, A_hn h, dH 2h; write dA_x 3h, dA_h 3h, dH h.
    "rnn": 6,  # forward: read A h, write H h. Backward: read H h, dH 2h; write dA h.
}


def elementwise_bytes_per_token(hidden: int, vocab: int, model: str = "lstm") -> int:
    """Bytes (float32) the element-wise work of one training token moves at the least: the
    cell's :data:`ELEMENTWISE_FLOATS` and, for the output, the one-hot input written and the
    logits written, read by the softmax and their gradient written (4 V)."""
    return 4 * (ELEMENTWISE_FLOATS[model] * hidden + 4 * vocab)


def build(bk: ModuleType, impl: str, vocab: int, hidden: int, lr: float = 1.0, model: str = "lstm") -> Module:
    from .core.lm import build_model

    if impl == "d2l":
        d2l = importlib.import_module(f"lstm_multi.backends.{bk.NAME}.d2l")
        return bk.RNNLMScratch(d2l.D2LLSTMScratch(vocab, hidden), vocab, lr=lr)
    return build_model(bk, impl, vocab, hidden, lr, model=model)


def matmul_gflops(
    bk: ModuleType, hidden: int, batch_size: int, vocab: int, num_steps: int = 32, reps: int = 20
) -> dict[str, float]:
    """The best FLOP/s (in G) each of this framework's matmul kernels (:func:`matmul_paths`)
    reaches on the LSTM's matmuls: ``(rows, h + V) @ (h + V, 4h)`` with ``rows`` one step's
    batch and all steps' ``num_steps * batch`` (the hoisted input projection, the weight
    gradients), so that the best of them bounds both the per-step and the whole-sequence
    products from above. Buffers are reused across repetitions (malloc tuned by
    ``get_backend``), so page faults are not timed."""
    rng = np.random.default_rng(0)
    B = rng.standard_normal((hidden + vocab, 4 * hidden)).astype(np.float32)
    rates = {}
    for name, prepare in matmul_paths(bk).items():
        best_rate = 0.0
        for rows in sorted({batch_size, num_steps * batch_size}):
            product, wait = prepare(rng.standard_normal((rows, hidden + vocab)).astype(np.float32), B)
            wait(product())
            n = max(2, reps * batch_size // rows)
            for _ in range(3):
                start = time.perf_counter()
                for _ in range(n):
                    out = product()
                wait(out)  # asynchronous frameworks
                seconds = (time.perf_counter() - start) / n
                best_rate = max(best_rate, 2 * rows * (hidden + vocab) * 4 * hidden / seconds / 1e9)
        rates[name] = best_rate
    return rates


Prepared = tuple[Callable[[], Any], Callable[[Any], Any]]  # product(), wait(out)
MatmulPath = Callable[[np.ndarray, np.ndarray], Prepared]


def matmul_paths(bk: ModuleType) -> dict[str, MatmulPath]:
    """The float32 matmul kernels the framework has here, by name: each takes NumPy ``A, B``
    and returns ``product()`` (``A @ B`` on the framework's tensors, made once) and ``wait(out)``.

    ``default`` is the framework's ``A @ B`` (torch: MKL's sgemm). torch on the CPU also has
    oneDNN's inner product (what ``nn.LSTM`` runs on the CPU, so that the ceiling bounds it
    too); MXNet 1.9.1's ``np.dot`` is built without AVX, so its path is its oneDNN inner
    product (what the scratch cells use)."""

    def on_tensors(product: Callable[[Any, Any], Any]) -> MatmulPath:
        """A kernel that takes the backend's own tensors (``bk.tensor``), waited for by ``to_numpy``."""

        def prepare(A: np.ndarray, B: np.ndarray) -> Prepared:
            a, b = bk.tensor(A), bk.tensor(B)
            return (lambda: product(a, b)), bk.to_numpy

        return prepare

    if bk.NAME == "mxnet":
        from mxnet import nd

        from .backends.mxnet.layers import matmul

        return {"onednn": on_tensors(lambda a, b: matmul(nd, a, b))}
    paths = {"default": on_tensors(operator.matmul)}
    if bk.NAME == "torch":
        import torch

        if torch.backends.mkldnn.is_available() and bk.current_device().type == "cpu":

            def torch_onednn(A: np.ndarray, B: np.ndarray) -> Prepared:
                a, w = torch.from_numpy(A).to_mkldnn(), torch.from_numpy(np.ascontiguousarray(B.T)).to_mkldnn()
                return (lambda: torch._C._nn.mkldnn_linear(a, w, None)), (lambda out: out.to_dense())

            paths["onednn"] = torch_onednn
    return paths


def peak_gflops() -> dict[str, float]:
    """The CPU's nominal float32 peak: cores x clock x FMA lanes x 2 FLOPs x 2 FMA units (an
    assumption: two 512- or 256-bit FMA ports per core, as on recent Xeon and EPYC cores),
    from /proc/cpuinfo (its clock may be the base clock: a turbo clock gives more); and the
    memory bandwidth of a large NumPy copy (GB/s), the bound of element-wise work."""
    info = {}
    try:
        text = Path("/proc/cpuinfo").read_text()
        mhz = max(float(line.split(":")[1]) for line in text.splitlines() if line.startswith("cpu MHz"))
        flags = set(next(line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")))
        lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
        info["peak_gflops"] = (os.cpu_count() or 1) * mhz / 1e3 * lanes * 2 * 2
    except (OSError, StopIteration, ValueError):
        pass
    info["copy_gb_per_s"] = copy_bandwidth()
    return info


def copy_bandwidth() -> float:
    """GB/s read and written by a large NumPy copy (256 MB, beyond every cache)."""
    a, b = np.ones(1 << 26, np.float32), np.empty(1 << 26, np.float32)
    np.copyto(b, a)
    start = time.perf_counter()
    for _ in range(5):
        np.copyto(b, a)
    return 5 * 2 * a.nbytes / (time.perf_counter() - start) / 1e9  # read + write


def measure(
    backend: str,
    impl: str,
    hidden: int,
    batch_size: int,
    num_steps: int = 32,
    steps: int = 10,
    gen_tokens: int = 100,
    min_seconds: float = 1.0,
    model: str = "lstm",
    device: str | None = None,
) -> dict[str, Any]:
    """One configuration in this process, on ``device`` (None: the backend's default, its first
    GPU if any); returns a flat dict of results, the device among them.

    At least ``steps`` training steps are timed, and more until ``min_seconds`` have
    passed (small configurations take a few ms a step; their median needs more samples).
    """
    from . import get_backend
    from .core.data import TimeMachine
    from .core.optim import SGD

    bk = get_backend(backend, device=device)
    data = TimeMachine(batch_size, num_steps, num_train=batch_size, num_val=0)
    vocab = len(data.vocab)
    X, Y = next(iter(data.train_dataloader()))
    lm = build(bk, impl, vocab, hidden, model=model)
    optimizer = SGD(1.0)
    step = lambda: lm.training_step((X, Y), optimizer, 1.0)
    start = time.perf_counter()
    step()
    first = time.perf_counter() - start
    step()  # warm-up
    times: list[float] = []
    while len(times) < steps or (sum(times) < min_seconds and len(times) < 1000):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    step_s = statistics.median(times)
    lm.predict(PREFIX, 5, data.vocab)  # compile / warm the generation path
    start = time.perf_counter()
    lm.predict(PREFIX, gen_tokens, data.vocab)
    gen_s = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the model's, before the ceiling's buffers
    result = {
        "backend": backend,
        "model": model,
        "impl": impl,
        "hidden": hidden,
        "batch_size": batch_size,
        "num_steps": num_steps,
        "device": str(bk.current_device()),
        "train_tokens_per_s": batch_size * num_steps / step_s,
        "step_s": step_s,
        "timed_steps": len(times),
        "compile_s": max(first - step_s, 0.0),
        "gen_tokens_per_s": gen_tokens / gen_s,
        "peak_rss_mb": peak_mb,
        "malloc": allocator.status,
        "flops_per_token": flops_per_token(hidden, vocab, model),
        "elementwise_bytes_per_token": elementwise_bytes_per_token(hidden, vocab, model),
    }
    result["matmul_paths_gflops"] = paths = matmul_gflops(bk, hidden, batch_size, vocab, num_steps)
    set_rates(result, max(paths.values()), copy_bandwidth())
    return result


def set_rates(r: dict[str, Any], gflops: float, bandwidth: float) -> None:
    """A result's matmul rate and copy bandwidth, and what follows from them: the ceiling
    (tokens/s) and its fraction, the step's matmul and element-wise bounds (s) and their
    sum's fraction of the measured step."""
    tokens = r["batch_size"] * r["num_steps"]
    ceiling = gflops * 1e9 / r["flops_per_token"]
    matmul_s, elementwise_s = tokens / ceiling, tokens * r["elementwise_bytes_per_token"] / (bandwidth * 1e9)
    r.update(
        matmul_gflops=gflops,
        copy_gb_per_s=bandwidth,
        ceiling_tokens_per_s=ceiling,
        ceiling_fraction=r["train_tokens_per_s"] / ceiling,
        matmul_bound_s=matmul_s,
        elementwise_bound_s=elementwise_s,
        bound_fraction=(matmul_s + elementwise_s) / r["step_s"],
    )


def machine() -> dict[str, Any]:
    """The CPU and software a run measured: model name, cores, vector extensions, versions, date."""
    import datetime
    import platform
    from importlib import metadata

    cpu, flags = platform.processor() or platform.machine(), set()
    try:
        info = Path("/proc/cpuinfo").read_text()
        cpu = next(line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name"))
        flags = set(next(line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")))
    except (OSError, StopIteration):
        pass
    versions = {}
    for package in ("torch", "tensorflow-cpu", "keras", "jax", "flax", "mxnet", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "vector_extensions": sorted(f for f in flags if f.startswith(("avx", "fma", "amx"))),
        "python": platform.python_version(),
        "versions_here": versions,
        "malloc": allocator.tune_malloc(),
        **peak_gflops(),  # what the measuring processes do too
        "date": datetime.date.today().isoformat(),
    }


def run(
    backends: Sequence[str],
    impls: Sequence[str] = IMPLS,
    hiddens: Sequence[int] = (32, 256),
    batch_sizes: Sequence[int] = (1024, 32),
    num_steps: int = 32,
    steps: int = 10,
    gen_tokens: int = 100,
    min_seconds: float = 1.0,
    progress: bool = True,
    models: Sequence[str] = ("lstm",),
    device: str | None = None,
) -> list[dict[str, Any]]:
    """Every configuration, each in a fresh process of the backend's environment (the book's
    ``d2l`` loop exists for the LSTM only), on ``device`` (None: each backend's default)."""
    from . import backend as registry
    from .core.parity import interpreter_for, subprocess_env

    configs = [
        (b, m, i, h, n)
        for b in backends
        for m in models
        for h in hiddens
        for n in batch_sizes
        for i in impls
        if m == "lstm" or i != "d2l"
    ]
    results = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(configs), unit="config", desc="bench")
    for backend, model, impl, hidden, batch_size in configs:
        python = sys.executable if registry.is_available(backend) else interpreter_for(backend)
        if python is None:
            results.append(
                {
                    "backend": backend,
                    "model": model,
                    "impl": impl,
                    "hidden": hidden,
                    "batch_size": batch_size,
                    "error": "not installed here",
                }
            )
        else:
            args = dict(
                backend=backend,
                model=model,
                impl=impl,
                hidden=hidden,
                batch_size=batch_size,
                num_steps=num_steps,
                steps=steps,
                gen_tokens=gen_tokens,
                min_seconds=min_seconds,
                device=device,
            )
            proc = subprocess.run(
                [python, "-m", "lstm_multi.bench", json.dumps(args)],
                capture_output=True,
                text=True,
                env=subprocess_env(PYTHONWARNINGS="ignore"),
            )
            if proc.returncode == 0:
                results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            else:
                tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
                results.append({**args, "error": tail})
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    share_best_rates(results)
    add_ratios(results)
    return results


def share_best_rates(results: list[dict[str, Any]]) -> None:
    """Each process times the matmul and the copy itself, and a busy moment reads low: so every
    configuration of one backend and shape takes the best rate any of them measured (the truest
    upper bound), and its ceiling and bound fractions are recomputed from it (:func:`set_rates`)."""
    measured = [r for r in results if "error" not in r]
    best: dict[tuple[str, int, int], tuple[float, float]] = {}  # (backend, h, batch) -> (GFLOP/s, GB/s)
    for r in measured:
        key = (r["backend"], r["hidden"], r["batch_size"])
        gflops, bandwidth = best.get(key, (0.0, 0.0))
        best[key] = max(gflops, r["matmul_gflops"]), max(bandwidth, r["copy_gb_per_s"])
    for r in measured:
        set_rates(r, *best[(r["backend"], r["hidden"], r["batch_size"])])


def add_ratios(results: list[dict[str, Any]]) -> None:
    """``vs_native`` and ``vs_d2l``: tokens/s over the same backend, model and shape's concise
    and d2l."""
    index = {
        (r["backend"], r.get("model", "lstm"), r["impl"], r["hidden"], r["batch_size"]): r
        for r in results
        if "error" not in r
    }
    for (backend, model, _, hidden, batch_size), r in index.items():
        for other, key in (("concise", "vs_native"), ("d2l", "vs_d2l")):
            base = index.get((backend, model, other, hidden, batch_size))
            if base is not None:
                r[key] = r["train_tokens_per_s"] / base["train_tokens_per_s"]


def bound_ms(r: dict[str, Any]) -> str:
    """``"matmul + element-wise"`` milliseconds of a result, for the table."""
    return f"{1e3 * r['matmul_bound_s']:.1f} + {1e3 * r['elementwise_bound_s']:.1f}"


def to_markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "| backend | model | impl | h | batch | train tok/s | vs native | vs d2l | of ceiling "
        "| step ms | bound ms: matmul + element-wise | of bound | compile s | generate tok/s | peak MB | device |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    fmt = lambda r, k, f: f.format(r[k]) if k in r else "-"
    for r in results:
        model = r.get("model", "lstm")
        if "error" in r:
            lines.append(
                f"| {r['backend']} | {model} | {r['impl']} | {r['hidden']} | {r['batch_size']} "
                f"| error: {r['error']} | | | | | | | | | | |"
            )
            continue
        lines.append(
            " | ".join(
                [
                    f"| {r['backend']}",
                    model,
                    r["impl"],
                    str(r["hidden"]),
                    str(r["batch_size"]),
                    f"{r['train_tokens_per_s']:,.0f}",
                    fmt(r, "vs_native", "{:.2f}"),
                    fmt(r, "vs_d2l", "{:.2f}"),
                    f"{100 * r['ceiling_fraction']:.0f}%",
                    f"{1e3 * r['step_s']:.1f}",
                    bound_ms(r),
                    f"{r['bound_fraction']:.0%}",
                    f"{r['compile_s']:.2f}",
                    f"{r['gen_tokens_per_s']:,.0f}",
                    f"{r['peak_rss_mb']:.0f}",
                    f"{r.get('device', 'cpu')} |",
                ]
            )
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(json.dumps(measure(**json.loads(sys.argv[1]))))
