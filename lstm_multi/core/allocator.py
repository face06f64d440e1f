"""glibc's malloc, tuned for training: keep large buffers mapped from one batch to the next.

glibc serves every allocation above its mmap threshold (128 KiB, growing dynamically up to
32 MiB on 64-bit) with a fresh ``mmap`` and returns it with ``munmap`` when freed. A training
step at h 256, batch 1024 allocates and frees (T*B, 4h) buffers of 32 MiB and more every batch,
so each batch page-faults them in again, zeroed by the kernel: measured on an AMD EPYC, one
torch LM step went from 303 to 167 ms for ``nn.LSTM`` with the thresholds raised. PyTorch's CPU
performance guide makes the same point (it suggests jemalloc or tcmalloc).

:func:`tune_malloc` raises ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` to 1 GiB with
``mallopt``, so freed buffers stay in the heap and are reused. It is called once when a
backend is imported (:func:`lstm_multi.get_backend`), does nothing where the C library is
not glibc or another allocator is preloaded (``LD_PRELOAD`` jemalloc / tcmalloc), and is
switched off with ``LSTM_MULTI_MALLOC=default``. The cost: memory freed by the program stays
with the process (its RSS does not shrink after a large batch).
"""

from __future__ import annotations

import ctypes
import os
import platform

ENV_VAR = "LSTM_MULTI_MALLOC"
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>
THRESHOLD = 1 << 30

#: what :func:`tune_malloc` did: None before it ran, else "tuned" or why not.
status: str | None = None


def tune_malloc() -> str:
    """Raise glibc's mmap and trim thresholds (once per process); returns what it did."""
    global status
    if status is not None:
        return status
    choice = os.environ.get(ENV_VAR, "tuned").strip().lower()
    if choice not in ("tuned", "default"):
        raise ValueError(f"{ENV_VAR} must be 'tuned' or 'default', got {choice!r}.")
    preloaded = os.environ.get("LD_PRELOAD", "")
    if choice == "default":
        status = f"default ({ENV_VAR}=default)"
    elif platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        status = "default (not glibc)"
    elif "jemalloc" in preloaded or "tcmalloc" in preloaded:
        status = "default (another allocator is preloaded)"
    else:
        libc = ctypes.CDLL(None)
        ok = libc.mallopt(M_MMAP_THRESHOLD, THRESHOLD) == 1 and libc.mallopt(M_TRIM_THRESHOLD, THRESHOLD) == 1
        status = "tuned" if ok else "default (mallopt refused)"
    return status
