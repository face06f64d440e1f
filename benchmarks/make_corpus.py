"""A large text for ``lstm-multi prepare`` and ``train --data``, made from the bundled Time Machine.

Each copy of the book has its paragraphs in a seeded random order and, in a seeded tenth of them,
a few words replaced by other words of the book, so the corpus is not one text repeated (a
model cannot learn it by heart) and its vocabulary stays the book's. The same seed and size
give the same file.

    python benchmarks/make_corpus.py --size-mb 1000 --out /tmp/corpus.txt
"""

from __future__ import annotations

import argparse
import re

import numpy as np

from lstm_multi.core.data import read_time_machine


def copies(seed: int):
    """Endless copies of the book, each changed as the module says."""
    book = read_time_machine()
    paragraphs = book.split("\n\n")
    words = sorted(set(re.findall(r"[A-Za-z]+", book)))
    rng = np.random.default_rng(seed)
    number = 0
    while True:
        number += 1
        changed = []
        for index in rng.permutation(len(paragraphs)):
            paragraph = paragraphs[index]
            if rng.random() < 0.1:
                tokens = paragraph.split(" ")
                for position in rng.integers(0, len(tokens), size=3):
                    tokens[position] = words[rng.integers(len(words))]
                paragraph = " ".join(tokens)
            changed.append(paragraph)
        yield f"Copy {number}\n\n" + "\n\n".join(changed) + "\n\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=1000, help="the file's size in MB (10^6 bytes), at least")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    target, written = int(args.size_mb * 1e6), 0
    with open(args.out, "w", encoding="utf-8") as f:
        for text in copies(args.seed):
            if written >= target:
                break
            written += f.write(text)  # characters: the book is ASCII but for a few, so about bytes
    print(f"wrote {args.out}: {written / 1e6:.1f} M characters")


if __name__ == "__main__":
    main()
