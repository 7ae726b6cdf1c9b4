"""Who the advantage labels call positive: the positive fraction by data source and outcome.

Conditioning on "Advantage: positive" imitates the positive steps, so this is the first thing to
look at when a conditioned policy does something odd: failed rollouts whose steps are mostly
positive, for instance, mean the value function does not see those failures coming. Steps where a
human intervened are forced positive and counted as such.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from recap_trainer.labels import Labels


def data_source(episode) -> str:
    """The group an episode's data came in: "demo", or "<source>/iter_<k>" for data collected in
    iteration k (anything with source and iteration)."""
    return episode.source if episode.source == "demo" else f"{episode.source}/iter_{episode.iteration}"


@dataclass(frozen=True)
class LabelGroup:
    source: str  # "demo", "rollout", ...
    outcome: str
    episodes: int
    steps: int
    positive_steps: int

    @property
    def positive_fraction(self) -> float:
        return self.positive_steps / self.steps if self.steps else 0.0


def label_breakdown(labels: Labels, summaries: Iterable) -> list[LabelGroup]:
    """Groups (source, outcome) of the labelled episodes among `summaries` (anything with
    episode_id, source and outcome), sorted by source then outcome."""
    counts: dict[tuple[str, str], list[int]] = {}
    for summary in summaries:
        indicator = labels.indicator.get(summary.episode_id)
        if indicator is None:  # left out of labelling (aborted episodes)
            continue
        group = counts.setdefault((summary.source, summary.outcome), [0, 0, 0])
        group[0] += 1
        group[1] += len(indicator)
        group[2] += int(indicator.sum())
    return [LabelGroup(source, outcome, *counts[(source, outcome)]) for source, outcome in sorted(counts)]


def format_breakdown(groups: list[LabelGroup]) -> str:
    lines = [f"{'source':<10} {'outcome':<10} {'episodes':>8} {'steps':>8} {'positive':>8}"]
    lines += [f"{g.source:<10} {g.outcome:<10} {g.episodes:>8} {g.steps:>8} {g.positive_fraction:>8.1%}" for g in groups]
    return "\n".join(lines)
