"""The RECAP training dataset: one memory-mapped Arrow IPC file per episode plus `manifest.json`.

Filled by the bag converter, the ALOHA HDF5 importer and in-process data generation
(`DatasetWriter`); read by labelling and training (`RecapDataset`). Layout of a dataset dir:

    manifest.json            config + hash, ingested sources, one summary per episode
    episodes/<id>.arrow      one record batch, one row per step (see dataset_arrow.py)

Reading never loads a whole dataset: the manifest indexes episodes and steps, episode files are
memory-mapped on first use (a bounded LRU of open maps), so peak memory does not grow with the
number of episodes and a dataset larger than RAM trains (the OS pages frames in and out).
"""

from __future__ import annotations

import fcntl
import os
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recap_core.output_files import OutputError, check_output_dir

from recap_trainer.dataset_arrow import read_episode_file, write_episode_file
from recap_model.robot_layout import RobotLayout
from recap_trainer.dataset_manifest import (
    MANIFEST_NAME, DatasetConfig, DatasetError, EpisodeSummary, Manifest, check_robot,
)
from recap_trainer.episode import OUTCOMES, SOURCES, EpisodeData, EpisodeError

__all__ = ["OUTCOMES", "SOURCES", "DatasetConfig", "DatasetError", "DatasetWriter",
           "EpisodeData", "EpisodeError", "EpisodeSummary", "FeatureStats", "RecapDataset",
           "check_dataset_output"]

EPISODES_DIR = "episodes"
LOCK_NAME = ".lock"


def check_dataset_output(directory: str | Path, what: str = "--out") -> Path:
    """A dataset output must be a dataset (appended to), an empty directory or a new path; an
    existing file or a directory holding anything else is refused before any work starts."""
    directory = Path(directory)
    if (directory / MANIFEST_NAME).is_file():
        return directory
    try:
        return check_output_dir(directory, what=what)
    except OutputError as error:
        if directory.is_dir():
            raise OutputError(f"{what} {directory} is not a RECAP dataset (no {MANIFEST_NAME}) and not empty; "
                              "choose a new directory") from error
        raise


