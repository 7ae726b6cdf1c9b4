"""The positive fraction of the advantage labels by data source and outcome, and by phase of the
successful episodes."""

from types import SimpleNamespace

import numpy as np

from recap_trainer.label_breakdown import format_breakdown, format_phases, label_breakdown, phase_breakdown, thin_end
from recap_trainer.labels import Labels


def _labels(indicators: dict[str, list[int]]) -> Labels:
    indicator = {ep: np.array(flags, bool) for ep, flags in indicators.items()}
    zeros = {ep: np.zeros(len(flags)) for ep, flags in indicator.items()}
    return Labels(advantage=zeros, indicator=indicator, value=zeros, returns=zeros, thresholds={"t": 0.0}, info={})


def test_groups_count_steps_and_positives_per_source_and_outcome():
    labels = _labels({"d0": [1, 1, 0, 0], "d1": [1, 0], "r0": [0, 0, 0, 1], "r1": [1, 1, 1, 1]})
    summaries = [SimpleNamespace(episode_id="d0", source="demo", outcome="success"),
                 SimpleNamespace(episode_id="d1", source="demo", outcome="success"),
                 SimpleNamespace(episode_id="r0", source="rollout", outcome="failure"),
                 SimpleNamespace(episode_id="r1", source="rollout", outcome="success"),
                 SimpleNamespace(episode_id="aborted", source="rollout", outcome="abort")]  # not labelled
    groups = label_breakdown(labels, summaries)
    assert [(g.source, g.outcome, g.episodes, g.steps, g.positive_steps) for g in groups] == [
        ("demo", "success", 2, 6, 3), ("rollout", "failure", 1, 4, 1), ("rollout", "success", 1, 4, 4)]
    assert [g.positive_fraction for g in groups] == [0.5, 0.25, 1.0]
    table = format_breakdown(groups).splitlines()
    assert len(table) == 4 and table[2].split() == ["rollout", "failure", "1", "4", "25.0%"]


def test_no_labelled_episodes_give_an_empty_breakdown():
    assert label_breakdown(_labels({}), [SimpleNamespace(episode_id="x", source="demo", outcome="success")]) == []


def test_successful_episodes_are_split_into_fifths_of_their_own_length():
    # s0: 10 steps, positive in its first 4 (fifths 1-2); s1: 5 steps, positive only in its last;
    # the failed episode and the unlabelled one do not count
    labels = _labels({"s0": [1, 1, 1, 1, 0, 0, 0, 0, 0, 0], "s1": [0, 0, 0, 0, 1], "f0": [1, 1, 1, 1, 1]})
    summaries = [SimpleNamespace(episode_id="s0", source="demo", outcome="success"),
                 SimpleNamespace(episode_id="s1", source="rollout", outcome="success"),
                 SimpleNamespace(episode_id="f0", source="demo", outcome="failure"),
                 SimpleNamespace(episode_id="gone", source="demo", outcome="success")]
    shares = phase_breakdown(labels, summaries)
    assert shares == [2 / 3, 2 / 3, 0.0, 0.0, 1 / 3]
    assert format_phases(shares) == "successful episodes, positive by fifth of the episode: 67% 67% 0% 0% 33%"
    assert thin_end(shares) == ""  # 33 % at the end against 33 % overall
    assert phase_breakdown(labels, summaries[2:]) is None and format_phases(None).endswith("none labelled")


def test_a_thin_end_is_named_only_below_half_the_overall_share():
    assert thin_end([0.6, 0.55, 0.31, 0.13, 0.04]).startswith(
        "few positive steps where successful episodes end: 4% of their last fifth against 33% of all their steps")
    assert thin_end([0.66, 0.65, 0.6, 0.57, 0.74]) == ""
    assert thin_end([0.4, 0.4, 0.4, 0.4, 0.2]) == ""  # 20 % against 36 %: above half, not named
    assert thin_end(None) == ""
