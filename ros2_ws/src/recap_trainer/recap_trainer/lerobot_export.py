"""Export a RECAP dataset as a LeRobotDataset v3.0 that LeRobot 0.6 loads, edits and trains on as is.

Layout written (one file per kind; LeRobot splits by size, which a reader does not require):

    meta/info.json                          codebase_version "v3.0", fps, features, paths
    meta/tasks.parquet                      task_index, indexed by the task text (as LeRobot reads it)
    meta/episodes/chunk-000/file-000.parquet  one row per episode: length, index ranges, video spans,
                                            `stats/<feature>/<stat>` and `recap/*` provenance
    meta/stats.json                         min/max/mean/std/count/q01..q99 of every numeric feature
    meta/recap.json                         the source dataset and what the labels were
    data/chunk-000/file-000.parquet         one row per frame
    videos/observation.images.<cam>/chunk-000/file-000.mp4   AV1, all episodes back to back

Per frame: observation.state (qpos, 14), observation.environment_state (when the episodes have
env_state), action (executed, 14), next.reward (1.0 on the last frame of a successful episode,
else 0: LeRobot's HIL-SERL convention), next.done, complementary_info.is_intervention,
complementary_info.proposed_action (NaN: no proposal) and the RECAP columns (lerobot_features).
The task of every frame is the task's instruction; the advantage indicator stays a column, and
`lerobot_advantage.AdvantagePromptStep` turns it into "Advantage: positive/negative" text with
dropout at training time.
Memory: one episode at a time (frames stream into the parquet and video writers).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from recap_core.output_files import check_output_dir, write_json_atomic
from recap_trainer import lerobot_features as lf
from recap_trainer import lerobot_stats
from recap_trainer.dataset import RecapDataset
from recap_trainer.lerobot_video import VideoWriter, video_info

log = logging.getLogger(__name__)

CODEBASE_VERSION = "v3.0"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-000/file-000.parquet"
_ARROW = {"float32": pa.float32(), "int64": pa.int64(), "bool": pa.bool_()}


@dataclass(frozen=True)
class ExportConfig:
    repo_id: str = "recap/aloha"
    fps: int | None = None  # None: 1 / the dataset's control period
    prompts: tuple[tuple[str, str], ...] = ()  # (task, instruction): what a VLA is prompted with


def export_lerobot(dataset_dir: str | Path, out: str | Path, labels: Any = None,
                   config: ExportConfig = ExportConfig(), overwrite: bool = False) -> dict:
    """Export into `out` (new or empty; `overwrite` replaces a non-empty one); returns meta/info.json.
    Everything is checked first and written into a sibling staging directory that is renamed to
    `out` at the end, so `out` never holds half an export."""
    ds = RecapDataset(dataset_dir)
    out = Path(out)
    check_output_dir(out, overwrite=overwrite, what="LeRobot export directory")
    loaded = lf.load_labels(labels)
    if loaded is not None:
        lf.check_labels_match(ds.summaries, loaded)
    env_dim = _env_state_dim(ds.summaries)
    prompts = dict(config.prompts)
    lf.warn_id_like({s.task for s in ds.summaries}, prompts)
    staging = out.with_name(f".{out.name}.{os.getpid()}.partial")  # mkdir, unlike mkdtemp, honours the umask
    staging.mkdir(parents=True)
    try:
        info = _write_export(ds, staging, loaded, config, env_dim)
        write_json_atomic(staging / "meta" / "recap.json", {
            "repo_id": config.repo_id, "source_dataset": str(Path(dataset_dir).resolve()),
            "advantage_labels": None if loaded is None else
            ("recap label" if loaded.advantage is not None else "indicator only"),
            "prompts": prompts})
        _replace_dir(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return info


def _env_state_dim(summaries) -> int | None:
    """One observation.environment_state shape for all episodes, or none at all."""
    dims = {s.state_dim for s in summaries}
    if len(dims) > 1:
        first = {}
        for s in summaries:
            first.setdefault(s.state_dim, s.episode_id)
        described = ", ".join(f"{ep} has {dim if dim is not None else 'none'}" for dim, ep in first.items())
        raise ValueError(f"episodes differ in env_state size ({described}): a LeRobot dataset has one "
                         "observation.environment_state shape; export them separately")
    return dims.pop() if dims else None


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


def write_tasks(path: Path, tasks: dict[str, int]) -> None:
    """tasks.parquet as pandas writes a DataFrame indexed by "task": LeRobot reads the text from
    the index (a plain column would make every frame's task its row number)."""
    pandas_meta = {"index_columns": ["task"], "column_indexes": [], "creator": {"library": "pyarrow"},
                   "columns": [{"name": "task_index", "field_name": "task_index", "pandas_type": "int64",
                                "numpy_type": "int64", "metadata": None},
                               {"name": "task", "field_name": "task", "pandas_type": "unicode",
                                "numpy_type": "object", "metadata": None}]}
    table = pa.table({"task_index": pa.array(list(tasks.values()), pa.int64()), "task": list(tasks)})
    pq.write_table(table.replace_schema_metadata({b"pandas": json.dumps(pandas_meta).encode()}), path)


def _write_export(ds: RecapDataset, out: Path, labels: lf.ExportLabels | None, config: ExportConfig,
                  env_dim: int | None) -> dict:
    fps = config.fps or int(round(1.0 / ds.config.control_period))
    cams = list(ds.config.cameras)
    h, w = ds.config.image_size or (0, 0)
    env_state = None
    if env_dim is not None:
        env_state = lf.env_state_feature(env_dim, ds[0].metadata.get("state_names") if len(ds) else None)
    features = lf.features(ds.robot.joint_names, cams, (h, w), env_state, lf.recap_columns(labels), video_info(h, w, fps))
    columns = {k: v for k, v in features.items() if v["dtype"] != "video"}
    schema = pa.schema([(k, pa.list_(pa.float32(), v["shape"][0]) if k in lf.VECTORS else _ARROW[v["dtype"]])
                        for k, v in columns.items()])
    (out / "meta" / "episodes" / "chunk-000").mkdir(parents=True)
    (out / "data" / "chunk-000").mkdir(parents=True)
    videos: dict[str, VideoWriter] = {}
    data_writer = pq.ParquetWriter(out / DATA_PATH.format(chunk_index=0, file_index=0), schema)
    tasks: dict[str, int] = {}
    prompts = dict(config.prompts)
    episode_rows, episode_stats = [], []
    index = 0
    try:
        for cam in cams:
            path = out / VIDEO_PATH.format(video_key=f"observation.images.{cam}", chunk_index=0, file_index=0)
            path.parent.mkdir(parents=True)
            videos[cam] = VideoWriter(path, h, w, fps)
        for ep_index, ep in enumerate(tqdm(ds, desc="export", unit="episode")):
            T = ep.num_steps
            task = lf.instruction(ep.task, ep.metadata, prompts)
            frames = _frames(ep, labels, fps, ep_index, index, tasks.setdefault(task, len(tasks)))
            data_writer.write_table(pa.table({k: _arrow_column(frames[k], schema.field(k).type) for k in columns},
                                             schema=schema))
            stats = {k: lerobot_stats.vector_stats(frames[k]) for k in columns}
            row: dict[str, Any] = {
                "episode_index": ep_index, "tasks": [task], "length": T,
                "data/chunk_index": 0, "data/file_index": 0,
                "dataset_from_index": index, "dataset_to_index": index + T,
                "meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0,
            }
            for cam in cams:
                key = f"observation.images.{cam}"
                start = videos[cam].frames / fps
                videos[cam].write(ep.images[cam])
                stats[key] = lerobot_stats.image_stats(ep.images[cam])
                row.update({f"videos/{key}/chunk_index": 0, f"videos/{key}/file_index": 0,
                            f"videos/{key}/from_timestamp": start, f"videos/{key}/to_timestamp": start + T / fps})
            row.update({"recap/episode_id": ep.episode_id, "recap/outcome": ep.outcome, "recap/source": ep.source,
                        "recap/task": ep.task})
            episode_rows.append(row)
            episode_stats.append(stats)
            index += T
    finally:
        data_writer.close()
        for video in videos.values():
            video.close()

    dataset_stats = _dataset_stats(episode_stats)
    for row, stats in zip(episode_rows, episode_stats):
        row.update(lerobot_stats.episode_columns({k: s for k, s in stats.items() if k in dataset_stats}))
    pq.write_table(pa.Table.from_pylist(episode_rows), out / EPISODES_PATH)
    write_tasks(out / "meta" / "tasks.parquet", tasks)
    info = {
        "codebase_version": CODEBASE_VERSION, "robot_type": ds.robot.name,
        "total_episodes": len(episode_rows), "total_frames": index, "total_tasks": len(tasks),
        "chunks_size": 1000, "data_files_size_in_mb": 100, "video_files_size_in_mb": 500, "fps": fps,
        "splits": {"train": f"0:{len(episode_rows)}"}, "data_path": DATA_PATH,
        "video_path": VIDEO_PATH if cams else None, "features": features,
    }
    write_json_atomic(out / "meta" / "info.json", info)
    write_json_atomic(out / "meta" / "stats.json", lerobot_stats.to_lists(dataset_stats))
    return info


def _frames(ep, labels: lf.ExportLabels | None, fps: int, ep_index: int, index: int,
            task_index: int) -> dict[str, np.ndarray]:
    """One episode's data columns."""
    T = ep.num_steps
    reward = np.zeros(T, np.float32)
    if ep.outcome == "success":
        reward[-1] = 1.0
    done = np.zeros(T, bool)
    done[-1] = True
    frames = {
        "observation.state": ep.qpos, "action": ep.executed_action,
        "complementary_info.proposed_action": ep.proposed_action,
        "next.reward": reward, "next.done": done,
        "complementary_info.is_intervention": np.asarray(ep.intervention, bool),
        "timestamp": np.arange(T, dtype=np.float32) / fps,  # frame-exact times (LeRobot checks ts vs fps)
        "frame_index": np.arange(T, dtype=np.int64), "episode_index": np.full(T, ep_index, np.int64),
        "index": np.arange(index, index + T, dtype=np.int64), "task_index": np.full(T, task_index, np.int64),
        **lf.recap_frames(labels, ep.episode_id, ep.iteration, ep.outcome, T),
    }
    if ep.env_state is not None:
        frames["observation.environment_state"] = ep.env_state
    return frames


def _arrow_column(values: np.ndarray, kind: pa.DataType) -> pa.Array:
    if pa.types.is_fixed_size_list(kind):
        flat = np.asarray(values, np.float32)
        return pa.FixedSizeListArray.from_arrays(pa.array(flat.reshape(-1)), kind.list_size)
    return pa.array(np.asarray(values), kind)


def _dataset_stats(episode_stats: list[dict]) -> dict:
    """Dataset statistics of the features every episode has statistics for (a feature with no
    finite value in some episode, e.g. proposed_action of demonstrations, gets none: it is
    complementary information, never a policy input)."""
    keys = [k for k in episode_stats[0] if all(s.get(k) is not None for s in episode_stats)] if episode_stats else []
    skipped = sorted({k for s in episode_stats for k, v in s.items() if v is None})
    if skipped:
        log.info("no statistics for %s: some episodes have no finite value", ", ".join(skipped))
    return lerobot_stats.aggregate_features([{k: s[k] for k in keys} for s in episode_stats])