class DatasetWriter:
    """Appends validated episodes to a dataset directory (created if missing).

    An existing dataset keeps its config: passing a different `config` raises (its hash differs;
    another robot description first, naming both), so a converter run with other settings cannot
    silently mix into an old dataset. Every episode's D must be the robot's.
    Appends are incremental: `is_ingested(origin)` tells whether a source (bag, file) was already
    converted; `mark_ingested(origin)` records it once all its episodes are appended.
    Concurrent writers on one directory are serialised with a lock file. `remove_if_unused()`
    takes back what this writer created when nothing was appended (a failed first build).
    """

    def __init__(self, directory: str | Path, config: DatasetConfig | None = None) -> None:
        self.directory = Path(directory)
        self._created = [p for p in (self.directory, *self.directory.parents) if not p.exists()]
        self._created += [p for p in (self.directory / n for n in (EPISODES_DIR, LOCK_NAME, MANIFEST_NAME))
                          if not p.exists()]
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / EPISODES_DIR).mkdir(exist_ok=True)
        with self._locked():
            if (self.directory / MANIFEST_NAME).exists():
                manifest = Manifest.load(self.directory)
                if config is not None:
                    check_robot(self.directory, manifest.config, config.robot)
                if config is not None and config.hash != manifest.config.hash:
                    raise DatasetError(
                        f"{self.directory}: the dataset was built with other settings "
                        f"({config_differences(manifest.config, config)}); write to a new directory")
            else:
                manifest = Manifest(config=config or DatasetConfig())
                manifest.save(self.directory)
        self.config = manifest.config

    def remove_if_unused(self) -> None:
        """Remove the files and directories this writer created if the dataset holds no episode and
        no ingested source, so that a failed first build does not block a retry with other
        settings. Nothing that existed before this writer is touched."""
        with self._locked():
            manifest = Manifest.load(self.directory)
            if manifest.episodes or manifest.sources:
                return
        for path in self._created:  # files first, then directories from the innermost out
            if path.is_file():
                path.unlink(missing_ok=True)
        for path in sorted((p for p in self._created if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            if not any(path.iterdir()):
                path.rmdir()

    def append(self, episode: EpisodeData, origin: str | None = None) -> EpisodeSummary:
        """Write `episode` atomically and add it to the manifest. `origin`: e.g. the bag path."""
        if not isinstance(episode, EpisodeData):
            raise TypeError(f"append expects EpisodeData, got {type(episode).__name__}")
        with self._locked():
            manifest = Manifest.load(self.directory)  # another writer may have appended meanwhile
            self._check_compatible(manifest, episode)
            relative = f"{EPISODES_DIR}/{episode.episode_id}.arrow"
            target = self.directory / relative
            temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            try:
                write_episode_file(temp, episode)
                os.replace(temp, target)
            finally:
                temp.unlink(missing_ok=True)
            summary = EpisodeSummary(
                episode_id=episode.episode_id, file=relative, task=episode.task,
                outcome=episode.outcome, source=episode.source, iteration=episode.iteration,
                num_steps=episode.num_steps, num_interventions=int(episode.intervention.sum()),
                duration_s=float(episode.timestamps[-1] - episode.timestamps[0]),
                state_dim=episode.state_dim, origin=origin)
            manifest.episodes.append(summary)
            manifest.save(self.directory)
        return summary

    def mark_ingested(self, origin: str) -> None:
        with self._locked():
            manifest = Manifest.load(self.directory)
            if origin not in manifest.sources:
                manifest.sources.append(origin)
                manifest.save(self.directory)

    def is_ingested(self, origin: str) -> bool:
        return origin in Manifest.load(self.directory).sources

    @property
    def ingested_sources(self) -> tuple[str, ...]:
        return tuple(Manifest.load(self.directory).sources)

    @property
    def episode_ids(self) -> list[str]:
        return [e.episode_id for e in Manifest.load(self.directory).episodes]

    def _check_compatible(self, manifest: Manifest, episode: EpisodeData) -> None:
        name = f"{self.directory}: episode {episode.episode_id!r}"
        if any(e.episode_id == episode.episode_id for e in manifest.episodes):
            raise DatasetError(f"{name} is already in the dataset (episode ids must be unique)")
        config = manifest.config
        if episode.action_dim != config.robot.action_dim:
            raise DatasetError(f"{name} has {episode.action_dim} joints, the dataset holds "
                               f"{config.robot.describe()}: {list(config.robot.joint_names)}")
        if set(episode.images) != set(config.cameras):
            raise DatasetError(f"{name} has cameras {sorted(episode.images)}, dataset expects "
                               f"{list(config.cameras)}")
        for camera, frames in episode.images.items():
            if tuple(frames.shape[1:3]) != config.image_size:
                raise DatasetError(f"{name}: camera {camera!r} frames are {frames.shape[1:3]}, "
                                   f"dataset image_size is {config.image_size}")
        for other in manifest.episodes:
            if other.task == episode.task and other.state_dim != episode.state_dim:
                raise DatasetError(f"{name} has env_state dim {episode.state_dim}, but task "
                                   f"{episode.task!r} already has dim {other.state_dim} "
                                   f"(episode {other.episode_id!r})")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.directory / LOCK_NAME, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def config_differences(existing: DatasetConfig, wanted: DatasetConfig) -> str:
    """'extra.converter.joint_tolerance_s: 0.05 in the dataset, 0.1 here; ...' (hashes left out)."""
    def flat(data: Any, prefix: str = "") -> dict[str, Any]:
        if isinstance(data, dict):
            return {k: v for key, value in data.items() for k, v in flat(value, f"{prefix}{key}.").items()}
        return {prefix.rstrip("."): data}

    old, new = flat(existing.to_dict()), flat(wanted.to_dict())
    keys = [k for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k) and not k.endswith("_hash")]
    return "; ".join(f"{k}: {old.get(k, 'absent')} in the dataset, {new.get(k, 'absent')} here" for k in keys)


@dataclass(frozen=True)
class FeatureStats:
    """Per-dimension statistics of one feature, for normalisation (saved with checkpoints)."""

    mean: np.ndarray  # (F,)
    std: np.ndarray  # (F,) population std
    min: np.ndarray  # (F,)
    max: np.ndarray  # (F,)
    count: int  # steps it was computed over

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "min": self.min.tolist(),
                "max": self.max.tolist(), "count": self.count}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureStats:
        return cls(**{k: np.asarray(data[k], dtype=np.float64) for k in ("mean", "std", "min", "max")},
                   count=int(data["count"]))


