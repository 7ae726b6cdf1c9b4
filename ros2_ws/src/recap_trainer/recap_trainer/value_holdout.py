"""Which episodes the value function does not train on, so that its checks see unseen episodes.

An episode is held out when a hash of (seed, episode id) falls below the fraction: the choice
depends on nothing else, so V_pre and every V^k fine-tuned from it with the same seed hold out the
same demonstrations (V^k's checks never score an episode V_pre trained on). At least one success and
one failure are held out where the data has two or more of that outcome; an outcome is never held
out completely. Datasets smaller than `min_episodes` hold out nothing: too few episodes to spare.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from recap_core.config_errors import check_field

DEFAULT_HOLDOUT_FRACTION = 0.1


@dataclass(frozen=True)
class HoldoutConfig:
    fraction: float = DEFAULT_HOLDOUT_FRACTION  # share of episodes V does not train on; 0 = none
    seed: int = 0  # with the episode id, decides which episodes
    min_episodes: int = 10  # smaller datasets hold out nothing

    def __post_init__(self) -> None:
        name = type(self).__name__
        check_field(0.0 <= self.fraction < 0.5, name, "fraction", "must be in [0, 0.5)", self.fraction)
        check_field(self.seed >= 0, name, "seed", "must be >= 0", self.seed)
        check_field(self.min_episodes >= 2, name, "min_episodes", "must be >= 2", self.min_episodes)


@dataclass(frozen=True)
class Holdout:
    episodes: tuple[str, ...]  # held-out episode ids, sorted
    reason: str  # one line for the log: how many, or why none

    def to_dict(self) -> dict:
        return {"episodes": list(self.episodes), "reason": self.reason}


def episode_hash(seed: int, episode_id: str) -> float:
    """Uniform in [0, 1), the same on every machine and Python process (unlike hash())."""
    digest = hashlib.sha256(f"{seed}:{episode_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def choose_holdout(episodes: Sequence[tuple[str, str]], config: HoldoutConfig) -> Holdout:
    """`episodes`: (episode_id, outcome) of the episodes V could train on (success / failure)."""
    if config.fraction == 0.0:
        return Holdout((), "no episodes held out (holdout fraction 0): the value checks score training episodes")
    if len(episodes) < config.min_episodes:
        return Holdout((), f"no episodes held out: {len(episodes)} episodes, fewer than {config.min_episodes}; "
                           "the value checks score training episodes")
    chosen: set[str] = set()
    for outcome in ("success", "failure"):
        ranked = sorted((episode_hash(config.seed, eid), eid) for eid, o in episodes if o == outcome)
        if len(ranked) < 2:
            continue  # holding out the only episode of an outcome would hide it from training
        picked = [eid for h, eid in ranked if h < config.fraction][:len(ranked) - 1] or [ranked[0][1]]
        chosen.update(picked)
    if not chosen:
        return Holdout((), "no episodes held out: no outcome has two or more episodes")
    return Holdout(tuple(sorted(chosen)), f"{len(chosen)} of {len(episodes)} episodes held out from value training")
