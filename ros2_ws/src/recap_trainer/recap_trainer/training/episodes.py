"""The episodes training reads: one or more datasets, opened lazily, sampled as (episode, t).

Only a small summary per episode (id, task, outcome, source, length) stays in memory; the arrays
are read from the memory-mapped episode files when a step is sampled, through a small LRU cache
of open episodes, so datasets larger than RAM train.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np


@dataclass(frozen=True)
class EpisodeSummary:
    episode_id: str
    task: str
    outcome: str
    source: str
    length: int
    state_dim: int  # 0 when the episode has no env_state
    cameras: tuple[str, ...]


class EpisodeCatalog:
    """Episodes of several sequences (a RecapDataset, or a plain list of EpisodeData in tests)."""

    def __init__(self, sources: Sequence[Sequence], cache_size: int = 64) -> None:
        self._sources = list(sources)
        self._where: list[tuple[int, int]] = []
        self.summaries: list[EpisodeSummary] = []
        self._cache: OrderedDict[int, object] = OrderedDict()
        self._cache_size = cache_size
        seen: dict[str, int] = {}
        for s, source in enumerate(self._sources):
            for i in range(len(source)):
                ep = source[i]
                if ep.episode_id in seen:
                    raise ValueError(f"episode {ep.episode_id} appears in two datasets (sources {seen[ep.episode_id]} and {s})")
                seen[ep.episode_id] = s
                self._where.append((s, i))
                self.summaries.append(EpisodeSummary(
                    ep.episode_id, ep.task, ep.outcome, ep.source, len(ep.timestamps),
                    0 if ep.env_state is None else int(ep.env_state.shape[1]), tuple(ep.images),
                ))
        if not self.summaries:
            raise ValueError("the dataset is empty: no episodes to train on")

    def __len__(self) -> int:
        return len(self.summaries)

    def episode(self, k: int):
        if k in self._cache:
            self._cache.move_to_end(k)
            return self._cache[k]
        s, i = self._where[k]
        ep = self._sources[s][i]
        self._cache[k] = ep
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return ep

    def __iter__(self) -> Iterator:
        for k in range(len(self)):
            yield self.episode(k)

    def tasks(self) -> tuple[str, ...]:
        return tuple(sorted({s.task for s in self.summaries}))

    def select(self, keep: Callable[[EpisodeSummary], bool]) -> np.ndarray:
        """Indices of the episodes to train on."""
        return np.array([k for k, s in enumerate(self.summaries) if keep(s)], dtype=np.int64)


class StepSampler:
    """Uniform over the steps of the chosen episodes: (episode index, t) pairs."""

    def __init__(self, catalog: EpisodeCatalog, episodes: np.ndarray) -> None:
        if episodes.size == 0:
            raise ValueError("no episodes left to train on after filtering")
        self.episodes = episodes
        lengths = np.array([catalog.summaries[k].length for k in episodes], dtype=np.int64)
        self._ends = np.cumsum(lengths)

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        flat = rng.integers(0, self._ends[-1], size=n)
        which = np.searchsorted(self._ends, flat, side="right")
        starts = np.concatenate([[0], self._ends])[which]
        return self.episodes[which], flat - starts


def open_datasets(paths: Sequence[str | Path]) -> EpisodeCatalog:
    """Catalog of the RecapDatasets at `paths` (B2's recap_trainer.dataset)."""
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
