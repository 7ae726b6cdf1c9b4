"""Are the cameras a policy needs delivering? Silent topics at startup, cameras slower than expected.

ROS-free: the node hands in every frame's header stamp (any thread) and asks at its control rate
(and for its /diagnostics status once a second). Rates are measured from header stamps (sensor
time), so transport jitter does not count as slowness.
"""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from recap_core.diagnostics import Level, Status


@dataclass(frozen=True)
class CameraHealthConfig:
    startup_timeout_s: float = 5.0  # a camera with no frame this long after startup is named in an error
    min_rate_hz: float = 8.0  # a camera measured slower than this is named in a warning; 0 = no check
    window: int = 20  # frames over which a camera's rate is measured

    def __post_init__(self) -> None:
        if not self.startup_timeout_s > 0:
            raise ValueError(f"startup_timeout_s must be positive, got {self.startup_timeout_s}")
        if not self.min_rate_hz >= 0:
            raise ValueError(f"min_camera_rate_hz must be >= 0, got {self.min_rate_hz}")
        if self.window < 2:
            raise ValueError(f"the rate window needs at least 2 frames, got {self.window}")


class CameraHealth:
    """Per camera: has it delivered yet, and is its recent frame rate above the minimum."""

    def __init__(self, cameras: dict[str, str], config: CameraHealthConfig) -> None:
        """cameras: camera name -> topic."""
        self.cameras = dict(cameras)
        self.config = config
        self._started_ns: int | None = None
        self._lock = threading.Lock()
        self._stamps = {c: deque(maxlen=config.window) for c in self.cameras}
        self._slow: set[str] = set()

    def frame(self, camera: str, stamp_ns: int) -> None:
        with self._lock:
            self._stamps[camera].append(stamp_ns)

    def silent_topics(self) -> list[str]:
        """Topics of the cameras that have not delivered a single frame yet."""
        with self._lock:
            return [self.cameras[c] for c, s in self._stamps.items() if not s]

    def startup_error(self, now_ns: int) -> str | None:
        """Why the policy cannot start, once startup_timeout_s has passed with a camera still silent.

        The clock at the first call counts as startup: a node on sim time reads 0 until /clock arrives.
        """
        if self._started_ns is None:
            self._started_ns = now_ns
        silent = self.silent_topics()
        waited = (now_ns - self._started_ns) * 1e-9
        if not silent or waited < self.config.startup_timeout_s:
            return None
        return (f"no frame from camera topic(s) {silent} in {waited:.1f} s (startup_timeout_s "
                f"{self.config.startup_timeout_s:g}); the policy needs every camera in {sorted(self.cameras)}: "
                "no chunks until they publish (check the camera drivers and the topics in the robot description)")

    def rate_hz(self, camera: str, min_frames: int | None = None) -> float | None:
        """Frames per second over the last `window` header stamps; None until `min_frames` (default:
        the whole window) have arrived."""
        with self._lock:
            stamps = list(self._stamps[camera])
        if len(stamps) < (self.config.window if min_frames is None else max(2, min_frames)):
            return None
        span = (max(stamps) - min(stamps)) * 1e-9
        return float("inf") if span <= 0 else (len(stamps) - 1) / span

    def status(self, name: str, now_ns: int) -> Status:
        """The cameras' diagnostic status `name`: per camera `<camera>.rate_hz` (header stamps; 0 before
        two frames) and `<camera>.age_s` (of its newest frame; -1 before the first). ERROR when a
        camera is silent (no frame for startup_timeout_s, counted from the first check), WARN when
        one is measured slower than min_rate_hz."""
        started = self._started_ns if self._started_ns is not None else now_ns
        silent, slow, values = [], [], {}
        for camera in self.cameras:
            with self._lock:
                newest = max(self._stamps[camera], default=None)
            rate = self.rate_hz(camera, min_frames=2)
            age = (now_ns - (started if newest is None else newest)) * 1e-9
            values[f"{camera}.rate_hz"] = round(rate, 2) if rate is not None and rate != float("inf") else 0.0
            values[f"{camera}.age_s"] = -1.0 if newest is None else round(age, 3)
            if age >= self.config.startup_timeout_s:
                silent.append(camera)
            elif rate is not None and self.config.min_rate_hz > 0 and rate < self.config.min_rate_hz:
                slow.append(f"{camera} {rate:.1f} Hz")
        if silent:
            level, message = Level.ERROR, (f"silent for {self.config.startup_timeout_s:g} s or more: "
                                           f"{', '.join(silent)}")
        elif slow:
            level, message = Level.WARN, f"slower than {self.config.min_rate_hz:g} Hz: {', '.join(slow)}"
        else:
            level, message = Level.OK, f"{len(self.cameras)} camera(s) delivering" if self.cameras else "no cameras"
        return Status(name, level, message, values)

    def newly_slow(self) -> list[str]:
        """One warning per camera when it becomes slower than min_rate_hz (again after it recovered)."""
        if self.config.min_rate_hz <= 0:
            return []
        warnings = []
        for camera, topic in self.cameras.items():
            rate = self.rate_hz(camera)
            if rate is None:
                continue
            if rate >= self.config.min_rate_hz:
                self._slow.discard(camera)
            elif camera not in self._slow:
                self._slow.add(camera)
                warnings.append(f"{topic}: camera {camera!r} delivers {rate:.1f} frames/s, slower than "
                                f"min_camera_rate_hz {self.config.min_rate_hz:g}: its frames go stale sooner "
                                "and the policy sees older images")
        return warnings
