"""One control tick of the arbitration node, ROS-free: latest inputs -> arbitrator -> safety filter.

The invariant it keeps: between two consecutive commands no joint moves more than `max_step`, and
two commands are never sent in the same control period of the node clock (a flood of policy
commands cannot move the arms faster). The one exception is an explicit reset from the robot side
(`EpisodeEvent` RESET from the sim or a driver, or START): the robot moved the arms itself, so the
commanded pose restarts from the measured one (the arms are commanded to stay where they are) and
ramps from there. A measured pose that jumps without such an event is never followed: it is
reported and the arms hold until the readings agree with the command again or a reset comes.

Reset to home (`home`) is the third source of commands, after the policy and the human: accepted
while the policy is not driving, it ramps the arms to the home pose through the same filter and
holds them there until control changes hands (a takeover or hand-back request), a fresh policy
command arrives in policy mode, the e-stop engages, or the robot side announces a reset.

Thread-safe (subscription callbacks, the services, the keyboard thread and the timer all call in).
Vectors are (D,) in the layout's joint_names order with normalised grippers; times are node-clock
seconds.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from recap_core.pose_jump import JUMP_RAD, PoseJumpDetector
from recap_core.robot_description import RobotDescription
from recap_core.stamps import seconds_to_ns
from recap_teleop.takeover import ArbitrationConfig, Arbitrator, ControlState, Decision, Source
from recap_teleop.safety_filter import SafetyConfig, SafetyFilter, SafetyOutput

MODES = ("policy", "human", "hold")  # what drives the arms, as diagnostics report it


@dataclass(frozen=True)
class ArmLayout:
    """How the (D,) vector splits into arms: each arm's entries in order, its gripper last."""

    joint_names: tuple[str, ...]
    follower_sizes: tuple[int, ...]  # entries per follower arm, in vector order
    leader_sizes: tuple[int, ...]  # entries per leader arm (empty: no leader arms)

    def __post_init__(self) -> None:
        dim = len(self.joint_names)
        if sum(self.follower_sizes) != dim or (self.leader_sizes and sum(self.leader_sizes) != dim):
            raise ValueError(f"arm sizes {self.follower_sizes} / {self.leader_sizes} do not add up to {dim} joints")

    @classmethod
    def from_description(cls, robot: RobotDescription) -> ArmLayout:
        return cls(robot.joint_names, tuple(len(a.joint_names) for a in robot.follower_arms),
                   tuple(len(a.joint_names) for a in robot.leader_arms))

    @property
    def gripper_indices(self) -> tuple[int, ...]:
        return tuple(int(i) - 1 for i in np.cumsum(self.follower_sizes))


@dataclass(frozen=True)
class TickResult:
    output: SafetyOutput  # what goes to the arms (command None: nothing can be sent yet)
    state: ControlState  # as published: SAFETY while the filter holds, else the arbitrator's state
    proposed: np.ndarray | None  # the policy's latest command (what it would have done)


class _ArmReadings:
    """Latest vectors of each arm; the set's time is the oldest arm's."""

    def __init__(self, sizes: tuple[int, ...]) -> None:
        self.sizes = sizes
        self.vectors: list[np.ndarray | None] = [None] * len(sizes)
        self.times: list[float] = [0.0] * len(sizes)
        self.counts = [0] * len(sizes)  # readings received per arm (orders readings where sim time cannot)
        self.stale: dict[int, str] = {}  # arm index -> why its latest reading was unusable

    def update(self, arm_index: int, vec: np.ndarray, now: float) -> None:
        vec = np.asarray(vec, dtype=np.float64)
        if vec.shape != (self.sizes[arm_index],):
            raise ValueError(f"arm {arm_index} has {self.sizes[arm_index]} entries, got shape {vec.shape}")
        self.vectors[arm_index] = vec
        self.times[arm_index] = now
        self.counts[arm_index] += 1
        self.stale.pop(arm_index, None)

    def mark_stale(self, arm_index: int, reason: str) -> None:
        self.stale[arm_index] = reason

    def stale_reason(self) -> str | None:
        return next(iter(self.stale.values()), None)

    def joined(self) -> tuple[np.ndarray | None, float | None]:
        if not self.vectors or any(v is None for v in self.vectors):
            return None, None
        return np.concatenate(self.vectors), min(self.times)

    def received_after(self, counts: list[int]) -> bool:
        """Every arm has a reading newer than the snapshot `counts`."""
        return all(now > then for now, then in zip(self.counts, counts))


