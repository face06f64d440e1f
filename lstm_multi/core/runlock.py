"""One run per folder: ``<out>/train.lock`` names the process that trains into it.

Two runs writing one folder would leave a ``history.json``, a curve and checkpoints from
different runs. The lock is an exclusive ``flock`` on the lock file, which the operating system
releases when the process ends, however it ends; the file holds the process's id, host, command
and start time, so that a second run can say who holds the folder. A lock file left by a process
that died (killed, the machine restarted) is not locked any more: the next run takes it over and
says so.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import warnings
from pathlib import Path
from typing import Any

LOCK_FILE = "train.lock"


class RunInUseError(ValueError):
    """Another process is training into the folder."""


class RunLock:
    """``with RunLock(folder, flag):`` holds ``folder`` for this process (a context manager).

    ``flag`` names the option that chose the folder in the error (``--out``, ``--resume``).
    ``parent_ok``: a lock held by this process's parent counts as this one's (the workers that
    ``lstm-multi train --workers N`` starts, whose launcher holds the folder).
    """

    def __init__(self, folder: str | Path, flag: str = "--out", parent_ok: bool = False) -> None:
        self.folder, self.flag, self.parent_ok = Path(folder), flag, parent_ok
        self.path = self.folder / LOCK_FILE
        self.fd: int | None = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read(fd)
                os.close(fd)
                if self.parent_ok and holder.get("pid") == os.getppid():
                    return  # our launcher's
                raise RunInUseError(
                    f"{self.flag} {self.folder} is in use by another run: {describe(holder)}. Wait for it to "
                    "finish (or stop it), or train into another --out."
                ) from None
            try:  # the holder may have released and removed the file between our open and flock
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        stale = _read(fd)
        if stale.get("pid") not in (None, os.getpid()):
            warnings.warn(
                f"{self.path} was left by a run that is no longer running ({describe(stale)}); taking it over",
                stacklevel=3,
            )
        me = {"pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(sys.argv), "started": _now()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        self.fd = fd

    def release(self) -> None:
        """Remove the lock file, then unlock (a run waiting on it sees the file gone and retries)."""
        if self.fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self.fd)
        self.fd = None


def describe(holder: dict[str, Any]) -> str:
    """``"pid 123 on host, since 2026-12-07 01:02:03 UTC: lstm-multi train ..."``"""
    if not holder:
        return "a process that has not yet written its name"
    return f"pid {holder.get('pid')} on {holder.get('host')}, since {holder.get('started')}: {holder.get('command')}"


def _read(fd: int) -> dict[str, Any]:
    try:
        holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
