"""Report figures are written as PNG files and refuse empty or ragged input."""

from __future__ import annotations

import numpy as np
import pytest

from recap_lab.plots import (ValueTrace, plot_advantage_histogram, plot_method_comparison, plot_success_by_bin,
                             plot_throughput_by_seed, plot_value_over_time)
from recap_lab.stats import Estimate

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_value_over_time_with_interventions_is_a_png(tmp_path):
    t = np.arange(100) * 0.02
    intervention = np.zeros(100, dtype=bool)
    intervention[30:50] = True
    intervention[80:] = True  # a run that lasts to the end
    traces = [ValueTrace("ep a (success)", t, -1 + t / 2, intervention, returns=-1 + t / 2.2),
              ValueTrace("ep b (failure)", t, -0.5 - t / 4, np.zeros(100, dtype=bool))]
    path = plot_value_over_time(traces, tmp_path / "sub" / "value.png", title="values")
    assert path.read_bytes().startswith(PNG_MAGIC)
    with pytest.raises(ValueError):
        plot_value_over_time([], tmp_path / "none.png")


def test_advantage_histogram_and_comparison_are_pngs(tmp_path):
    advantages = np.random.default_rng(0).normal(size=1000)
    assert plot_advantage_histogram(advantages, 0.5, tmp_path / "adv.png").read_bytes().startswith(PNG_MAGIC)
    with pytest.raises(ValueError):
        plot_advantage_histogram(np.array([]), 0.0, tmp_path / "empty.png")
    estimates = [Estimate(0.5, 0.4, 0.6), Estimate(float("nan"), float("nan"), float("nan"))]
    path = plot_method_comparison(["bc", "recap"], estimates, estimates, tmp_path / "cmp.png")
    assert path.read_bytes().startswith(PNG_MAGIC)
    with pytest.raises(ValueError):
        plot_method_comparison(["bc"], estimates, estimates, tmp_path / "bad.png")


def test_throughput_by_seed_is_a_png_and_refuses_ragged_rows(tmp_path):
    rows = [[Estimate(600, 570, 640), Estimate(970, 930, 1010)], [Estimate(610, 575, 650), None]]
    path = plot_throughput_by_seed(["bc", "recap"], [0, 1], rows, tmp_path / "seeds.png")
    assert path.read_bytes().startswith(PNG_MAGIC)
    with pytest.raises(ValueError):
        plot_throughput_by_seed(["bc", "recap"], [0, 1], [rows[0], rows[1][:1]], tmp_path / "ragged.png")


def test_success_by_bin_is_a_png_and_refuses_ragged_rows(tmp_path):
    nan = Estimate(float("nan"), float("nan"), float("nan"))
    rows = [[Estimate(0.6, 0.5, 0.7), nan], [Estimate(0.2, 0.1, 0.3), Estimate(0.9, 0.8, 0.95)]]
    path = plot_success_by_bin(["pi^0", "pi^2"], ["0.04", "0.11"], rows, tmp_path / "bins.png", xlabel="cup_x")
    assert path.read_bytes().startswith(PNG_MAGIC)
    with pytest.raises(ValueError):
        plot_success_by_bin(["pi^0", "pi^2"], ["0.04", "0.11"], [rows[0], rows[1][:1]], tmp_path / "ragged.png",
                            xlabel="cup_x")
