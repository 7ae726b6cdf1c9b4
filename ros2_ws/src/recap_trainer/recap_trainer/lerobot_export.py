"""Export a RECAP dataset as a LeRobotDataset v3.0 (for openpi / LeRobot VLA fine-tuning).

Layout written (one file per kind; LeRobot splits by size, which a reader does not require):

    meta/info.json                          codebase_version "v3.0", fps, features, paths
    meta/tasks.parquet                      task text -> task_index
    meta/episodes/chunk-000/file-000.parquet  one row per episode (length, index ranges, video spans)
    meta/stats.json                         mean/std/min/max/count of the numeric features
    data/chunk-000/file-000.parquet         one row per frame
    videos/observation.images.<cam>/chunk-000/file-000.mp4   all episodes back to back

Per frame: observation.state (qpos, 14), action (executed, 14), next.reward (1.0 on the last
frame of a successful episode, else 0: LeRobot's HIL-SERL convention), next.done,
complementary_info.is_intervention, complementary_info.proposed_action (NaN: no proposal).
With advantage labels (`recap label` output), the task text of every frame ends with
"Advantage: positive" or "Advantage: negative" (RECAP's indicator I_t as text, as pi*0.6 feeds it).
Labels must cover every episode with an outcome (labels of another dataset are refused).
Memory: one episode at a time (frames stream into the parquet and video writers).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from recap_core.aloha_layout import JOINT_NAMES
from recap_core.output_files import check_output_dir, write_json_atomic
from recap_trainer.dataset import RecapDataset

CODEBASE_VERSION = "v3.0"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"


def advantage_text(task: str, positive: bool | None) -> str:
    """Task prompt with RECAP's advantage indicator appended (None: unconditioned)."""
    if positive is None:
        return task
    return f"{task}\nAdvantage: {'positive' if positive else 'negative'}"


class _Stats:
    def __init__(self) -> None:
        self.n = 0
        self.s = self.ss = self.mn = self.mx = None

    def add(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float64).reshape(len(x), -1)
        x = np.where(np.isfinite(x), x, np.nan)
        if self.s is None:
            self.s, self.ss = np.zeros(x.shape[1]), np.zeros(x.shape[1])
            self.mn, self.mx = np.full(x.shape[1], np.inf), np.full(x.shape[1], -np.inf)
        self.n += len(x)
        self.s += np.nansum(x, 0)
        self.ss += np.nansum(x * x, 0)
        self.mn = np.fmin(self.mn, np.nanmin(x, 0))
        self.mx = np.fmax(self.mx, np.nanmax(x, 0))

    def to_dict(self) -> dict:
        mean = self.s / max(self.n, 1)
        std = np.sqrt(np.maximum(self.ss / max(self.n, 1) - mean ** 2, 0))
        return {"mean": mean.tolist(), "std": std.tolist(), "min": self.mn.tolist(), "max": self.mx.tolist(),
                "count": [self.n]}


def _load_labels(labels: Any) -> dict[str, np.ndarray] | None:
    """labels: None, a `recap label` output directory, or {episode_id: per-step bools}."""
    if labels is None:
        return None
    if isinstance(labels, (str, Path)):
        from recap_trainer.labels import Labels
        return dict(Labels.load(labels).indicator)
    return {k: np.asarray(v, bool) for k, v in labels.items()}


def check_labels_match(summaries, indicator: dict[str, np.ndarray]) -> None:
    """Every episode with an outcome needs labels of its length (aborted episodes are never
    labelled): labels of other data would otherwise export unconditioned without a word."""
    ids = {s.episode_id for s in summaries}
    missing = [s.episode_id for s in summaries if s.outcome != "abort" and s.episode_id not in indicator]
    if missing:
        extra = sorted(set(indicator) - ids)
        hint = f"; the labels hold {len(extra)} episode(s) the dataset lacks: {_few(extra)}" if extra else ""
        raise ValueError(f"labels do not match the dataset: {len(missing)} of its {len(ids)} episodes have no "
                         f"labels: {_few(missing)}{hint}")
    for s in summaries:
        flags = indicator.get(s.episode_id)
        if flags is not None and len(flags) != s.num_steps:
            raise ValueError(f"labels for episode {s.episode_id}: {len(flags)} flags for {s.num_steps} steps")


