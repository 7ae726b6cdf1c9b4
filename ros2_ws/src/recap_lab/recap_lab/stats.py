"""Confidence intervals for evaluation metrics: Wilson for rates, percentile bootstrap otherwise."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import sqrt

import numpy as np

Z_95 = 1.959963984540054  # two-sided 95 % normal quantile


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95 % confidence interval (NaN when undefined, e.g. no successes)."""

    value: float
    low: float
    high: float

    def format(self, scale: float = 1.0, digits: int = 2) -> str:
        if not np.isfinite(self.value):
            return "n/a"
        return f"{self.value * scale:.{digits}f} [{self.low * scale:.{digits}f}, {self.high * scale:.{digits}f}]"

    def to_dict(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high}


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> Estimate:
    """Wilson score interval for a binomial rate; well-behaved at 0 and n (unlike the Wald interval)."""
    if trials <= 0:
        raise ValueError(f"a rate needs at least one trial, got {trials}")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be in [0, {trials}], got {successes}")
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    # at 0 and n the exact bound is 0 / 1; the formula gives it up to rounding
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return Estimate(p, low, high)


def bootstrap_interval(samples: dict[str, np.ndarray], statistic: Callable[..., float],
                       resamples: int = 2000, seed: int = 0) -> Estimate:
    """Percentile bootstrap over units (episodes): `samples` are aligned per-unit arrays that are
    resampled together, `statistic(**resampled)` is the quantity (e.g. a ratio of sums).
    Resamples where the statistic is undefined (NaN) are dropped."""
    lengths = {len(v) for v in samples.values()}
    if len(lengths) != 1:
        raise ValueError(f"bootstrap samples must be aligned, got lengths {sorted(lengths)}")
    (n,) = lengths
    value = float(statistic(**samples)) if n else float("nan")
    if n == 0 or not np.isfinite(value):
        return Estimate(value, float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, n, size=(resamples, n))
    draws = np.array([statistic(**{k: v[i] for k, v in samples.items()}) for i in indices], dtype=float)
    draws = draws[np.isfinite(draws)]
    low, high = np.percentile(draws, [2.5, 97.5])
    return Estimate(value, float(low), float(high))
