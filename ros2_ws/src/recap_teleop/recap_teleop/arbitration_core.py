"""One control tick of the arbitration node, ROS-free: latest inputs -> arbitrator -> safety filter.

Thread-safe (subscription callbacks, the service, the keyboard thread and the timer all call in).
Vectors are 14-D JOINT_NAMES order with normalised grippers; times are node-clock seconds.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, replace

import numpy as np

from recap_core.aloha_layout import ARMS, join_arms
from recap_core.pose_jump import PoseJumpDetector
from recap_teleop.arbitration import ArbitrationConfig, Arbitrator, ControlState, Decision, Source
from recap_teleop.safety_filter import SafetyConfig, SafetyFilter, SafetyOutput


@dataclass(frozen=True)
class TickResult:
    output: SafetyOutput  # what goes to the arms (command None: nothing can be sent yet)
    state: ControlState  # as published: SAFETY while the filter holds, else the arbitrator's state
    proposed: np.ndarray | None  # the policy's latest command (what it would have done)


class _PairedArms:
    """Latest 7-vectors of both arms; the pair's time is the older arm's."""

    def __init__(self) -> None:
        self.vectors: list[np.ndarray | None] = [None] * len(ARMS)
        self.times: list[float] = [0.0] * len(ARMS)

    def update(self, arm_index: int, vec7: np.ndarray, now: float) -> None:
        self.vectors[arm_index] = np.asarray(vec7, dtype=np.float64)
        self.times[arm_index] = now

    def joined(self) -> tuple[np.ndarray | None, float | None]:
        if any(v is None for v in self.vectors):
            return None, None
        return join_arms(*self.vectors), min(self.times)


class ArbitrationCore:
    def __init__(self, arbitration: ArbitrationConfig, safety: SafetyConfig) -> None:
        self.arbitrator = Arbitrator(arbitration)
        self.filter = SafetyFilter(safety)
        self._lock = threading.Lock()
        self._policy: np.ndarray | None = None
        self._policy_time: float | None = None
        self._leader = _PairedArms()
        self._follower = _PairedArms()
        self._follower_jumps = PoseJumpDetector()
        self.last_decision: Decision | None = None

    # Inputs ---------------------------------------------------------------------------------------------
    def policy_command(self, command14: np.ndarray, now: float) -> None:
        with self._lock:
            self._policy, self._policy_time = np.asarray(command14, dtype=np.float64), now

    def leader(self, arm_index: int, vec7: np.ndarray, now: float) -> None:
        with self._lock:
            self._leader.update(arm_index, vec7, now)

    def follower(self, arm_index: int, vec7: np.ndarray, now: float) -> None:
        with self._lock:
            self._follower.update(arm_index, vec7, now)
            reset = self._follower_jumps.update(arm_index, vec7)
            pose, _ = self._follower.joined()
            if pose is not None and (self.filter.pose is None or reset) and np.isfinite(pose).all():
                # A reset (the arms jumped): restart from the measured pose and forget the policy's
                # command, which was computed from the old one; hold until a fresh one arrives.
                self.filter.initialise(pose)
                if reset:
                    self._policy, self._policy_time = None, None

    def reinitialise_from_follower(self) -> bool:
        """Restart the commanded pose from the measured arms (a new episode after a reset)."""
        with self._lock:
            pose, _ = self._follower.joined()
            if pose is None or not np.isfinite(pose).all():
                return False
            self.filter.initialise(pose)
            self.arbitrator.new_episode()
            return True

    def request(self, human: bool, source: Source, now: float) -> Decision:
        with self._lock:
            leader, _ = self._leader.joined()
            follower = self._match_pose()
            self.last_decision = self.arbitrator.request(human, source, now, leader, follower)
            return self.last_decision

    def set_estop(self, engaged: bool, reason: str) -> None:
        with self._lock:
            self.filter.set_estop(engaged, reason)

    def _match_pose(self) -> np.ndarray | None:
        """What the leader must match for a takeover: the commanded pose, from which the follower
        ramps to the leader (the measured pose before anything was commanded). Not the measured
        pose: a gripper squeezing an object measures wider than it is commanded."""
        if self.filter.pose is not None:
            return self.filter.pose
        pose, _ = self._follower.joined()
        return pose

    @property
    def human_in_control(self) -> bool:
        return self.arbitrator.state.human_in_control

    # The tick -------------------------------------------------------------------------------------------
    def tick(self, now: float) -> TickResult:
        with self._lock:
            leader, leader_time = self._leader.joined()
            if leader is not None:
                decision = self.arbitrator.observe_leader(now, leader, self._match_pose(), self.filter.pose)
                if decision is not None:
                    self.last_decision = decision
            if self.arbitrator.state.human_in_control:
                candidate, when = leader, leader_time
            else:
                candidate, when = self._policy, self._policy_time
            output = self.filter.tick(now, candidate, when)
            state = self.arbitrator.state
            if output.holding:
                state = replace(state, source=Source.SAFETY, detail=output.reason)
            return TickResult(output, state, None if self._policy is None else self._policy.copy())
