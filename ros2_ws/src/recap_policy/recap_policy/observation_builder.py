"""Latest sensor samples -> one Observation, by joint NAME, refusing stale or missing inputs.

Subscription callbacks only hand samples in (cheap: the arm's vector is built by name with the robot
description and an image's encoding is checked at once, so a malformed message is reported at its
topic); images are decoded and resized when an observation is built, on the inference worker, never
in a callback. A joint state that lacks a joint the description maps makes that arm stale until a
complete one arrives: the policy never sees a vector with a made-up joint. After an episode starts
(the scene was reset), a sample stamped before it shows the last episode's scene: it counts as missing
until the input delivers one of the new episode, so the first chunk is never planned from the old scene.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from recap_core.aloha_layout import JointNameError
from recap_core.robot_description import ArmDescription
from recap_model.images import resize_to_model
from recap_policy.image_decoding import RawImage, check_encoding, decode_rgb
from recap_policy.observation import Observation


class StaleObservation(RuntimeError):
    """Some input is missing or older than its tolerance; the message names it."""


@dataclass(frozen=True)
class ObservationSpec:
    """Which inputs make up o_t and how fresh they must be."""

    arms: tuple[ArmDescription, ...]  # the follower arms (topic, joints by name, gripper calibration), in order
    cameras: dict[str, str] = field(default_factory=dict)  # camera name the policy knows -> topic
    camera_sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # (H, W) the description expects
    image_size: tuple[int, int] | None = None  # (H, W) the policy expects; None: as received
    state_names: tuple[str, ...] = ()  # object-state features of a state-only policy (in this order)
    object_state_topic: str = "/sim/object_state"
    max_age_s: float = 0.5  # a joint / object state older than this (by header stamp) makes o_t stale
    max_camera_age_s: float = 0.3  # a camera frame older than this makes o_t stale (never reused past it)
    task: str = "default"

    def __post_init__(self) -> None:
        object.__setattr__(self, "arms", tuple(self.arms))
        object.__setattr__(self, "cameras", dict(self.cameras))
        object.__setattr__(self, "camera_sizes", {c: tuple(s) for c, s in self.camera_sizes.items()})
        object.__setattr__(self, "state_names", tuple(self.state_names))
        if not self.arms:
            raise ValueError("need at least one follower arm")
        if not self.max_age_s > 0:
            raise ValueError(f"max_observation_age_s must be positive, got {self.max_age_s}")
        if not self.max_camera_age_s > 0:
            raise ValueError(f"max_camera_age_s must be positive, got {self.max_camera_age_s}")


@dataclass
class _Sample:
    value: object
    stamp_ns: int  # header stamp, integer ns: exact, so a chunk can name its observation
    problem: str | None = None  # the sample is unusable (an arm's joint state lacked joints): why


class ObservationBuilder:
    """Thread-safe store of the latest sample per input; `build` assembles o_t."""

    def __init__(self, spec: ObservationSpec, warn: Callable[[str], None] = lambda message: None) -> None:
        """`warn` receives one message per camera whose frames must be resized or differ from the
        description's size, and per topic that carries joints the description does not know (any thread)."""
        self.spec = spec
        self._warn = warn
        self._warned: set[tuple[str, str]] = set()  # (what, camera or topic) warned once
        self._lock = threading.Lock()
        self._arms: dict[str, _Sample] = {}
        self._images: dict[str, _Sample] = {}
        self._object_state: _Sample | None = None
        self._episode_start_ns: int | None = None  # sensor time the current episode began at

    def update_joints(self, arm_index: int, names, positions, stamp_ns: int) -> np.ndarray:
        """One arm's JointState (driver names, raw gripper) -> its vector (len(arm.joint_names),), also
        returned. Joints the description neither maps nor ignores are skipped (warned once per topic).
        Raises JointNameError naming the topic when a mapped joint is missing; the arm is then stale
        until a complete message arrives."""
        arm = self.spec.arms[arm_index]
        # Checked until warned: the warning is once per topic, and this runs for every joint state.
        unknown = [] if ("unknown joints", arm.joint_states) in self._warned else arm.unknown_joints(names)
        if unknown:
            self._warn_once("unknown joints", arm.joint_states,
                            f"{arm.joint_states}: joint(s) {unknown} are not in the robot description's arm "
                            f"{arm.name!r}; ignored (list them under `ignore` to silence this)")
        try:
            vec = arm.vector(names, positions, source=arm.joint_states)
        except JointNameError as exc:
            with self._lock:
                self._arms[arm.name] = _Sample(None, stamp_ns, problem=str(exc))
            raise
        with self._lock:
            self._arms[arm.name] = _Sample(vec, stamp_ns)
        return vec

    def _warn_once(self, what: str, key: str, message: str) -> None:
        with self._lock:
            if (what, key) in self._warned:
                return
            self._warned.add((what, key))
        self._warn(message)

    def update_image(self, camera: str, image: RawImage, stamp_ns: int) -> None:
        """Raises ImageDecodeError naming the topic and encoding when the encoding is unsupported."""
        check_encoding(image, self.spec.cameras.get(camera, camera))
        with self._lock:
            self._images[camera] = _Sample(image, stamp_ns)

    def update_object_state(self, names, values, stamp_ns: int) -> None:
        """Privileged object state; reordered to `state_names`, missing names are an error."""
        index = {n: i for i, n in enumerate(names)}
        missing = [n for n in self.spec.state_names if n not in index]
        if missing or len(names) != len(values):
            raise ValueError(f"{self.spec.object_state_topic}: missing state feature(s) {missing} "
                             f"(got {list(names)} with {len(values)} values)")
        vec = np.array([values[index[n]] for n in self.spec.state_names], dtype=np.float64)
        with self._lock:
            self._object_state = _Sample(vec, stamp_ns)

    def new_episode(self, start_ns: int) -> None:
        """An episode began at sensor time `start_ns` (a reset, a recording started): samples stamped
        before it no longer describe the scene."""
        with self._lock:
            self._episode_start_ns = start_ns

    def input_state(self, now_ns: int) -> tuple[str | None, bool]:
        """(staleness, starting_episode) at `now_ns` from one pass over the inputs (the control tick's)."""
        problems = self._problems(now_ns)
        why = "; ".join(reason for reason, _ in problems) if problems else None
        return why, bool(problems) and all(waiting for _, waiting in problems)

    def staleness(self, now_ns: int) -> str | None:
        """None when every input is present and fresh at `now_ns`; otherwise why not (naming topics)."""
        return self.input_state(now_ns)[0]

    def starting_episode(self, now_ns: int) -> bool:
        """True while the only problems are inputs that have not yet delivered a sample of the episode
        that just began, their last samples still within tolerance: an expected wait, not a fault."""
        return self.input_state(now_ns)[1]

    def _problems(self, now_ns: int) -> list[tuple[str, bool]]:
        """(why, only waiting for the new episode's first sample) per unusable input."""
        with self._lock:
            checks = [self._check(self._arms.get(arm.name), arm.joint_states, now_ns, self.spec.max_age_s)
                      for arm in self.spec.arms]
            checks += [self._check(self._images.get(camera), topic, now_ns, self.spec.max_camera_age_s)
                       for camera, topic in self.spec.cameras.items()]
            if self.spec.state_names:
                checks.append(self._check(self._object_state, self.spec.object_state_topic, now_ns,
                                          self.spec.max_age_s))
        return [c for c in checks if c is not None]

    def _check(self, sample: _Sample | None, topic: str, now_ns: int, max_age_s: float) -> tuple[str, bool] | None:
        if sample is None:
            return f"no message yet on {topic}", False
        if sample.problem is not None:
            return sample.problem, False
        age = (now_ns - sample.stamp_ns) * 1e-9
        if age > max_age_s:
            return f"{topic} is {age:.3f} s old (max {max_age_s:.3f} s)", False
        start = self._episode_start_ns
        if start is not None and sample.stamp_ns < start:
            # A wait, not a fault: once the old sample is past its tolerance, its age is the problem.
            return f"nothing on {topic} since the episode began {(now_ns - start) * 1e-9:.3f} s ago", True
        return None

    def build(self, now_ns: int) -> Observation:
        """o_t from the latest samples; raises StaleObservation when any is missing or too old."""
        reason = self.staleness(now_ns)
        if reason:
            raise StaleObservation(reason)
        with self._lock:
            arms = [self._arms[a.name] for a in self.spec.arms]
            images = {c: self._images[c] for c in self.spec.cameras}
            state = self._object_state if self.spec.state_names else None
        stamps = [s.stamp_ns for s in arms] + [s.stamp_ns for s in images.values()] + ([state.stamp_ns] if state else [])
        decoded = {c: self._decode(c, s.value) for c, s in images.items()}
        return Observation(qpos=np.concatenate([s.value for s in arms]), stamp_ns=min(stamps), task=self.spec.task,
                           env_state=None if state is None else state.value.copy(), images=decoded)

    def _decode(self, camera: str, image: RawImage) -> np.ndarray:
        """(H, W, 3) RGB at the policy's image_size; a camera of another size is resized, warned once."""
        topic = self.spec.cameras[camera]
        rgb = decode_rgb(image, source=topic)
        h, w = rgb.shape[:2]
        described = self.spec.camera_sizes.get(camera)
        if described is not None and (h, w) != described:
            self._warn_once("description size", camera,
                            f"{topic}: camera {camera!r} sends {h}x{w} (HxW) frames, the robot description says "
                            f"{described[0]}x{described[1]}: correct its `size`")
        size = self.spec.image_size
        if size is None or (h, w) == tuple(size):
            return rgb
        self._warn_once("resize", camera, f"{topic}: camera {camera!r} sends {h}x{w} (HxW) frames, the policy "
                                          f"expects {size[0]}x{size[1]}: every frame is resized")
        return resize_to_model(rgb, size)
