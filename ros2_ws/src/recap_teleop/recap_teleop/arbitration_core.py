"""One control tick of the arbitration node, ROS-free: latest inputs -> arbitrator -> safety filter.

The invariant it keeps: between two consecutive commands no joint moves more than `max_step`, and
two commands are never sent in the same control period of the node clock (a flood of policy
commands cannot move the arms faster). The one exception is an explicit reset from the robot side
(`EpisodeEvent` RESET from the sim or a driver, or START): the robot moved the arms itself, so the
commanded pose restarts from the measured one (the arms are commanded to stay where they are) and
ramps from there. A measured pose that jumps without such an event is never followed: it is
reported and the arms hold until the readings agree with the command again or a reset comes.

Thread-safe (subscription callbacks, the service, the keyboard thread and the timer all call in).
Vectors are 14-D JOINT_NAMES order with normalised grippers; times are node-clock seconds.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, replace

import numpy as np

from recap_core.aloha_layout import ARMS, JOINT_NAMES, JOINTS_PER_ARM, join_arms
from recap_core.pose_jump import JUMP_RAD, PoseJumpDetector
from recap_core.stamps import seconds_to_ns
from recap_teleop.takeover import ArbitrationConfig, Arbitrator, ControlState, Decision, Source
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
        self.counts = [0] * len(ARMS)  # readings received per arm (orders readings where sim time cannot)

    def update(self, arm_index: int, vec7: np.ndarray, now: float) -> None:
        self.vectors[arm_index] = np.asarray(vec7, dtype=np.float64)
        self.times[arm_index] = now
        self.counts[arm_index] += 1

    def joined(self) -> tuple[np.ndarray | None, float | None]:
        if any(v is None for v in self.vectors):
            return None, None
        return join_arms(*self.vectors), min(self.times)

    def received_after(self, counts: list[int]) -> bool:
        """Both arms have a reading newer than the snapshot `counts`."""
        return all(now > then for now, then in zip(self.counts, counts))


_ARM_JOINTS = np.array([i % JOINTS_PER_ARM != JOINTS_PER_ARM - 1 for i in range(len(JOINT_NAMES))])


def farthest_arm_joint(measured: np.ndarray, commanded: np.ndarray) -> tuple[float, str]:
    """The largest |measured - commanded| over the arm joints (grippers left out: a gripper that
    squeezes an object measures wider than commanded) and that joint's name."""
    diff = np.where(_ARM_JOINTS, np.abs(measured - commanded), 0.0)
    j = int(np.argmax(diff))
    return float(diff[j]), JOINT_NAMES[j]


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
        self._period_ns = seconds_to_ns(safety.control_period)
        self._last_output_period: int | None = None
        self._resync_after: list[int] | None = None  # a reset was announced after these readings
        self.jump_hold: str | None = None  # why the arms hold after an unannounced pose jump
        self.last_decision: Decision | None = None

    # Inputs ---------------------------------------------------------------------------------------------
    def policy_command(self, command14: np.ndarray, now: float) -> None:
        with self._lock:
            self._policy, self._policy_time = np.asarray(command14, dtype=np.float64), now

    def leader(self, arm_index: int, vec7: np.ndarray, now: float) -> None:
        with self._lock:
            self._leader.update(arm_index, vec7, now)

    def follower(self, arm_index: int, vec7: np.ndarray, now: float) -> str | None:
        """Record one arm's measured 7-vector. Returns a message to log when the jump hold begins
        or ends (None otherwise)."""
        with self._lock:
            self._follower.update(arm_index, vec7, now)
            jumped = self._follower_jumps.update(arm_index, vec7)
            pose, _ = self._follower.joined()
            if pose is None or not np.isfinite(pose).all():
                return None
            if self.filter.pose is None:  # the first full reading: nothing was commanded yet
                self.filter.initialise(pose)
                return None
            if self._resync_after is not None:  # a reset was announced: jumps are expected until re-synced
                if self._follower.received_after(self._resync_after):
                    self._resync(pose)
                return None
            gap, joint = farthest_arm_joint(pose, self.filter.pose)
            if jumped and self.jump_hold is None and gap > JUMP_RAD:
                self.jump_hold = (f"follower pose jumped without a reset: {joint} measured {gap:.2f} rad from the "
                                  f"command (more than {JUMP_RAD} rad between two readings); holding the arms")
                return self.jump_hold
            if self.jump_hold is not None and gap <= JUMP_RAD:
                self.jump_hold = None
                return f"follower pose agrees with the command again ({joint} within {gap:.2f} rad); hold released"
            return None

    def announce_reset(self) -> None:
        """The robot side moved the arms (a sim reset, a driver re-homing, a new episode): restart the
        commanded pose from the first reading of both arms received after this call. Not from the
        latest reading: it may predate the reset (readings and events travel on separate topics)."""
        with self._lock:
            self._resync_after = list(self._follower.counts)

    def _resync(self, pose: np.ndarray) -> None:
        # Forget the policy's command too: it was computed from the old pose; hold until a fresh one.
        self.filter.initialise(pose)
        self._policy, self._policy_time = None, None
        self._resync_after, self.jump_hold = None, None

    def new_episode(self) -> None:
        self.announce_reset()
        with self._lock:
            self.arbitrator.new_episode()

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

    def reported_state(self) -> ControlState:
        """Who is in control, as published; SAFETY while an unannounced pose jump holds the arms."""
        with self._lock:
            state = self.arbitrator.state
            if self.jump_hold is not None:
                state = replace(state, source=Source.SAFETY, detail=self.jump_hold)
            return state

    @property
    def human_in_control(self) -> bool:
        return self.arbitrator.state.human_in_control

    # The tick -------------------------------------------------------------------------------------------
    def tick(self, now: float) -> TickResult | None:
        """The command for this control period, or None when this period already had its command."""
        with self._lock:
            period = seconds_to_ns(now) // self._period_ns
            last = self._last_output_period
            if last is not None and period == last:
                return None
            leader, leader_time = self._leader.joined()
            if leader is not None:
                decision = self.arbitrator.observe_leader(now, leader, self._match_pose(), self.filter.pose)
                if decision is not None:
                    self.last_decision = decision
            if self.arbitrator.state.human_in_control:
                candidate, when = leader, leader_time
            else:
                candidate, when = self._policy, self._policy_time
            if self._resync_after is not None and self.filter.estop_reason is None:
                output = self.filter.hold("reset announced: waiting for fresh follower joint states")
            elif self.jump_hold is not None and self.filter.estop_reason is None:
                output = self.filter.hold(self.jump_hold)
            else:
                output = self.filter.tick(now, candidate, when)
            if output.command is not None:
                self._last_output_period = period  # a clock that went back (a restarted sim) starts a new grid
            state = self.arbitrator.state
            if output.holding:
                state = replace(state, source=Source.SAFETY, detail=output.reason)
            return TickResult(output, state, None if self._policy is None else self._policy.copy())
