"""``prepare`` and ``train --data`` on a large generated corpus: throughput and peak memory.

    python benchmarks/large_corpus.py --size-mb 1000 --work /tmp/large

1. ``benchmarks/make_corpus.py`` writes WORK/corpus.txt (unless it is there).
2. ``lstm-multi prepare`` tokenizes it (characters, d2l's preprocessing): MB/s over the wall
   clock and over the process's CPU time (user + system, what one core gives it when the machine
   is shared), and its peak RSS.
3. ``lstm-multi train`` with the same model and batches (d2l's recipe) on The Time Machine in
   memory and with ``--data WORK/data``: peak RSS and training tokens/s (wall clock).
4. Training tokens per CPU second, the two data modules' epochs alternating in one process
   (``--rounds`` of each; the median): what reading windows from disk costs, free of the other
   work a shared machine does.

Every command runs in its own process, single-threaded (``OMP_NUM_THREADS=1``); peak RSS is the
kernel's ``ru_maxrss`` of that process (``os.wait4``). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}


def measured(command: list[str]) -> tuple[float, float, float]:
    """Run ``command``; its wall seconds, CPU seconds and peak RSS in MB (it must succeed)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode})")
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=1000)
    parser.add_argument("--work", required=True, help="a folder for the corpus, its tokens and the runs")
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5, help="alternating epochs of each data module")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / "corpus.txt"
    if not corpus.exists():
        subprocess.run(
            [sys.executable, str(HERE / "make_corpus.py"), "--size-mb", str(args.size_mb), "--out", str(corpus)],
            check=True,
        )
    cli = [sys.executable, "-m", "lstm_multi.cli"]
    megabytes = corpus.stat().st_size / 1e6
    wall, cpu, rss = measured([*cli, "prepare", str(corpus), "--out", str(work / "data"), "--no-progress"])
    rows = [
        f"| prepare, {megabytes:.0f} MB, characters (d2l) | {megabytes / wall:.1f} MB/s wall, "
        f"{megabytes / cpu:.1f} MB/s CPU | {rss:.0f} MB |"
    ]
    train = [*cli, "train", "--backend", args.backend, "--epochs", str(args.epochs), "--no-progress"]
    for name, extra in (
        ("The Time Machine, in memory", []),
        (f"--data ({megabytes:.0f} MB)", ["--data", str(work / "data")]),
    ):
        out = work / ("run-data" if extra else "run-memory")
        wall, cpu, rss = measured([*train, *extra, "--out", str(out)])
        history = json.loads((out / "history.json").read_text())
        seconds = sum(r["seconds"] for r in history)
        tokens = args.epochs * 10000 * 32  # d2l's recipe: 10000 windows of 32 characters an epoch
        rows.append(f"| train {args.backend}, {name} | {tokens / seconds:,.0f} tokens/s | {rss:.0f} MB |")
    for name, rate in alternating_epochs(work / "data", args.backend, args.rounds).items():
        rows.append(f"| training steps, {name}, CPU time | {rate:,.0f} tokens/s | |")
    print("| run | throughput | peak RSS |\n|---|---|---|")
    print("\n".join(rows))


def alternating_epochs(data_dir: Path, backend: str, rounds: int) -> dict[str, float]:
    """Median training tokens per CPU second of an epoch on The Time Machine (in memory) and on
    ``data_dir`` (read from disk), epochs alternating; the same model and batch shapes."""
    import statistics

    import lstm_multi as lm
    from lstm_multi.core.lm import build_model

    bk = lm.get_backend(backend)
    if backend == "torch":
        import torch

        torch.set_num_threads(1)
    modules = {
        "The Time Machine in memory": lm.TimeMachine(1024, 32),
        f"--data {data_dir}": lm.TokenFile(data_dir, 1024, 32),
    }
    models = {name: build_model(bk, "scratch", len(data.vocab), 32, lr=4.0) for name, data in modules.items()}
    rates: dict[str, list[float]] = {name: [] for name in modules}
    for _ in range(rounds):
        for name, data in modules.items():
            start = time.process_time()
            for X, Y in data.train_dataloader():
                models[name].training_step((X, Y), 4.0, 1.0)
            rates[name].append(data.num_train * data.num_steps / (time.process_time() - start))
    return {name: statistics.median(values) for name, values in rates.items()}


if __name__ == "__main__":
    main()
