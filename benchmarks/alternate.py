"""Scratch against native in one process: the LM's training step, timed in alternation.

    python benchmarks/alternate.py --backend tensorflow --hidden 32 --batch-size 32
    python benchmarks/alternate.py --backend tensorflow --impls concise scratch scratch-xla --hidden 256

`lstm-multi bench` times each configuration in a process of its own; on a small shared VM
two processes of the same code land up to 30% apart at 5 ms steps, more than the 5% a
"scratch at least 0.95 of native" goal asks about. Here every implementation is built in
one process, warmed up, then timed round after round in turn (``--steps`` steps each), so
that a slow minute slows them all. Reported per implementation: the best and the median
of the rounds' median step, and native's best over its best ("of native"; above 1 is
faster). ``scratch-xla`` is TensorFlow's scratch cell with ``jit_compile=True``.
Nothing here is a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from lstm_multi import get_backend
from lstm_multi.bench import build
from lstm_multi.core.data import TimeMachine
from lstm_multi.core.optim import SGD


def step_function(bk, impl: str, vocab: int, hidden: int, batch):
    """One SGD training step of a new LM of ``impl``, warmed up (compiled) on ``batch``."""
    model = build(bk, "scratch" if impl == "scratch-xla" else impl, vocab, hidden)
    if impl == "scratch-xla":
        model.rnn.jit_compile = True  # before the first step compiles
    optimizer = SGD(1.0)

    def step():
        model.training_step(batch, optimizer, 1.0)

    step()
    step()
    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="tensorflow")
    parser.add_argument(
        "--impls", nargs="+", default=["concise", "scratch"], choices=["concise", "scratch", "scratch-xla"]
    )
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--num-steps", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per implementation and round")
    args = parser.parse_args(argv)
    if "scratch-xla" in args.impls and args.backend != "tensorflow":
        parser.error("scratch-xla is TensorFlow's scratch cell with jit_compile=True")
    bk = get_backend(args.backend)
    data = TimeMachine(args.batch_size, args.num_steps, num_train=args.batch_size, num_val=0)
    batch = next(iter(data.train_dataloader()))
    steps = {impl: step_function(bk, impl, len(data.vocab), args.hidden, batch) for impl in args.impls}
    rounds: dict[str, list[float]] = {impl: [] for impl in args.impls}
    for _ in range(args.rounds):
        for impl, step in steps.items():
            times = []
            for _ in range(args.steps):
                start = time.perf_counter()
                step()
                times.append(time.perf_counter() - start)
            rounds[impl].append(statistics.median(times))
    native = min(rounds["concise"]) if "concise" in rounds else None
    print(f"{args.backend}, h {args.hidden}, batch {args.batch_size}, {args.num_steps} steps, {args.rounds} rounds")
    print("| impl | best ms | median ms | of native |")
    print("|---|---|---|---|")
    for impl, values in rounds.items():
        ratio = f"{native / min(values):.2f}" if native else "-"
        print(f"| {impl} | {min(values) * 1e3:.2f} | {statistics.median(values) * 1e3:.2f} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
