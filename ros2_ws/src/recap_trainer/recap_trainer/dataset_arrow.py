"""Episode <-> Arrow IPC file (one record batch, one row per step, uncompressed so it memory-maps).

Columns: `timestamp` float64; `qpos`, `executed_action`, `proposed_action` fixed_size_list<float64>[D];
`env_state` fixed_size_list<float64>[S] (absent when None); `intervention` uint8 (0/1, viewed as
bool without a copy); `image.<cam>` fixed_size_list<uint8>[H*W*3]. The episode's scalar fields and
metadata are JSON in the schema metadata under `recap_episode`. Reading returns numpy views into
the memory map: nothing is copied until a step is actually used.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from recap_trainer.episode import EpisodeData

_META_KEY = b"recap_episode"
_IMAGE_PREFIX = "image."
_VECTOR_COLUMNS = ("qpos", "executed_action", "proposed_action", "env_state")


def episode_to_batch(episode: EpisodeData) -> pa.RecordBatch:
    columns: dict[str, pa.Array] = {"timestamp": pa.array(episode.timestamps, type=pa.float64())}
    for key in _VECTOR_COLUMNS:
        array = getattr(episode, key)
        if array is not None:
            columns[key] = _fixed_list(np.ascontiguousarray(array, dtype=np.float64))
    columns["intervention"] = pa.array(episode.intervention.astype(np.uint8), type=pa.uint8())
    image_shapes = {}
    for camera, frames in episode.images.items():
        image_shapes[camera] = list(frames.shape[1:])
        columns[_IMAGE_PREFIX + camera] = _fixed_list(np.ascontiguousarray(frames))
    header = {"episode_id": episode.episode_id, "task": episode.task, "outcome": episode.outcome,
              "source": episode.source, "iteration": episode.iteration,
              "metadata": episode.metadata, "image_shapes": image_shapes}
    schema = pa.schema([pa.field(k, v.type) for k, v in columns.items()],
                       metadata={_META_KEY: json.dumps(header).encode()})
    return pa.RecordBatch.from_arrays(list(columns.values()), schema=schema)


def write_episode_file(path: Path, episode: EpisodeData) -> None:
    batch = episode_to_batch(episode)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, batch.schema) as writer:
        writer.write_batch(batch)


def read_episode_file(path: Path) -> EpisodeData:
    """Open `path` memory-mapped; arrays are read-only views that keep the map alive."""
    try:
        source = pa.memory_map(str(path), "r")
        reader = pa.ipc.open_file(source)
        if reader.num_record_batches != 1:
            raise ValueError(f"expected 1 record batch, found {reader.num_record_batches}")
        batch = reader.get_batch(0)
        header = json.loads(reader.schema.metadata[_META_KEY])
    except (OSError, pa.ArrowInvalid, KeyError, ValueError, TypeError) as error:
        raise ValueError(f"{path}: not a readable RECAP episode file: {error}") from error
    steps = batch.num_rows
    vectors = {key: _numpy_view(batch.column(key), steps) if key in batch.schema.names else None
               for key in _VECTOR_COLUMNS}
    images = {camera: _numpy_view(batch.column(_IMAGE_PREFIX + camera), steps).reshape(steps, *shape)
              for camera, shape in header["image_shapes"].items()}
    intervention = batch.column("intervention").to_numpy(zero_copy_only=True).view(np.bool_)
    return EpisodeData(
        episode_id=header["episode_id"], task=header["task"], outcome=header["outcome"],
        source=header["source"], iteration=header["iteration"],
        timestamps=batch.column("timestamp").to_numpy(zero_copy_only=True),
        qpos=vectors["qpos"], env_state=vectors["env_state"], images=images,
        executed_action=vectors["executed_action"], proposed_action=vectors["proposed_action"],
        intervention=intervention, metadata=header["metadata"])


def _fixed_list(array: np.ndarray) -> pa.FixedSizeListArray:
    """(T, ...) -> fixed_size_list of prod(...) values per row (one flat buffer, no copy)."""
    width = int(np.prod(array.shape[1:]))
    return pa.FixedSizeListArray.from_arrays(pa.array(array.reshape(-1)), width)


def _numpy_view(column: pa.FixedSizeListArray, steps: int) -> np.ndarray:
    return column.flatten().to_numpy(zero_copy_only=True).reshape(steps, -1)
