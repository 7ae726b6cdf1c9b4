"""Feature statistics in the form LeRobot 0.6 reads them (meta/stats.json, meta/episodes `stats/*`).

Every feature gets min, max, mean, std, count and the quantiles q01, q10, q50, q90, q99 (what
LeRobot's QUANTILES / pi0.5 normalisation asks for). Vectors: per dimension, shape (F,).
Camera frames: per RGB channel on the [0, 1] scale, shape (3, 1, 1), from an evenly spaced
sample of the episode's frames (LeRobot's sampling: 100 frames up to ~500, more beyond).
Episode statistics combine as LeRobot's `aggregate_stats` does (count-weighted mean, pooled
variance, count-weighted quantiles), so the dataset statistics equal what LeRobot's edit tools
recompute from the per-episode ones.
"""
from __future__ import annotations

from typing import Any

import numpy as np

QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
QUANTILE_KEYS = tuple(f"q{round(q * 100):02d}" for q in QUANTILES)
Stats = dict[str, np.ndarray]


def vector_stats(values: np.ndarray) -> Stats | None:
    """Statistics of (T,) or (T, F) values over the steps; NaN / inf steps are left out
    (a missing proposal), None when no step has a finite value."""
    x = np.asarray(values, np.float64)
    x = x.reshape(len(x), -1)
    x = x[np.isfinite(x).all(axis=1)]
    return _stats(x) if len(x) else None


def sample_indices(length: int) -> np.ndarray:
    """LeRobot's frame sample for image statistics: all frames up to 100, then ~length**0.75."""
    count = max(min(100, length), min(int(length ** 0.75), 10_000))
    return np.round(np.linspace(0, length - 1, count)).astype(int)


def image_stats(frames: np.ndarray) -> Stats:
    """Per-channel statistics of (T, H, W, 3) uint8 frames on the [0, 1] scale, shape (3, 1, 1)."""
    sample = np.asarray(frames)[sample_indices(len(frames))]
    if max(sample.shape[1:3]) >= 300:  # LeRobot downsamples large frames before the statistics
        step = int(max(sample.shape[1:3]) / 150)
        sample = sample[:, ::step, ::step]
    stats = _stats(sample.reshape(-1, sample.shape[-1]).astype(np.float32))
    stats = {k: (v / 255.0).reshape(-1, 1, 1) for k, v in stats.items() if k != "count"}
    stats["count"] = np.array([len(sample)])  # LeRobot weighs image statistics by frames
    return stats


def _stats(x: np.ndarray) -> Stats:
    """(N, F) -> per-column statistics; quantiles as LeRobot's RunningQuantileStats estimates them
    (a 5000-bin histogram over [min, max], interpolated within the bin)."""
    stats = {"min": x.min(0).astype(np.float64), "max": x.max(0).astype(np.float64),
             "mean": x.mean(0, dtype=np.float64), "std": x.std(0, dtype=np.float64), "count": np.array([len(x)])}
    if len(x) < 2:  # LeRobot: too few samples for quantiles, they take the mean
        quantiles = [stats["mean"]] * len(QUANTILES)
    else:
        quantiles = np.array([_histogram_quantiles(column) for column in x.T]).T
    stats.update(zip(QUANTILE_KEYS, (np.asarray(q, np.float64) for q in quantiles)))
    return stats


def _histogram_quantiles(column: np.ndarray, bins: int = 5000) -> list[float]:
    edges = np.linspace(column.min() - 1e-10, column.max() + 1e-10, bins + 1)
    cumsum = np.cumsum(np.histogram(column, bins=edges)[0])
    out = []
    for q in QUANTILES:
        target = q * len(column)
        i = int(np.searchsorted(cumsum, target))
        if i == 0 or i >= len(cumsum):
            out.append(float(edges[0] if i == 0 else edges[-1]))
            continue
        in_bin = cumsum[i] - cumsum[i - 1]
        fraction = 0.0 if in_bin == 0 else (target - cumsum[i - 1]) / in_bin
        out.append(float(edges[i] + fraction * (edges[i + 1] - edges[i])))
    return out


def aggregate(per_episode: list[Stats]) -> Stats:
    """Dataset statistics from episode statistics (LeRobot's aggregate_feature_stats)."""
    counts = np.stack([s["count"] for s in per_episode]).astype(np.float64)
    means = np.stack([s["mean"] for s in per_episode])
    weights = counts.reshape(counts.shape + (1,) * (means.ndim - counts.ndim))
    total = counts.sum(0)
    mean = (means * weights).sum(0) / total
    variances = np.stack([s["std"] ** 2 for s in per_episode])
    var = ((variances + (means - mean) ** 2) * weights).sum(0) / total
    out = {"min": np.min([s["min"] for s in per_episode], 0), "max": np.max([s["max"] for s in per_episode], 0),
           "mean": mean, "std": np.sqrt(var), "count": total.astype(np.int64)}
    for key in QUANTILE_KEYS:
        out[key] = (np.stack([s[key] for s in per_episode]) * weights).sum(0) / total
    return out


def aggregate_features(episodes: list[dict[str, Stats]]) -> dict[str, Stats]:
    """{feature: stats} over all episodes; a feature counts the episodes that have it."""
    keys = sorted({k for ep in episodes for k in ep})
    return {k: aggregate([ep[k] for ep in episodes if k in ep]) for k in keys}


def to_lists(stats: dict[str, Stats]) -> dict[str, dict[str, Any]]:
    """JSON / parquet form: nested lists (images keep their (3, 1, 1) shape)."""
    return {feature: {k: np.asarray(v).tolist() for k, v in s.items()} for feature, s in stats.items()}


def episode_columns(stats: dict[str, Stats]) -> dict[str, Any]:
    """meta/episodes columns `stats/<feature>/<stat>` (LeRobot's flatten_dict of {"stats": ...})."""
    return {f"stats/{feature}/{k}": v for feature, s in to_lists(stats).items() for k, v in s.items()}