class RecapDataset:
    """Lazy, memory-mapped read access to a dataset directory.

    Episode-level: `len`, iteration, `ds[i]` -> EpisodeData (read-only views into the map),
    `summaries`, `episodes_by_task()`. Step-level (training): `num_steps`, `locate(k)`,
    `sample(k, horizon)` -> one observation and its H-step executed action chunk.
    `tasks` restricts the view to some tasks; an empty selection raises unless `allow_empty`.
    """

    def __init__(self, directory: str | Path, tasks: Sequence[str] | None = None,
                 allow_empty: bool = False, max_open_episodes: int = 64) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise DatasetError(f"{self.directory}: dataset directory does not exist")
        manifest = Manifest.load(self.directory)
        self.config: DatasetConfig = manifest.config
        self.robot: RobotLayout = manifest.config.robot
        self.sources: tuple[str, ...] = tuple(manifest.sources)
        wanted = None if tasks is None else set(tasks)
        self.summaries: tuple[EpisodeSummary, ...] = tuple(
            e for e in manifest.episodes if wanted is None or e.task in wanted)
        if not self.summaries and not allow_empty:
            which = "" if wanted is None else f" for tasks {sorted(wanted)}"
            raise DatasetError(f"{self.directory}: dataset has no episodes{which}")
        lengths = np.array([e.num_steps for e in self.summaries], dtype=np.int64)
        # step_offsets[i] = global index of episode i's first step (len = episodes + 1)
        self.step_offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self._max_open = max(1, int(max_open_episodes))
        self._open: OrderedDict[int, EpisodeData] = OrderedDict()

    # --- episodes -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.summaries)

    def __getitem__(self, index: int) -> EpisodeData:
        if not -len(self) <= index < len(self):
            raise IndexError(f"{self.directory}: episode index {index} out of range ({len(self)} episodes)")
        index %= len(self)
        if index in self._open:
            self._open.move_to_end(index)
            return self._open[index]
        summary = self.summaries[index]
        path = self.directory / summary.file
        if not path.is_file():
            raise DatasetError(f"{self.directory}: episode {summary.episode_id!r} file {path} is missing")
        try:
            episode = read_episode_file(path)
        except EpisodeError as error:
            raise DatasetError(f"{path}: {error}") from error
        if episode.episode_id != summary.episode_id or episode.num_steps != summary.num_steps:
            raise DatasetError(f"{path}: file holds episode {episode.episode_id!r} with {episode.num_steps} "
                               f"steps, manifest says {summary.episode_id!r} with {summary.num_steps}")
        if episode.action_dim != self.robot.action_dim:
            raise DatasetError(f"{path}: episode has {episode.action_dim} joints, the dataset holds "
                               f"{self.robot.describe()}")
        self._open[index] = episode
        while len(self._open) > self._max_open:
            self._open.popitem(last=False)  # views handed out earlier keep their map alive
        return episode

    def __iter__(self) -> Iterator[EpisodeData]:
        for index in range(len(self)):
            yield self[index]

    def episode(self, episode_id: str) -> EpisodeData:
        for index, summary in enumerate(self.summaries):
            if summary.episode_id == episode_id:
                return self[index]
        raise KeyError(f"{self.directory}: no episode {episode_id!r}")

    def episodes_by_task(self) -> dict[str, list[int]]:
        """task -> indices (into this dataset) of its episodes, in manifest order."""
        groups: dict[str, list[int]] = {}
        for index, summary in enumerate(self.summaries):
            groups.setdefault(summary.task, []).append(index)
        return groups

    # --- steps --------------------------------------------------------------------------------
    @property
    def num_steps(self) -> int:
        return int(self.step_offsets[-1])

    def locate(self, step: int) -> tuple[int, int]:
        """Global step index k -> (episode index, t within the episode)."""
        if not 0 <= step < self.num_steps:
            raise IndexError(f"{self.directory}: step {step} out of range ({self.num_steps} steps)")
        episode = int(np.searchsorted(self.step_offsets, step, side="right")) - 1
        return episode, int(step - self.step_offsets[episode])

    def sample(self, step: int, horizon: int) -> dict[str, Any]:
        """One training sample: the observation at step k and the executed chunk a_{t:t+H}.

        Returns episode_index, t, task, qpos (D,), env_state (S,) or None, images {cam: (H_img, W_img, 3)},
        actions (H, D) (past the episode end the last action repeats), action_is_pad (H,) bool,
        intervention (bool, at t). Arrays are copies, safe to hand to torch.
        """
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        index, t = self.locate(step)
        episode = self[index]
        end = min(t + horizon, episode.num_steps)
        actions = np.empty((horizon, episode.action_dim), dtype=np.float64)
        actions[: end - t] = episode.executed_action[t:end]
        actions[end - t:] = episode.executed_action[end - 1]
        pad = np.arange(horizon) >= end - t
        return {"episode_index": index, "t": t, "task": episode.task,
                "qpos": np.array(episode.qpos[t]),
                "env_state": None if episode.env_state is None else np.array(episode.env_state[t]),
                "images": {cam: np.array(frames[t]) for cam, frames in episode.images.items()},
                "actions": actions, "action_is_pad": pad, "intervention": bool(episode.intervention[t])}

    # --- statistics ---------------------------------------------------------------------------
    def stats(self) -> dict[str, FeatureStats]:
        """Normalisation statistics over all steps: `qpos`, `executed_action`, and
        `env_state/<task>` per task (state dims differ between tasks). One streaming pass."""
        sums: dict[str, list[Any]] = {}
        for episode in self:
            features = {"qpos": episode.qpos, "executed_action": episode.executed_action}
            if episode.env_state is not None:
                features[f"env_state/{episode.task}"] = episode.env_state
            for key, values in features.items():
                acc = sums.setdefault(key, [0, 0.0, 0.0, np.inf, -np.inf])
                acc[0] += len(values)
                acc[1] = acc[1] + values.sum(axis=0)
                acc[2] = acc[2] + np.square(values).sum(axis=0)
                acc[3] = np.minimum(acc[3], values.min(axis=0))
                acc[4] = np.maximum(acc[4], values.max(axis=0))
        result = {}
        for key, (count, total, total_sq, low, high) in sums.items():
            mean = total / count
            std = np.sqrt(np.maximum(total_sq / count - np.square(mean), 0.0))
            result[key] = FeatureStats(mean=mean, std=std, min=low, max=high, count=int(count))
        return result

    # --- pickling for DataLoader workers: each worker opens its own maps -----------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_open"] = OrderedDict()
        return state
