"""n-step advantages, the per-task threshold eps_l and the indicator I_t (RECAP.md).

A_t = sum_{t'=t}^{t+N-1} r_t' + V(o_{t+N}) - V(o_t), truncated at the end of t's segment (then
nothing is bootstrapped: the terminal reward is in the sum). N = None is the Monte Carlo
advantage R_t - V(o_t) used in pre-training. All quantities normalised (see rewards.py).
"""

from __future__ import annotations

import numpy as np


def n_step_advantages(rewards: np.ndarray, values: np.ndarray, segment_end: np.ndarray, n: int | None) -> np.ndarray:
    """rewards, values, segment_end: (T,) -> A: (T,)."""
    length = len(rewards)
    if values.shape != (length,) or segment_end.shape != (length,):
        raise ValueError(f"shape mismatch: rewards {rewards.shape}, values {values.shape}, segment_end {segment_end.shape}")
    if n is not None and n <= 0:
        raise ValueError(f"n-step horizon must be positive, got {n}")
    t = np.arange(length)
    cum = np.concatenate([[0.0], np.cumsum(rewards)])
    horizon = segment_end if n is None else np.minimum(t + n, segment_end)
    bootstrap = np.where(horizon < segment_end, values[np.minimum(horizon, length - 1)], 0.0)
    return cum[horizon] - cum[t] + bootstrap - values


def threshold_for_fraction(advantages: np.ndarray, positive_fraction: float) -> float:
    """eps such that about `positive_fraction` of `advantages` are > eps (a percentile)."""
    if not 0.0 < positive_fraction < 1.0:
        raise ValueError(f"positive_fraction must be in (0, 1), got {positive_fraction}")
    if advantages.size == 0:
        raise ValueError("no advantages to set a threshold on")
    return float(np.quantile(advantages, 1.0 - positive_fraction))
