"""Who the advantage labels call positive: the positive fraction by data source and outcome, and
by phase of the successful episodes.

Conditioning on "Advantage: positive" imitates the positive steps, so this is the first thing to
look at when a conditioned policy does something odd: failed rollouts whose steps are mostly
positive, for instance, mean the value function does not see those failures coming. Steps where a
human intervened are forced positive and counted as such.

By phase: one eps_l for all of a task's steps lets the phases whose advantages spread most take the
positive set. Monte Carlo advantages spread least near the end of an episode, where little is left
to happen; a policy conditioned on "positive" that has rarely seen the end of a successful episode
labelled so has rarely imitated how one ends (a diagnostic: docs/BRINGUP.md says what it did and
did not explain on espresso).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from recap_trainer.labels import Labels

PHASES = 5  # the successful episodes' steps are grouped by fifth of their episode
# A last phase with less than this share of the successful steps' positive fraction is named.
THIN_END_RATIO = 0.5


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


def phase_breakdown(labels: Labels, summaries: Iterable) -> list[float] | None:
    """The positive fraction of the successful episodes' steps in each fifth of their episode
    (first to last); None when no successful episode is labelled."""
    positive, steps = np.zeros(PHASES), np.zeros(PHASES)
    for summary in summaries:
        indicator = labels.indicator.get(summary.episode_id)
        if indicator is None or summary.outcome != "success" or len(indicator) == 0:
            continue
        phase = np.arange(len(indicator)) * PHASES // len(indicator)
        positive += np.bincount(phase, weights=indicator, minlength=PHASES)
        steps += np.bincount(phase, minlength=PHASES)
    if not steps.sum():
        return None
    return [float(p / n) if n else 0.0 for p, n in zip(positive, steps)]


def thin_end(shares: list[float] | None) -> str:
    """A sentence when the successful episodes' last phase is positive far less often than their
    steps overall (THIN_END_RATIO), else ""."""
    if not shares:
        return ""
    overall = sum(shares) / len(shares)
    if shares[-1] >= THIN_END_RATIO * overall:
        return ""
    return (f"few positive steps where successful episodes end: {shares[-1]:.0%} of their last fifth "
            f"against {overall:.0%} of all their steps; a policy conditioned on \"positive\" has rarely "
            "imitated how they end")


def format_phases(shares: list[float] | None) -> str:
    if shares is None:
        return "successful episodes: none labelled"
    return "successful episodes, positive by fifth of the episode: " + " ".join(f"{s:.0%}" for s in shares)
