"""The safety filter: limits, step/velocity bounds, NaN/inf rejection, watchdog, e-stop (property-based)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dataclasses import replace

from recap_teleop.safety_filter import SafetyConfig, SafetyFilter
from robots import SINGLE, safety

CONFIG = safety()
ACTION_DIM = CONFIG.dim
LOWER, UPPER, VMAX = CONFIG.limits()
HOME = np.clip(np.zeros(ACTION_DIM), LOWER, UPPER)
BOUND = np.minimum(CONFIG.max_step, VMAX * CONFIG.control_period)

finite = st.floats(-10, 10, allow_nan=False)
anything = st.one_of(finite, st.just(np.nan), st.just(np.inf), st.just(-np.inf))
in_limits = arrays(np.float64, ACTION_DIM, elements=st.floats(0, 1)).map(lambda u: LOWER + u * (UPPER - LOWER))


def started(pose=HOME) -> SafetyFilter:
    f = SafetyFilter(CONFIG)
    f.initialise(pose)
    return f


@settings(max_examples=200, deadline=None)
@given(start=in_limits, commands=st.lists(arrays(np.float64, ACTION_DIM, elements=anything), min_size=1, max_size=20))
def test_every_output_is_finite_in_limits_and_within_one_step(start, commands):
    f = started(start)
    previous = f.pose
    for i, cmd in enumerate(commands):
        out = f.tick(now=i * 0.02, candidate=cmd, candidate_time=i * 0.02)
        assert np.isfinite(out.command).all()
        assert (out.command >= LOWER).all() and (out.command <= UPPER).all()
        assert (np.abs(out.command - previous) <= BOUND + 1e-12).all()
        previous = out.command


@settings(max_examples=100, deadline=None)
@given(start=in_limits, cmd=arrays(np.float64, ACTION_DIM, elements=anything).filter(lambda a: not np.isfinite(a).all()))
def test_a_command_with_any_nan_or_inf_is_rejected_whole_and_the_pose_holds(start, cmd):
    f = started(start)
    out = f.tick(0.0, cmd, 0.0)
    assert out.holding and "non-finite" in out.reason
    np.testing.assert_array_equal(out.command, f.pose)
    np.testing.assert_allclose(out.command, np.clip(start, LOWER, UPPER))
    assert f.rejected == 1


@settings(max_examples=100, deadline=None)
@given(start=in_limits, target=in_limits)
def test_a_reachable_target_is_reached_exactly_and_never_overshot(start, target):
    f = started(start)
    steps = int(np.ceil(np.max(np.abs(target - start) / BOUND))) + 1
    distances = []
    for i in range(steps):
        out = f.tick(i * 0.02, target, i * 0.02)
        distances.append(np.abs(out.command - target))
    np.testing.assert_allclose(out.command, target)
    assert all((later <= earlier + 1e-12).all() for earlier, later in zip(distances, distances[1:]))


def test_out_of_limit_targets_are_clipped_to_the_limits():
    f = started()
    for i in range(200):
        out = f.tick(i * 0.02, UPPER + 5.0, i * 0.02)
    np.testing.assert_allclose(out.command, UPPER)
    assert out.clipped


def test_velocity_limit_binds_when_tighter_than_max_step():
    f = SafetyFilter(replace(CONFIG, max_velocity=tuple([0.5] * ACTION_DIM)))
    f.initialise(HOME)
    out = f.tick(0.0, HOME + 1.0, 0.0)
    np.testing.assert_allclose(np.abs(out.command - HOME), 0.5 * 0.02)


def test_watchdog_holds_when_the_command_is_older_than_the_timeout():
    f = started()
    fresh = f.tick(0.0, HOME + 0.01, 0.0)
    assert not fresh.holding
    stale = f.tick(0.25, HOME + 0.04, 0.0)
    assert stale.holding and "watchdog" in stale.reason
    np.testing.assert_array_equal(stale.command, fresh.command)
    resumed = f.tick(0.27, HOME + 0.04, 0.27)
    assert not resumed.holding


def test_no_command_yet_holds_and_no_follower_yet_sends_nothing():
    f = SafetyFilter(CONFIG)
    out = f.tick(0.0, HOME, 0.0)
    assert out.command is None and out.holding and "follower" in out.reason
    f.initialise(HOME)
    out = f.tick(0.0, None, None)
    assert out.holding and out.reason == "no command yet"
    np.testing.assert_array_equal(out.command, HOME)


def test_estop_holds_and_reports_until_released():
    f = started()
    f.set_estop(True, "/estop is true")
    out = f.tick(0.0, HOME + 0.04, 0.0)
    assert out.holding and "e-stop" in out.reason and "/estop" in out.reason
    np.testing.assert_array_equal(out.command, HOME)
    f.set_estop(False)
    assert not f.tick(0.02, HOME + 0.04, 0.02).holding


def test_wrong_dimension_is_rejected():
    f = started()
    out = f.tick(0.0, np.zeros(7), 0.0)
    assert out.holding and "shape" in out.reason


def test_the_dimension_and_limits_come_from_the_description():
    config = SafetyConfig.from_description(SINGLE, max_step=0.05, watchdog_timeout_s=0.2)
    assert config.dim == 7 and config.joint_names == SINGLE.joint_names
    assert config.control_period == 1 / 30
    np.testing.assert_allclose(config.limits()[1], SINGLE.limits()[1])
    f = SafetyFilter(config)
    f.initialise(np.zeros(7))
    out = f.tick(0.0, np.full(7, 9.0), 0.0)
    np.testing.assert_allclose(out.command, np.minimum(0.05, SINGLE.limits()[2] / 30))
    bad = np.zeros(7)
    bad[2] = np.nan
    assert "elbow" in f.tick(0.0, bad, 0.0).reason


def test_initialising_from_a_non_finite_follower_pose_is_an_error():
    with pytest.raises(ValueError, match="finite"):
        SafetyFilter(CONFIG).initialise(np.full(ACTION_DIM, np.nan))


@pytest.mark.parametrize("field,value", [("max_step", 0.0), ("watchdog_timeout_s", -1.0), ("control_period", np.nan)])
def test_config_rejects_non_positive_values(field, value):
    with pytest.raises(ValueError, match=field):
        replace(CONFIG, **{field: value})


def test_config_rejects_limits_of_another_dimension():
    with pytest.raises(ValueError, match="14 entries"):
        replace(CONFIG, lower=CONFIG.lower[:7])
