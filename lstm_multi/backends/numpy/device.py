"""The NumPy reference computes on the CPU only: ``device`` is ``cpu`` (or None)."""

from __future__ import annotations

from ...core.device import resolve_device


def place(device: str | None = None) -> str:
    """Check ``device`` (only ``"cpu"`` is valid); returns ``"cpu"``."""
    return resolve_device("numpy", device, 0, "the reference is NumPy")


def current_device() -> str:
    return "cpu"