def _few(ids: list[str], count: int = 3) -> str:
    return ", ".join(ids[:count]) + (f" and {len(ids) - count} more" if len(ids) > count else "")


def export_lerobot(dataset_dir: str | Path, out: str | Path, labels: Any = None, repo_id: str = "recap/aloha",
                   fps: int | None = None, robot_type: str = "aloha", overwrite: bool = False) -> dict:
    """Export into `out` (new or empty; `overwrite` replaces a non-empty one). Everything is
    checked first and written into a sibling staging directory that is renamed to `out` at the
    end, so `out` never holds half an export."""
    ds = RecapDataset(dataset_dir)
    out = Path(out)
    check_output_dir(out, overwrite=overwrite, what="LeRobot export directory")
    indicator = _load_labels(labels)
    if indicator is not None:
        check_labels_match(ds.summaries, indicator)
    staging = out.with_name(f".{out.name}.{os.getpid()}.partial")  # mkdir, unlike mkdtemp, honours the umask
    staging.mkdir(parents=True)
    try:
        info = _write_export(ds, staging, indicator, repo_id, fps, robot_type, dataset_dir)
        _replace_dir(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return info


def _replace_dir(new: Path, target: Path) -> None:
    """Rename `new` to `target`; an existing `target` is moved aside first and removed only after."""
    old = None
    if target.exists():
        if any(target.iterdir()):
            old = target.with_name(f".{target.name}.replaced")
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
        else:
            target.rmdir()
    new.rename(target)
    if old is not None:
        shutil.rmtree(old)


def _write_export(ds: RecapDataset, out: Path, indicator: dict[str, np.ndarray] | None, repo_id: str,
                  fps: int | None, robot_type: str, dataset_dir: str | Path) -> dict:
    fps = fps or int(round(1.0 / ds.config.control_period))
    cams = list(ds.config.cameras)
    h, w = ds.config.image_size or (0, 0)
    (out / "meta" / "episodes" / "chunk-000").mkdir(parents=True, exist_ok=True)
    (out / "data" / "chunk-000").mkdir(parents=True, exist_ok=True)
    videos = {}
    for cam in cams:
        key = f"observation.images.{cam}"
        path = out / VIDEO_PATH.format(video_key=key, chunk_index=0, file_index=0)
        path.parent.mkdir(parents=True, exist_ok=True)
        # mpeg4 (OpenCV's built-in encoder): decodable by LeRobot's pyav/torchcodec backends.
        videos[cam] = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
        if not videos[cam].isOpened():
            raise RuntimeError(f"OpenCV cannot open an mp4 writer for {path}")

    vec = pa.list_(pa.float32(), 14)
    schema = pa.schema([
        ("observation.state", vec), ("action", vec), ("complementary_info.proposed_action", vec),
        ("next.reward", pa.float32()), ("next.done", pa.bool_()),
        ("complementary_info.is_intervention", pa.bool_()),
        ("timestamp", pa.float32()), ("frame_index", pa.int64()), ("episode_index", pa.int64()),
        ("index", pa.int64()), ("task_index", pa.int64()),
    ])
    data_writer = pq.ParquetWriter(out / DATA_PATH.format(chunk_index=0, file_index=0), schema)
    tasks: dict[str, int] = {}
    stats = {k: _Stats() for k in ("observation.state", "action", "next.reward",
                                   "complementary_info.is_intervention")}
    episode_rows = []
    index = 0
    video_time = 0.0
    try:
        for ep_index, ep in enumerate(tqdm(ds, desc="export", unit="episode")):
            T = ep.num_steps
            flags = indicator.get(ep.episode_id) if indicator is not None else None
            texts = [advantage_text(ep.task, None if flags is None else bool(flags[t])) for t in range(T)]
            task_idx = np.array([tasks.setdefault(t, len(tasks)) for t in texts], np.int64)
            reward = np.zeros(T, np.float32)
            if ep.outcome == "success":
                reward[-1] = 1.0
            done = np.zeros(T, bool)
            done[-1] = True
            ts = np.arange(T, dtype=np.float32) / fps  # frame-exact times (LeRobot checks ts vs fps)
            cols = {
                "observation.state": pa.array(list(ep.qpos.astype(np.float32)), vec),
                "action": pa.array(list(ep.executed_action.astype(np.float32)), vec),
                "complementary_info.proposed_action": pa.array(list(ep.proposed_action.astype(np.float32)), vec),
                "next.reward": pa.array(reward), "next.done": pa.array(done),
                "complementary_info.is_intervention": pa.array(np.asarray(ep.intervention, bool)),
                "timestamp": pa.array(ts), "frame_index": pa.array(np.arange(T, dtype=np.int64)),
                "episode_index": pa.array(np.full(T, ep_index, np.int64)),
                "index": pa.array(np.arange(index, index + T, dtype=np.int64)), "task_index": pa.array(task_idx),
            }
            data_writer.write_table(pa.table(cols, schema=schema))
            stats["observation.state"].add(ep.qpos)
            stats["action"].add(ep.executed_action)
            stats["next.reward"].add(reward[:, None])
            stats["complementary_info.is_intervention"].add(np.asarray(ep.intervention, float)[:, None])
            row: dict[str, Any] = {
                "episode_index": ep_index, "tasks": sorted(set(texts), key=texts.index), "length": T,
                "data/chunk_index": 0, "data/file_index": 0,
                "dataset_from_index": index, "dataset_to_index": index + T,
                "meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0,
                "recap/episode_id": ep.episode_id, "recap/outcome": ep.outcome, "recap/source": ep.source,
            }
            for cam in cams:
                for frame in ep.images[cam]:
                    videos[cam].write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))
                key = f"observation.images.{cam}"
                row.update({f"videos/{key}/chunk_index": 0, f"videos/{key}/file_index": 0,
                            f"videos/{key}/from_timestamp": video_time,
                            f"videos/{key}/to_timestamp": video_time + T / fps})
            video_time += T / fps
            episode_rows.append(row)
            index += T
    finally:
        data_writer.close()
        for v in videos.values():
            v.release()

    pq.write_table(pa.Table.from_pylist(episode_rows), out / "meta" / "episodes" / "chunk-000" / "file-000.parquet")
    pq.write_table(pa.table({"task_index": list(tasks.values()), "task": list(tasks)}),
                   out / "meta" / "tasks.parquet")
    features: dict[str, Any] = {
        "observation.state": {"dtype": "float32", "shape": [14], "names": list(JOINT_NAMES)},
        "action": {"dtype": "float32", "shape": [14], "names": list(JOINT_NAMES)},
        "complementary_info.proposed_action": {"dtype": "float32", "shape": [14], "names": list(JOINT_NAMES)},
        "next.reward": {"dtype": "float32", "shape": [1], "names": None},
        "next.done": {"dtype": "bool", "shape": [1], "names": None},
        "complementary_info.is_intervention": {"dtype": "bool", "shape": [1], "names": None},
        "timestamp": {"dtype": "float32", "shape": [1], "names": None},
        "frame_index": {"dtype": "int64", "shape": [1], "names": None},
        "episode_index": {"dtype": "int64", "shape": [1], "names": None},
        "index": {"dtype": "int64", "shape": [1], "names": None},
        "task_index": {"dtype": "int64", "shape": [1], "names": None},
    }
    for cam in cams:
        features[f"observation.images.{cam}"] = {
            "dtype": "video", "shape": [h, w, 3], "names": ["height", "width", "channels"],
            "info": {"video.height": h, "video.width": w, "video.codec": "mpeg4", "video.pix_fmt": "yuv420p",
                     "video.is_depth_map": False, "video.fps": fps, "video.channels": 3, "has_audio": False}}
    info = {
        "codebase_version": CODEBASE_VERSION, "robot_type": robot_type, "total_episodes": len(episode_rows),
        "total_frames": index, "total_tasks": len(tasks), "chunks_size": 1000,
        "data_files_size_in_mb": 100, "video_files_size_in_mb": 500, "fps": fps,
        "splits": {"train": f"0:{len(episode_rows)}"}, "data_path": DATA_PATH,
        "video_path": VIDEO_PATH if cams else None, "features": features,
        "recap": {"repo_id": repo_id, "source_dataset": str(Path(dataset_dir).resolve()),
                  "advantage_labels": indicator is not None},
    }
    write_json_atomic(out / "meta" / "info.json", info)
    write_json_atomic(out / "meta" / "stats.json", {k: s.to_dict() for k, s in stats.items() if s.n})
    return info
