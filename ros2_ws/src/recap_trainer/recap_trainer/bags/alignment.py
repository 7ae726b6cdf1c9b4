"""Align streams sampled at their own rates onto the control grid by header stamps.

A stream is held (zero-order) between messages: at step time t_k it contributes its latest
message with stamp <= t_k, whose age t_k - stamp is compared with the stream's tolerance.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass
class Stream:
    """One topic's samples: stamps_ns (N,) int64 ascending, values (N, ...) or a list of N."""

    topic: str
    stamps_ns: np.ndarray
    values: object


def clean_stamps(topic: str, stamps_ns: list[int], log_ns: list[int],
                 warn: Callable[[str, str], None]) -> tuple[np.ndarray, np.ndarray]:
    """Usable stamps and the order to take samples in.

    Zero header stamps (drivers that never set them) fall back to receive time for the whole
    topic; stamps going backwards are warned about and sorted. Returns (stamps (N,), order (N,)).
    """
    stamps = np.asarray(stamps_ns, dtype=np.int64)
    if len(stamps) and (stamps == 0).any():
        warn(f"{int((stamps == 0).sum())} of {len(stamps)} header stamps are zero; "
             "aligning this topic by receive time instead", topic)
        stamps = np.asarray(log_ns, dtype=np.int64)
    backwards = int((np.diff(stamps) < 0).sum()) if len(stamps) > 1 else 0
    if backwards:
        warn(f"header stamps go backwards {backwards} time(s); sorted by stamp", topic)
    order = np.argsort(stamps, kind="stable")
    return stamps[order], order


def step_grid(first_ns: int, last_ns: int, period_s: float) -> np.ndarray:
    """t_k = first + k * period for every t_k <= last: (T,) int64 ns."""
    if last_ns < first_ns:
        return np.zeros(0, np.int64)
    period = int(round(period_s * 1e9))
    return first_ns + period * np.arange((last_ns - first_ns) // period + 1, dtype=np.int64)


def hold(stamps_ns: np.ndarray, grid_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index (T,) of the latest sample at or before each step, -1 if none; age (T,) s, inf if none)."""
    idx = np.searchsorted(stamps_ns, grid_ns, side="right") - 1
    age = np.full(len(grid_ns), np.inf)
    ok = idx >= 0
    age[ok] = (grid_ns[ok] - stamps_ns[idx[ok]]) / 1e9
    return idx, age
