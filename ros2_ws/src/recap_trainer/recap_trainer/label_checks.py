"""The value checks run when labelling: V on the episodes its checkpoint held out, the positive
fraction of each data source, and what to do with a verdict that is not ok (the check mode).

  warn    write the labels, log the problems (the default)
  refuse  raise ValueCheckError before anything is written
  off     no checks
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from recap_trainer.label_breakdown import data_source
from recap_trainer.labels import Labels
from recap_trainer.rewards import LabelError
from recap_trainer.value_checks import (
    EpisodeValues, ValueCheckConfig, ValueCheckReport, check_values, positive_fraction_by_outcome,
    positive_fraction_by_source,
)

log = logging.getLogger("recap.label_checks")


class ValueCheckError(LabelError):
    """Labels refused because the value function failed its checks (check mode "refuse")."""


@dataclass(frozen=True)
class LabelledEpisode:
    """What the checks need of an episode beyond its labels, recorded while it is labelled."""

    source: str  # "demo", or "<source>/iter_<k>" for data collected in iteration k
    intervention: np.ndarray  # (T,) bool: human steps, forced positive
    timestamps: np.ndarray  # (T,) seconds


def labelled_episode(episode) -> LabelledEpisode:
    return LabelledEpisode(data_source(episode), np.asarray(episode.intervention, bool),
                           np.asarray(episode.timestamps, np.float64))


def check_labels(labels: Labels, summaries: Iterable, episodes: Mapping[str, LabelledEpisode],
                 held_out: Iterable[str], config: ValueCheckConfig = ValueCheckConfig()) -> ValueCheckReport:
    """`summaries`: anything with episode_id and outcome; `held_out`: the ids V did not train on
    (the checkpoint's), scored when the data holds them, else every labelled episode is."""
    outcome = {s.episode_id: s.outcome for s in summaries}
    held = sorted(set(held_out) & set(labels.value))
    scored = held or sorted(labels.value)
    values = [EpisodeValues(eid, outcome[eid], labels.value[eid].astype(np.float64),
                            labels.returns[eid].astype(np.float64), episodes[eid].timestamps) for eid in scored]
    sft = labels.info.get("stage") == "sft"
    decided = {eid: ~ep.intervention & (not (sft and ep.source == "demo")) for eid, ep in episodes.items()
               if eid in labels.indicator}  # forced steps (humans', SFT demos) tell nothing about V
    indicator = {eid: labels.indicator[eid] for eid in decided}
    source = {eid: episodes[eid].source for eid in decided}
    sources = positive_fraction_by_source(indicator, source, decided)
    return check_values(values, "held-out" if held else "training", config,
                        tuple(s for s in sources if s.steps > 0),
                        positive_fraction_by_outcome(indicator, source, outcome, decided))


def apply_check_mode(report: ValueCheckReport, mode: str, value_dir: str) -> None:
    """Warn about or refuse labels from a value function whose verdict is not ok."""
    if mode == "off" or not report.problems:
        return
    reasons = "; ".join(report.problems)
    if mode == "refuse":
        raise ValueCheckError(f"value function {value_dir} failed its checks, labels not written: {reasons} "
                              "(--value-checks warn writes them anyway)")
    log.warning("value function %s failed its checks, its labels may be noise:\n%s", value_dir, report.summary())
