"""Confidence intervals: Wilson for rates, percentile bootstrap for ratios of sums."""

from __future__ import annotations

import numpy as np
import pytest

from recap_lab.stats import bootstrap_interval, wilson_interval


def test_wilson_matches_reference_values():
    # 8 of 10: the textbook Wilson 95 % interval is [0.490, 0.943]
    estimate = wilson_interval(8, 10)
    assert estimate.value == 0.8
    assert estimate.low == pytest.approx(0.4902, abs=1e-4) and estimate.high == pytest.approx(0.9433, abs=1e-4)


def test_wilson_stays_inside_zero_one_at_the_edges():
    none, every = wilson_interval(0, 200), wilson_interval(200, 200)
    assert none.low == 0.0 and 0 < none.high < 0.03
    assert every.high == 1.0 and 0.97 < every.low < 1.0


@pytest.mark.parametrize("successes, trials", [(1, 0), (-1, 5), (6, 5)])
def test_wilson_rejects_impossible_counts(successes, trials):
    with pytest.raises(ValueError):
        wilson_interval(successes, trials)


def test_bootstrap_covers_the_true_mean_and_shrinks_with_n():
    rng = np.random.default_rng(0)
    small = bootstrap_interval({"x": rng.normal(5.0, 1.0, 50)}, lambda x: x.mean())
    large = bootstrap_interval({"x": rng.normal(5.0, 1.0, 2000)}, lambda x: x.mean())
    assert small.low < 5.0 < small.high and large.low < 5.0 < large.high
    assert large.high - large.low < (small.high - small.low) / 3


def test_bootstrap_resamples_aligned_arrays_together():
    # ratio of sums; if the arrays were resampled independently the ratio would vary widely
    a = np.arange(1.0, 101.0)
    estimate = bootstrap_interval({"a": a, "b": 2 * a}, lambda a, b: a.sum() / b.sum())
    assert estimate.value == estimate.low == estimate.high == pytest.approx(0.5)


def test_bootstrap_of_undefined_statistic_is_nan():
    estimate = bootstrap_interval({"x": np.zeros(10)}, lambda x: float("nan"))
    assert np.isnan(estimate.value) and np.isnan(estimate.low)
    with pytest.raises(ValueError, match="aligned"):
        bootstrap_interval({"a": np.zeros(3), "b": np.zeros(4)}, lambda a, b: 0.0)
