"""The positive fraction of the advantage labels by data source and outcome."""

from types import SimpleNamespace

import numpy as np

from recap_trainer.label_breakdown import format_breakdown, label_breakdown
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
