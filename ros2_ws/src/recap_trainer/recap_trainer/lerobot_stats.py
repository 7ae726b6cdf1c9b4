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
    if not len(x):
        return None
    stats = {"min": x.min(0), "max": x.max(0), "mean": x.mean(0), "std": x.std(0), "count": np.array([len(x)])}
    for key, q in zip(QUANTILE_KEYS, np.quantile(x, QUANTILES, axis=0)):
        stats[key] = q
    return stats


def sample_indices(length: int) -> np.ndarray:
    """LeRobot's frame sample for image statistics: all frames up to 100, then ~length**0.75."""
    count = max(min(100, length), min(int(length ** 0.75), 10_000))
    return np.round(np.linspace(0, length - 1, count)).astype(int)


def image_stats(frames: np.ndarray) -> Stats:
    """Per-channel statistics of (T, H, W, 3) uint8 frames on the [0, 1] scale, shape (3, 1, 1).
    Exact quantiles from the 256-bin histogram of the sampled frames."""
    sample = np.asarray(frames)[sample_indices(len(frames))]
    if max(sample.shape[1:3]) >= 300:  # LeRobot downsamples large frames before the statistics
        step = int(max(sample.shape[1:3]) / 150)
        sample = sample[:, ::step, ::step]
    pixels = sample.reshape(-1, sample.shape[-1])
    levels = np.arange(256, dtype=np.float64)
    counts = np.stack([np.bincount(pixels[:, c], minlength=256) for c in range(pixels.shape[1])])
    total = counts.sum(1, keepdims=True)
    mean = (counts * levels).sum(1) / total[:, 0]
    var = (counts * (levels - mean[:, None]) ** 2).sum(1) / total[:, 0]
    cdf = np.cumsum(counts, 1) / total
    channel = {"min": np.array([levels[c > 0][0] for c in counts]),
               "max": np.array([levels[c > 0][-1] for c in counts]), "mean": mean, "std": np.sqrt(var)}
    for key, q in zip(QUANTILE_KEYS, QUANTILES):
        channel[key] = np.array([levels[np.searchsorted(row, q)] for row in cdf])
    stats = {k: (v / 255.0).reshape(-1, 1, 1) for k, v in channel.items()}
    stats["count"] = np.array([len(sample)])
    return stats


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
