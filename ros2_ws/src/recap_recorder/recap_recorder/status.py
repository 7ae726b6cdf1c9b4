"""What the recorder reports on /diagnostics (ROS-free): the episode being recorded and the disk.

Keys are the ones the operator's console reads (docs/NODES.md): recording, episode_id,
episode_elapsed_s, episodes_recorded, drops (this episode), bag_dir.
"""
from __future__ import annotations

from pathlib import Path

from recap_core.diagnostics import Level, Status

from .lifecycle import EpisodeRecorder

NODE_NAME = "episode_recorder"
DISK_WARN_FACTOR = 2.0  # WARN below this many times min_free_disk_gb: time to make room before it refuses


def recording_status(recorder: EpisodeRecorder, now_ns: int) -> Status:
    """OK idle or recording; WARN while the episode being recorded has lost messages."""
    session = recorder.session
    values = {"recording": session is not None, "episode_id": "", "episode_elapsed_s": 0.0,
              "episodes_recorded": recorder.episodes_recorded, "drops": 0, "bag_dir": str(recorder.out_dir)}
    if session is None:
        return Status(f"{NODE_NAME}: recording", Level.OK, f"idle; {recorder.episodes_recorded} episodes recorded",
                      values)
    elapsed = max(0.0, (now_ns - session.meta.start_time_ns) / 1e9)
    drops = session.detected_drops()
    values.update(episode_id=session.meta.episode_id, episode_elapsed_s=round(elapsed, 1), drops=drops)
    message = f"recording {session.meta.episode_id} ({elapsed:.0f} s)"
    if drops:
        return Status(f"{NODE_NAME}: recording", Level.WARN, f"{message}; {drops} messages dropped", values)
    return Status(f"{NODE_NAME}: recording", Level.OK, message, values)


def disk_status(bag_dir: Path, free_bytes: int | None, min_free_bytes: int, error: str = "") -> Status:
    """ERROR below min_free_bytes (episodes are refused) or when the free space cannot be read,
    WARN below DISK_WARN_FACTOR times it, else OK."""
    values = {"free_gb": -1.0 if free_bytes is None else round(free_bytes / 1e9, 2),
              "min_free_gb": round(min_free_bytes / 1e9, 2), "bag_dir": str(bag_dir)}
    name = f"{NODE_NAME}: disk"
    if free_bytes is None:
        return Status(name, Level.ERROR, f"free space of {bag_dir} unknown: {error}", values)
    text = f"{free_bytes / 1e9:.1f} GB free on {bag_dir} (minimum {min_free_bytes / 1e9:.1f} GB)"
    if free_bytes < min_free_bytes:
        return Status(name, Level.ERROR, f"{text}: episodes are refused", values)
    if free_bytes < DISK_WARN_FACTOR * min_free_bytes:
        return Status(name, Level.WARN, f"{text}: make room soon", values)
    return Status(name, Level.OK, text, values)
