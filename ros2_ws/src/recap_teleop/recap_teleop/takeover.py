"""Who commands the arms, the policy or the human (ROS-free state machine).

Takeover (human in control) is accepted only when the leader arms are within
`takeover_threshold_rad` of the followers' commanded pose on every joint: the follower then ramps to the leader at
the safety filter's bounded step, never jumps. Otherwise it is refused with a message naming the
worst joint. Hand-back is always accepted; the policy resumes from the commanded pose (the safety
filter bounds the step). Automatic takeover (leader motion), by `leader_motion_reference`:
- "rest" (passive leader arms, e.g. ALOHA's torque-off WidowX): in policy mode the leaders rest;
  moving them more than `leader_motion_threshold_rad` from their resting pose means a human grabbed them.
- "command" (leader arms driven to follow the followers' commanded pose): the human pulls the
  leader away from that pose by more than the threshold.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum

import numpy as np


class Source(IntEnum):
    """Mirrors recap_msgs/InterventionState SOURCE_* (kept ROS-free here; a test checks they agree)."""

    NONE = 0
    PEDAL = 1
    TOPIC = 2
    SERVICE = 3
    KEYBOARD = 4
    LEADER_MOTION = 5
    SAFETY = 6


@dataclass(frozen=True)
class ArbitrationConfig:
    takeover_threshold_rad: float = 0.8  # leader and follower must agree this well on every joint
    leader_motion_threshold_rad: float = 0.1  # leader moved this far from rest -> automatic takeover
    auto_takeover: bool = True  # enable the leader-motion trigger
    leader_motion_reference: str = "rest"  # rest | command (see the module docstring)

    def __post_init__(self) -> None:
        if not self.takeover_threshold_rad > 0 or not self.leader_motion_threshold_rad > 0:
            raise ValueError(f"thresholds must be positive: {self}")
        if self.leader_motion_reference not in ("rest", "command"):
            raise ValueError(f"leader_motion_reference must be rest or command, got {self.leader_motion_reference!r}")


@dataclass(frozen=True)
class ControlState:
    human_in_control: bool = False
    source: Source = Source.NONE
    detail: str = "policy in control"
    since: float = 0.0  # time control last changed hands
    intervention_count: int = 0


@dataclass(frozen=True)
class Decision:
    accepted: bool
    message: str


def worst_difference(a: np.ndarray, b: np.ndarray, joint_names: tuple[str, ...]) -> tuple[float, str]:
    """max_j |a_j - b_j| and the joint name where it occurs ((D,) vectors named by joint_names)."""
    diff = np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))
    j = int(np.argmax(diff))
    return float(diff[j]), joint_names[j]


class Arbitrator:
    def __init__(self, config: ArbitrationConfig, joint_names: tuple[str, ...]) -> None:
        self.config = config
        self.joint_names = tuple(joint_names)  # the D joints of the leader and follower vectors
        self.state = ControlState()
        self._leader_rest: np.ndarray | None = None

    def new_episode(self) -> None:
        self.state = replace(self.state, intervention_count=0)

    def request(self, human: bool, source: Source, now: float,
                leader: np.ndarray | None, follower: np.ndarray | None) -> Decision:
        """A trigger asks for the human (human=True) or the policy (False) to command the arms."""
        name = source.name.lower()
        if not human:
            if not self.state.human_in_control:
                return Decision(True, "policy already in control")
            self.state = replace(self.state, human_in_control=False, source=source, since=now,
                                 detail=f"handed back to the policy by {name}")
            self._leader_rest = None if leader is None else np.array(leader, dtype=np.float64)
            return Decision(True, self.state.detail)
        if self.state.human_in_control:
            return Decision(True, "human already in control")
        if leader is None or follower is None:
            return self._refuse(f"takeover by {name} refused: no {'leader' if leader is None else 'follower'} "
                                "joint states yet")
        if not (np.isfinite(leader).all() and np.isfinite(follower).all()):
            return self._refuse(f"takeover by {name} refused: non-finite leader or follower joint state")
        gap, joint = worst_difference(leader, follower, self.joint_names)
        if gap > self.config.takeover_threshold_rad:
            return self._refuse(f"takeover by {name} refused: leader differs from follower by {gap:.2f} rad at "
                                f"{joint} (threshold {self.config.takeover_threshold_rad:.2f}); move the leader "
                                "to the follower's pose first")
        self.state = ControlState(True, source, f"human in control ({name}); leader within {gap:.2f} rad",
                                  now, self.state.intervention_count + 1)
        return Decision(True, self.state.detail)

    def observe_leader(self, now: float, leader: np.ndarray, follower: np.ndarray | None,
                       commanded: np.ndarray | None = None) -> Decision | None:
        """Automatic takeover when a human moves the leader; None when nothing was triggered."""
        if self.state.human_in_control or not self.config.auto_takeover:
            return None
        if self.config.leader_motion_reference == "command":
            reference = commanded
        else:
            if self._leader_rest is None:
                self._leader_rest = np.array(leader, dtype=np.float64)
            reference = self._leader_rest
        if reference is None:
            return None
        moved, _ = worst_difference(leader, reference, self.joint_names)
        if not moved > self.config.leader_motion_threshold_rad:
            return None
        return self.request(True, Source.LEADER_MOTION, now, leader, follower)

    def _refuse(self, message: str) -> Decision:
        self.state = replace(self.state, detail=message)
        return Decision(False, message)