def farthest_arm_joint(measured: np.ndarray, commanded: np.ndarray, layout: ArmLayout) -> tuple[float, str]:
    """The largest |measured - commanded| over the arm joints (grippers left out: a gripper that
    squeezes an object measures wider than commanded) and that joint's name."""
    diff = np.abs(measured - commanded)
    diff[list(layout.gripper_indices)] = 0.0
    j = int(np.argmax(diff))
    return float(diff[j]), layout.joint_names[j]


class RateMeter:
    """Events per second over the last `window_s` of the node clock."""

    def __init__(self, window_s: float = 1.0) -> None:
        self.window_s = window_s
        self._times: deque[float] = deque()

    def add(self, now: float) -> None:
        self._times.append(now)
        self._drop(now)

    def rate(self, now: float) -> float:
        self._drop(now)
        return len(self._times) / self.window_s

    def _drop(self, now: float) -> None:
        while self._times and self._times[0] <= now - self.window_s:
            self._times.popleft()


class ArbitrationCore:
    def __init__(self, arbitration: ArbitrationConfig, safety: SafetyConfig, layout: ArmLayout) -> None:
        if layout.joint_names != safety.joint_names:
            raise ValueError(f"the arm layout's joints {layout.joint_names} differ from the safety filter's "
                             f"{safety.joint_names}")
        self.layout = layout
        self.arbitrator = Arbitrator(arbitration, layout.joint_names)
        self.filter = SafetyFilter(safety)
        self._lock = threading.Lock()
        self._policy: np.ndarray | None = None
        self._policy_time: float | None = None
        self._leader = _ArmReadings(layout.leader_sizes)
        self._follower = _ArmReadings(layout.follower_sizes)
        self._follower_jumps = PoseJumpDetector()
        self._period_ns = seconds_to_ns(safety.control_period)
        self._last_output_period: int | None = None
        self._resync_after: list[int] | None = None  # a reset was announced after these readings
        self._home: np.ndarray | None = None  # the home pose while homing
        self._holding = True  # the latest tick held (or there was none yet)
        self.commands = RateMeter()  # commands sent to the arms
        self.jump_hold: str | None = None  # why the arms hold after an unannounced pose jump
        self.last_decision: Decision | None = None

    # Inputs ---------------------------------------------------------------------------------------------
    def policy_command(self, command: np.ndarray, now: float) -> None:
        with self._lock:
            self._policy, self._policy_time = np.asarray(command, dtype=np.float64), now
            if not self.arbitrator.state.human_in_control:
                self._home = None  # the policy drives again

    def leader(self, arm_index: int, vec: np.ndarray, now: float) -> None:
        with self._lock:
            self._leader.update(arm_index, vec, now)

    def follower(self, arm_index: int, vec: np.ndarray, now: float) -> str | None:
        """Record one arm's measured vector. Returns a message to log when the jump hold begins
        or ends (None otherwise)."""
        with self._lock:
            self._follower.update(arm_index, vec, now)
            jumped = self._follower_jumps.update(arm_index, vec)
            pose, _ = self._follower.joined()
            if pose is None or not np.isfinite(pose).all():
                return None
            if self.filter.pose is None:  # the first full reading: nothing was commanded yet, start here
                self.filter.initialise(pose)
                self._resync_after = None
                return None
            if self._resync_after is not None:  # a reset was announced: jumps are expected until re-synced
                if self._follower.received_after(self._resync_after):
                    self._resync(pose)
                return None
            gap, joint = farthest_arm_joint(pose, self.filter.pose, self.layout)
            if jumped and self.jump_hold is None and gap > JUMP_RAD:
                self.jump_hold = (f"follower pose jumped without a reset: {joint} measured {gap:.2f} rad from the "
                                  f"command (more than {JUMP_RAD} rad between two readings); holding the arms")
                return self.jump_hold
            if self.jump_hold is not None and gap <= JUMP_RAD:
                self.jump_hold = None
                return f"follower pose agrees with the command again ({joint} within {gap:.2f} rad); hold released"
            return None

    def stale(self, leader: bool, arm_index: int, reason: str) -> None:
        """An arm's reading lacks a joint the description needs: the arm is stale until it reports in
        full again, and the arms hold meanwhile (a stale leader only matters in human mode)."""
        with self._lock:
            (self._leader if leader else self._follower).mark_stale(arm_index, reason)

    def announce_reset(self) -> None:
        """The robot side moved the arms (a sim reset, a driver re-homing, a new episode): restart the
        commanded pose from the first reading of every arm received after this call. Not from the
        latest reading: it may predate the reset (readings and events travel on separate topics)."""
        with self._lock:
            self._resync_after = list(self._follower.counts)
            self._home = None

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
            if self.last_decision.accepted:
                self._home = None  # control changed hands (or was confirmed): homing ends
            return self.last_decision

    def home(self, target: np.ndarray) -> Decision:
        """Ramp the arms to `target` (D,) through the filter and hold them there; refused while the
        policy drives, during an e-stop and before the arms have reported."""
        with self._lock:
            if self.filter.pose is None:
                return Decision(False, "home refused: no follower joint states yet")
            if self.filter.estop_reason is not None:
                return Decision(False, f"home refused: e-stop engaged ({self.filter.estop_reason})")
            if self._mode() == "policy":
                return Decision(False, "home refused: the policy is driving the arms; take over or stop the "
                                       "policy first")
            lower, upper, _ = self.filter.config.limits()
            self._home = np.clip(np.asarray(target, dtype=np.float64), lower, upper)
            gap, joint = farthest_arm_joint(self._home, self.filter.pose, self.layout)
            return Decision(True, f"moving to home ({joint} {gap:.2f} rad away) at most "
                                  f"{self.filter.config.max_step} per tick")

    def set_estop(self, engaged: bool, reason: str) -> None:
        with self._lock:
            self.filter.set_estop(engaged, reason)
            if engaged:
                self._home = None

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

    @property
    def homing(self) -> bool:
        return self._home is not None

    def mode(self) -> str:
        """What drives the arms (one of MODES): the human, the policy, or nothing (the arms hold:
        watchdog, e-stop, a rejected command, homing, no command yet)."""
        with self._lock:
            return self._mode()

    def _mode(self) -> str:
        if self.arbitrator.state.human_in_control and self._home is None:
            return "human"
        return "hold" if self._holding or self._home is not None else "policy"

    # The tick -------------------------------------------------------------------------------------------
    def tick(self, now: float) -> TickResult | None:
        """The command for this control period, or None when this period already had its command."""
        with self._lock:
            period = seconds_to_ns(now) // self._period_ns
            last = self._last_output_period
            if last is not None and period == last:
                return None
            leader, leader_time = self._leader.joined()
            if leader is not None and self._home is None:
                decision = self.arbitrator.observe_leader(now, leader, self._match_pose(), self.filter.pose)
                if decision is not None:
                    self.last_decision = decision
            if self._home is not None:
                candidate, when = self._home, now
            elif self.arbitrator.state.human_in_control:
                candidate, when = leader, leader_time
            else:
                candidate, when = self._policy, self._policy_time
            stale = self._follower.stale_reason() or (
                self._leader.stale_reason() if self.arbitrator.state.human_in_control and self._home is None else None)
            if stale is not None and self.filter.estop_reason is None:
                output = self.filter.hold(f"stale arm: {stale}")
            elif self._resync_after is not None and self.filter.estop_reason is None:
                output = self.filter.hold("reset announced: waiting for fresh follower joint states")
            elif self.jump_hold is not None and self.filter.estop_reason is None:
                output = self.filter.hold(self.jump_hold)
            else:
                output = self.filter.tick(now, candidate, when)
            if output.command is not None:
                self._last_output_period = period  # a clock that went back (a restarted sim) starts a new grid
                self.commands.add(now)
            self._holding = output.holding
            state = self.arbitrator.state
            if output.holding:
                state = replace(state, source=Source.SAFETY, detail=output.reason)
            elif self._home is not None:
                at_home = np.array_equal(output.command, self._home)
                state = replace(state, detail="at home" if at_home else "moving to home")
            return TickResult(output, state, None if self._policy is None else self._policy.copy())
