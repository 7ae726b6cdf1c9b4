"""The arbitration safety invariant as a property, over generated sequences of everything that can
reach the arbitration core: policy commands (floods, far targets, NaN, 1e30), leader readings,
follower readings (tracking, spurious jumps, NaN), takeover and hand-back requests, e-stop,
announced resets and episode starts, and a clock that advances by fractions of a period, whole
periods, long gaps, or goes back; and reset-to-home requests. It runs for each shipped robot shape:
the 14-D ALOHA (two arms) and the 7-D single arm.

Invariant: every command sent is finite and within the joint limits; two commands are never sent
in the same control period; between two consecutive commands no joint moves more than the step
bound (max_step, tighter where the velocity limit is). The commanded pose restarts from a measured
one only at the first reading or after an announced reset, and then at that measured pose.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recap_core.robot_description import RobotDescription
from recap_teleop.takeover import ArbitrationConfig, Source
from robots import ROBOTS, core, safety, split

PERIOD_NS = round(0.02 * 1e9)
# Clock advance per event, in control periods: none, a fraction, one, a few, past the watchdog, back.
ADVANCES = (0.0, 0.0, 0.1, 0.5, 1.0, 1.0, 1.0, 2.0, 3.5, 12.0, -3.0)
KINDS = ("policy", "policy", "policy", "leader", "follower", "follower", "human", "policy_back",
         "estop", "release", "reset", "start", "home")
VALUES = ("near", "near", "near", "far", "nan", "huge", "jump")

event = st.tuples(st.sampled_from(KINDS), st.sampled_from(VALUES), st.integers(0, 2**16),
                  st.sampled_from(ADVANCES))


@dataclass(frozen=True)
class Shape:
    """A robot's dimension, limits, step bound and a pose inside the limits to start from."""

    robot: RobotDescription
    lower: np.ndarray
    upper: np.ndarray
    bound: np.ndarray
    start: np.ndarray

    @classmethod
    def of(cls, robot: RobotDescription) -> "Shape":
        config = safety(robot)
        lower, upper, _ = config.limits()
        arm = [0.0, -0.9, 1.2, 0.0, 0.3, 0.0, 0.5]
        start = np.concatenate([arm[:len(a.joints)] + [0.5] for a in robot.follower_arms])
        return cls(robot, lower, upper, config.step_bound(), np.clip(start, lower, upper))

    @property
    def dim(self) -> int:
        return self.robot.action_dim


SHAPES = [Shape.of(robot) for robot in ROBOTS]


