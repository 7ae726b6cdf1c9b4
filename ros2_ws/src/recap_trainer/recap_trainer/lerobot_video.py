"""Camera streams of a LeRobot export: AV1 (libsvtav1) mp4 through PyAV, LeRobot's default encoding.

LeRobot's edit tools (delete / split / re-encode) accept h264, hevc and AV1 only, so OpenCV's
built-in mpeg4 writer will not do. The settings and the `info` block match what LeRobot records
for its own videos (GOP 2 keeps random access cheap for delta_timestamps batching).
"""
from __future__ import annotations

import contextlib
import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

CODEC = "libsvtav1"
CODEC_NAME = "av1"  # what a reader (PyAV's canonical_name) reports
PIX_FMT = "yuv420p"
GOP = 2
CRF = 30
PRESET = 12


def video_info(height: int, width: int, fps: int) -> dict[str, Any]:
    """The `info` block of a video feature in meta/info.json."""
    return {"video.height": height, "video.width": width, "video.codec": CODEC_NAME, "video.pix_fmt": PIX_FMT,
            "video.fps": fps, "video.channels": 3, "video.g": GOP, "video.crf": CRF, "video.preset": PRESET,
            "video.fast_decode": 0, "has_audio": False, "is_depth_map": False}


@contextlib.contextmanager
def _own_scheduling():
    """Run encoder calls, then give this thread back its scheduling policy. SVT-AV1 raises the
    threads it runs on to SCHED_FIFO priority 99 when it may (as root): a converter or trainer
    process, or a node started from it, would then starve everything else on the machine, the
    robot's control loops included."""
    policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
    try:
        yield
    finally:
        if (os.sched_getscheduler(0), os.sched_getparam(0)) != (policy, param):
            os.sched_setscheduler(0, policy, param)


class VideoWriter:
    """One mp4 that episodes are appended to, frame-exact timestamps at `fps`."""

    def __init__(self, path: Path, height: int, width: int, fps: int) -> None:
        try:
            import av
        except ImportError as exc:
            raise RuntimeError(f"exporting camera streams needs PyAV (the `av` package, {CODEC} encoder): {exc}; "
                               "export a state-only dataset or install av") from exc
        self._av = av
        self.path = path
        self.fps = fps
        self.frames = 0
        self._container = av.open(str(path), "w")
        options = {"g": str(GOP), "crf": str(CRF), "preset": str(PRESET)}
        with _own_scheduling():
            self._stream = self._container.add_stream(CODEC, fps, options=options)
        self._stream.pix_fmt, self._stream.width, self._stream.height = PIX_FMT, width, height
        self._stream.time_base = Fraction(1, fps)

    def write(self, frames: np.ndarray) -> None:
        """Append (T, H, W, 3) uint8 RGB frames."""
        with _own_scheduling():
            self._write(frames)

    def _write(self, frames: np.ndarray) -> None:
        for frame in frames:
            video_frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            video_frame.pts = self.frames
            video_frame.time_base = Fraction(1, self.fps)
            self._container.mux(self._stream.encode(video_frame))
            self.frames += 1

    def close(self) -> None:
        with _own_scheduling():
            self._container.mux(self._stream.encode())
            self._container.close()
