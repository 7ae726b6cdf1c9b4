"""The episodes training reads: one or more datasets, opened lazily, sampled as (episode, t).

Only a small summary per episode (id, task, outcome, source, length) is kept for every episode;
the arrays are read from the memory-mapped episode files when a step is sampled, through an LRU
cache bounded in bytes, so datasets larger than RAM train. Episodes without images are small
(~0.3 MB for 500 steps) and are cached as owned copies: that releases their file map, so a whole
state-only dataset stays cached without holding one open file per episode. Reopening an episode
costs ~0.4 ms, which, at batch 64 over more episodes than a count-bounded cache held, was half of
a training step (docs/TRAINER.md, "Performance").

A catalog is of one robot (`robot`, a RobotLayout): datasets of different robot descriptions are
refused, and every episode's D must be the robot's.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from recap_model.robot_layout import RobotLayout, default_layout
from recap_trainer.episode import EpisodeData


@dataclass(frozen=True)
class CatalogEntry:
    """One episode of a catalog: what sampling and labelling need without loading it."""

    episode_id: str
    task: str
    outcome: str
    source: str
    iteration: int  # the loop iteration the episode was collected in (0: demonstrations)
    num_steps: int
    state_dim: int  # 0 when the episode has no env_state
    cameras: tuple[str, ...]


class EpisodeCatalog:
    """Episodes of several sequences (RecapDatasets, or plain lists of EpisodeData).

    The robot is the datasets' (their `robot`); plain lists are of `robot` (default: the simulator's
    DEFAULT_ROBOT).
    """

    def __init__(self, sources: Sequence[Sequence], cache_bytes: int = 1 << 30,
                 robot: RobotLayout | None = None) -> None:
        if cache_bytes < 0:
            raise ValueError(f"cache_bytes must be >= 0, got {cache_bytes}")
        self.robot = _one_robot(sources, robot)
        self._sources = list(sources)
        self._where: list[tuple[int, int]] = []
        self.summaries: list[CatalogEntry] = []
        self._cache: OrderedDict[int, tuple[object, int]] = OrderedDict()  # k -> (episode, bytes)
        self._cache_bytes, self._cached_bytes = cache_bytes, 0
        seen: dict[str, int] = {}
        for s, source in enumerate(self._sources):
            for i in range(len(source)):
                ep = source[i]
                if ep.episode_id in seen:
                    raise ValueError(f"episode {ep.episode_id} appears in two datasets (sources {seen[ep.episode_id]} and {s})")
                seen[ep.episode_id] = s
                if ep.qpos.shape[1] != self.robot.action_dim:
                    raise ValueError(f"episode {ep.episode_id}: qpos has {ep.qpos.shape[1]} joints, the catalog's "
                                     f"{self.robot.describe()}")
                self._where.append((s, i))
                self.summaries.append(CatalogEntry(
                    ep.episode_id, ep.task, ep.outcome, ep.source, ep.iteration, len(ep.timestamps),
                    0 if ep.env_state is None else int(ep.env_state.shape[1]), tuple(ep.images),
                ))
        if not self.summaries:
            raise ValueError("the dataset is empty: no episodes to train on")

    def __len__(self) -> int:
        return len(self.summaries)

    def episode(self, k: int):
        if k in self._cache:
            self._cache.move_to_end(k)
            return self._cache[k][0]
        s, i = self._where[k]
        ep = self._sources[s][i]
        if isinstance(ep, EpisodeData) and not ep.images and any(not a.flags.owndata for a in _arrays(ep).values()):
            ep = _owned(ep)
        size = _nbytes(ep)
        self._cache[k] = (ep, size)
        self._cached_bytes += size
        while self._cached_bytes > self._cache_bytes and len(self._cache) > 1:
            self._cached_bytes -= self._cache.popitem(last=False)[1][1]
        return ep

    @property
    def cached_episodes(self) -> int:
        return len(self._cache)

    def __iter__(self) -> Iterator:
        for k in range(len(self)):
            yield self.episode(k)

    def tasks(self) -> tuple[str, ...]:
        return tuple(sorted({s.task for s in self.summaries}))

    def select(self, keep: Callable[[CatalogEntry], bool]) -> np.ndarray:
        """Indices of the episodes to train on."""
        return np.array([k for k, s in enumerate(self.summaries) if keep(s)], dtype=np.int64)


class StepSampler:
    """Uniform over the steps of the chosen episodes: (episode index, t) pairs."""

    def __init__(self, catalog: EpisodeCatalog, episodes: np.ndarray) -> None:
        if episodes.size == 0:
            raise ValueError("no episodes left to train on after filtering")
        self.episodes = episodes
        lengths = np.array([catalog.summaries[k].num_steps for k in episodes], dtype=np.int64)
        self._ends = np.cumsum(lengths)

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        flat = rng.integers(0, self._ends[-1], size=n)
        which = np.searchsorted(self._ends, flat, side="right")
        starts = np.concatenate([[0], self._ends])[which]
        return self.episodes[which], flat - starts


def _one_robot(sources: Sequence[Sequence], robot: RobotLayout | None) -> RobotLayout:
    """The robot of all `sources` (datasets carry theirs), or a ValueError naming two that differ."""
    robots = [(getattr(src, "directory", f"source {i}"), src.robot) for i, src in enumerate(sources)
              if isinstance(getattr(src, "robot", None), RobotLayout)]
    if robot is not None:
        robots.insert(0, ("the catalog", robot))
    for where, other in robots[1:]:
        if other.description_hash != robots[0][1].description_hash:
            raise ValueError(f"cannot train on datasets of different robots: {robots[0][0]} holds "
                             f"{robots[0][1].describe()}, {where} {other.describe()}")
    return robots[0][1] if robots else default_layout()


def _arrays(ep) -> dict[str, np.ndarray]:
    fields = ("timestamps", "qpos", "env_state", "executed_action", "proposed_action", "intervention")
    return {f: getattr(ep, f) for f in fields if isinstance(getattr(ep, f, None), np.ndarray)}


def _owned(ep: EpisodeData) -> EpisodeData:
    """`ep` with its arrays copied out of the file map (views would keep the map open)."""
    return replace(ep, **{f: np.array(a) for f, a in _arrays(ep).items()})


def _nbytes(ep) -> int:
    return sum(a.nbytes for a in _arrays(ep).values()) + sum(im.nbytes for im in ep.images.values())


def open_datasets(paths: Sequence[str | Path]) -> EpisodeCatalog:
    """Catalog of the RecapDatasets at `paths` (recap_trainer.dataset)."""
    from recap_trainer.dataset import RecapDataset

    if not paths:
        raise ValueError("no dataset given")
    return EpisodeCatalog([RecapDataset(p) for p in paths])


def action_window(actions: np.ndarray, t: int, horizon: int) -> np.ndarray:
    """a_{t:t+H} (H, D); past the episode end the last action is repeated (the arm holds still)."""
    window = np.asarray(actions[t:t + horizon])
    if len(window) < horizon:
        window = np.concatenate([window, np.repeat(window[-1:], horizon - len(window), axis=0)])
    return window