def value(shape: Shape, kind: str, seed: int, around: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "near":
        return around + rng.uniform(-0.08, 0.08, shape.dim)
    if kind == "far":
        return rng.uniform(-4.0, 4.0, shape.dim)
    if kind == "jump":  # one joint off by about 1 rad, the rest where they were
        out = around.copy()
        out[rng.integers(shape.dim)] += rng.choice([-1.0, 1.0]) * rng.uniform(0.6, 2.0)
        return out
    out = around.copy()
    out[rng.integers(shape.dim)] = np.nan if kind == "nan" else rng.choice([-1e30, 1e30])
    return out


class Checked:
    """An ArbitrationCore whose every re-sync of the commanded pose is recorded."""

    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self.core = core(shape.robot, ArbitrationConfig(leader_motion_threshold_rad=0.3))
        self.resyncs: list[np.ndarray] = []
        self.announced = 0
        initialise = self.core.filter.initialise

        def recorded(pose: np.ndarray) -> None:
            initialise(pose)
            self.resyncs.append(self.core.filter.pose)

        self.core.filter.initialise = recorded
        self.arms = split(shape.robot, shape.start)  # each arm's latest measured vector
        self.checked = 0  # re-syncs checked so far

    def check_resyncs(self) -> None:
        """Re-syncs happen only at the first reading or after an announced reset, at the measured pose."""
        assert len(self.resyncs) <= 1 + self.announced
        for pose in self.resyncs[self.checked:]:
            np.testing.assert_allclose(pose, np.clip(np.concatenate(self.arms), self.shape.lower, self.shape.upper))
        self.checked = len(self.resyncs)


def run(shape: Shape, events) -> set[str]:
    """Feed `events`, tick after each, check the invariant; returns the modes the commands went out in."""
    checked = Checked(shape)
    core = checked.core
    now_ns = 10 * PERIOD_NS
    last_command: np.ndarray | None = None
    last_period: int | None = None
    seen_resyncs = 0
    modes: set[str] = set()
    for kind, which, seed, advance in events:
        now_ns = max(0, now_ns + round(advance * PERIOD_NS))
        now = now_ns * 1e-9
        reference = shape.start if core.filter.pose is None else core.filter.pose
        if kind == "policy":
            core.policy_command(value(shape, which, seed, reference), now)
        elif kind == "leader":
            for i, arm in enumerate(split(shape.robot, value(shape, which, seed, reference))):
                core.leader(i, arm, now)
        elif kind == "follower":
            reading = value(shape, which, seed, reference if which != "jump" else np.concatenate(checked.arms))
            for i, arm in enumerate(split(shape.robot, reading)):
                core.follower(i, arm, now)
                checked.arms[i] = arm
                checked.check_resyncs()
        elif kind in ("human", "policy_back"):
            core.request(kind == "human", Source.TOPIC, now)
        elif kind in ("estop", "release"):
            core.set_estop(kind == "estop", "test")
        elif kind == "reset":
            core.announce_reset()
            checked.announced += 1
        elif kind == "start":
            core.new_episode()
            checked.announced += 1
        elif kind == "home":
            core.home(value(shape, which, seed, shape.start))
        result = core.tick(now)
        period = now_ns // PERIOD_NS
        checked.check_resyncs()
        if len(checked.resyncs) > seen_resyncs:
            last_command, seen_resyncs = checked.resyncs[-1], len(checked.resyncs)
            modes.add("resync")
        if result is None or result.output.command is None:
            continue
        command = result.output.command
        out = result.output
        modes.add(("hold: " + out.reason.split(":")[0].split(" ")[0]) if out.holding else
                  "home" if core.homing else ("human" if result.state.human_in_control else "policy"))
        assert np.isfinite(command).all()
        assert (command >= shape.lower).all() and (command <= shape.upper).all()
        if last_period is not None and period >= last_period:
            assert period > last_period, "two commands in one control period"
        if last_command is not None:
            step = np.abs(command - last_command)
            assert (step <= shape.bound + 1e-12).all(), f"step {step.max():.4f} past the bound"
        last_command, last_period = command, period
    return modes


@pytest.mark.parametrize("shape", SHAPES, ids=[s.robot.name for s in SHAPES])
@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                     HealthCheck.function_scoped_fixture])
@given(first=st.tuples(st.sampled_from(("near", "jump")), st.integers(0, 2**16)),
       events=st.lists(event, min_size=1, max_size=40))
def test_no_command_steps_past_the_bound_in_any_mode_or_transition(shape, first, events):
    # The arms report first (as a robot does), then anything can happen.
    run(shape, [("follower", first[0], first[1], 0.0), *events])


@pytest.mark.parametrize("shape", SHAPES, ids=[s.robot.name for s in SHAPES])
def test_the_event_alphabet_reaches_every_mode(shape):
    """Guard against a vacuous property: sequences of the same events do send policy and human
    commands, re-sync, and hold for every reason."""
    events = [("follower", "near", 1, 0.0), ("policy", "near", 2, 1.0), ("leader", "near", 3, 0.0),
              ("human", "near", 0, 1.0), ("leader", "near", 3, 1.0), ("policy_back", "near", 0, 1.0),
              ("policy", "near", 2, 1.0), ("follower", "jump", 4, 1.0), ("policy", "far", 5, 1.0),
              ("reset", "near", 0, 1.0), ("follower", "near", 6, 1.0), ("estop", "near", 0, 1.0),
              ("release", "near", 0, 1.0), ("policy", "nan", 7, 1.0), ("policy", "near", 8, 1.0),
              ("follower", "near", 9, 12.0), ("home", "far", 10, 1.0), ("policy_back", "near", 0, 1.0)]
    modes = run(shape, events)
    assert {"policy", "human", "resync", "hold: follower", "hold: reset", "hold: e-stop", "hold: rejected",
            "hold: watchdog", "hold: no", "home"} <= modes, modes
