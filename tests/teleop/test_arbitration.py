"""Arbitration state machine and one arbitration tick (ROS-free)."""
import numpy as np
import pytest

from recap_msgs.msg import InterventionState
from recap_teleop.arbitration_core import ArbitrationCore
from recap_teleop.takeover import ArbitrationConfig, Arbitrator, Source
from robots import ALOHA, safety
from robots import core as make_core
from robots import split

ACTION_DIM = ALOHA.action_dim
NAMES = ALOHA.joint_names
POSE = np.linspace(-0.3, 0.3, ACTION_DIM)
POSE[[6, 13]] = 0.5  # grippers (normalised) mid-way
SAFETY = safety()


def split_arms(vector: np.ndarray) -> list[np.ndarray]:
    return split(ALOHA, vector)


def test_sources_mirror_the_message_constants():
    for source in Source:
        assert getattr(InterventionState, f"SOURCE_{source.name}") == source.value


def test_takeover_accepted_when_leader_matches_and_counted():
    arb = Arbitrator(ArbitrationConfig(), NAMES)
    d = arb.request(True, Source.PEDAL, 1.0, POSE + 0.5, POSE)
    assert d.accepted
    assert arb.state.human_in_control and arb.state.source == Source.PEDAL
    assert arb.state.since == 1.0 and arb.state.intervention_count == 1


def test_takeover_refused_beyond_threshold_names_the_joint_and_gap():
    arb = Arbitrator(ArbitrationConfig(takeover_threshold_rad=0.8), NAMES)
    leader = POSE.copy()
    leader[9] += 0.93
    d = arb.request(True, Source.TOPIC, 1.0, leader, POSE)
    assert not d.accepted
    assert "0.93 rad" in d.message and "right_elbow" in d.message and "0.80" in d.message
    assert not arb.state.human_in_control and arb.state.detail == d.message


def test_takeover_refused_without_leader_states():
    d = Arbitrator(ArbitrationConfig(), NAMES).request(True, Source.SERVICE, 0.0, None, POSE)
    assert not d.accepted and "no leader joint states" in d.message


def test_hand_back_and_repeated_requests():
    arb = Arbitrator(ArbitrationConfig(), NAMES)
    assert arb.request(False, Source.TOPIC, 0.0, POSE, POSE).message == "policy already in control"
    arb.request(True, Source.KEYBOARD, 1.0, POSE, POSE)
    assert arb.request(True, Source.KEYBOARD, 1.5, POSE, POSE).message == "human already in control"
    d = arb.request(False, Source.KEYBOARD, 2.0, POSE, POSE)
    assert d.accepted and not arb.state.human_in_control and arb.state.since == 2.0
    arb.request(True, Source.PEDAL, 3.0, POSE, POSE)
    assert arb.state.intervention_count == 2
    arb.new_episode()
    assert arb.state.intervention_count == 0


def test_leader_motion_triggers_takeover_only_beyond_threshold():
    arb = Arbitrator(ArbitrationConfig(leader_motion_threshold_rad=0.1), NAMES)
    assert arb.observe_leader(0.0, POSE, POSE) is None  # first sight: the rest pose
    assert arb.observe_leader(0.1, POSE + 0.09, POSE) is None
    d = arb.observe_leader(0.2, POSE + 0.11, POSE)
    assert d.accepted and arb.state.source == Source.LEADER_MOTION


def test_leader_motion_far_from_follower_is_refused_not_taken():
    arb = Arbitrator(ArbitrationConfig(leader_motion_threshold_rad=0.1), NAMES)
    arb.observe_leader(0.0, POSE + 1.0, POSE)
    d = arb.observe_leader(0.1, POSE + 1.2, POSE)
    assert not d.accepted and not arb.state.human_in_control


def test_leader_motion_relative_to_the_commanded_pose_for_driven_leaders():
    arb = Arbitrator(ArbitrationConfig(leader_motion_threshold_rad=0.1, leader_motion_reference="command"), NAMES)
    # The leader tracks the commanded pose as it moves: no trigger, however far the arms travel.
    for k in range(5):
        assert arb.observe_leader(0.02 * k, POSE + 0.3 * k, POSE, commanded=POSE + 0.3 * k + 0.05) is None
    d = arb.observe_leader(0.2, POSE + 0.15, POSE, commanded=POSE)  # pulled away from the command
    assert d.accepted and arb.state.source == Source.LEADER_MOTION


def test_leader_motion_disabled():
    arb = Arbitrator(ArbitrationConfig(auto_takeover=False), NAMES)
    arb.observe_leader(0.0, POSE, POSE)
    assert arb.observe_leader(0.1, POSE + 0.5, POSE) is None


def _core() -> ArbitrationCore:
    core: ArbitrationCore = make_core()
    for i, arm in enumerate(split_arms(POSE)):
        core.follower(i, arm, 0.0)
        core.leader(i, arm, 0.0)
    return core


def test_tick_forwards_policy_then_switches_to_leader_within_one_tick_with_bounded_step():
    core = _core()
    core.policy_command(POSE + 0.01, 0.0)
    first = core.tick(0.0)
    np.testing.assert_allclose(first.output.command, POSE + 0.01)
    np.testing.assert_allclose(first.proposed, POSE + 0.01)
    leader = POSE + 0.3
    for i, arm in enumerate(split_arms(leader)):
        core.leader(i, arm, 0.02)
    assert core.request(True, Source.PEDAL, 0.02).accepted
    second = core.tick(0.02)
    step = second.output.command - first.output.command
    assert (step > 0).all() and np.abs(step).max() <= SAFETY.max_step + 1e-12  # heading to the leader, bounded
    assert second.state.human_in_control and second.state.source == Source.PEDAL


def test_policy_silence_makes_the_tick_hold_and_report_safety():
    core = _core()
    core.policy_command(POSE, 0.0)
    core.tick(0.0)
    out = core.tick(0.5)
    assert out.output.holding and out.state.source == Source.SAFETY and "watchdog" in out.state.detail
    np.testing.assert_allclose(out.output.command, POSE)


def test_nan_policy_command_is_not_executed():
    core = _core()
    bad = POSE.copy()
    bad[3] = np.nan
    core.policy_command(bad, 0.0)
    out = core.tick(0.0)
    assert out.output.holding and "non-finite" in out.state.detail and "left_forearm_roll" in out.state.detail
    np.testing.assert_allclose(out.output.command, POSE)


def test_hand_back_resumes_policy_from_current_pose_without_jump():
    core = _core()
    core.request(True, Source.TOPIC, 0.0)
    core.leader(0, split_arms(POSE)[0], 0.0)
    held = core.tick(0.0).output.command
    core.request(False, Source.TOPIC, 0.02)
    core.policy_command(POSE - 0.6, 0.02)  # the policy's plan is far from where the human left the arms
    out = core.tick(0.02)
    assert np.abs(out.output.command - held).max() <= SAFETY.max_step + 1e-12
    assert not out.state.human_in_control


def test_episode_start_restarts_the_command_from_the_next_measured_pose():
    core = _core()
    moved = POSE + 0.2
    core.new_episode()
    np.testing.assert_allclose(core.filter.pose, POSE)  # readings from before the event do not count
    for i, arm in enumerate(split_arms(moved)):
        core.follower(i, arm, 1.0)
    np.testing.assert_allclose(core.filter.pose, moved)


@pytest.mark.parametrize("kw", [{"takeover_threshold_rad": 0}, {"leader_motion_threshold_rad": -1},
                                {"leader_motion_reference": "magic"}])
def test_config_validation(kw):
    with pytest.raises(ValueError):
        ArbitrationConfig(**kw)


def _teleported(pose: np.ndarray) -> np.ndarray:
    moved = pose.copy()
    moved[1] += 1.0  # left shoulder teleported by 1 rad
    moved[8] -= 1.0  # right shoulder too
    return moved


def test_an_unannounced_pose_jump_holds_the_arms_and_says_so():
    """The measured pose jumps with no reset event (a bad reading, a driver glitch): the command
    neither follows it nor moves on; the hold names the joint and ends when readings agree again."""
    core = _core()
    core.policy_command(POSE + 0.02, 0.0)
    before = core.tick(0.0).output.command
    messages = [core.follower(i, arm, 0.02) for i, arm in enumerate(split_arms(_teleported(POSE)))]
    assert "jumped without a reset" in messages[0] and "left_shoulder" in messages[0]
    core.policy_command(POSE + 0.02, 0.02)
    held = core.tick(0.02)
    np.testing.assert_allclose(held.output.command, before)
    assert held.output.holding and held.state.source == Source.SAFETY and "jumped" in held.state.detail
    assert core.reported_state().source == Source.SAFETY
    messages = [core.follower(i, arm, 0.04) for i, arm in enumerate(split_arms(POSE))]
    assert messages[0] is None and "hold released" in messages[1]  # both arms must agree again
    resumed = core.tick(0.04)
    assert not resumed.output.holding


def test_an_announced_reset_restarts_from_the_new_pose_and_drops_the_stale_policy_command():
    """A sim reset teleports the arms and says so: the command restarts at the new pose instead of
    dragging the arms back toward the policy command computed from the old one."""
    core = _core()
    core.policy_command(POSE + 0.02, 0.0)
    assert np.abs(core.tick(0.0).output.command - POSE).max() > 0  # the policy command is being followed
    core.announce_reset()
    waiting = core.tick(0.02).output
    assert waiting.holding and "reset announced" in waiting.reason
    reset_pose = _teleported(POSE)
    for i, arm in enumerate(split_arms(reset_pose)):
        assert core.follower(i, arm, 0.04) is None  # announced: no jump reported
    after = core.tick(0.04).output
    np.testing.assert_allclose(after.command, reset_pose)
    assert after.holding and "no command" in after.reason


def test_at_most_one_command_per_control_period():
    """A flood of policy commands is forwarded once per control period, so it cannot drive the arms
    faster than max_step per period."""
    core = _core()
    outputs = []
    for k in range(40):  # 10 commands per 20 ms period, each 3 rad away
        now = k * 0.002
        core.policy_command(POSE + 3.0, now)
        result = core.tick(now)
        if result is not None:
            outputs.append(result.output.command)
    assert len(outputs) == 4
    steps = np.abs(np.diff(np.stack([POSE] + outputs), axis=0)).max(axis=1)
    assert steps.max() <= SAFETY.max_step + 1e-12


def test_home_ramps_to_the_home_pose_within_max_step_and_holds_there():
    core = _core()
    home = ALOHA.home_pose()
    decision = core.home(home)
    assert decision.accepted and "moving to home" in decision.message and core.mode() == "hold"
    previous, t = POSE, 0.0
    for k in range(200):
        t = k * 0.02
        out = core.tick(t)
        assert np.abs(out.output.command - previous).max() <= SAFETY.max_step + 1e-12
        previous = out.output.command
        if np.array_equal(previous, home):
            break
    np.testing.assert_allclose(previous, home)
    assert out.state.detail == "at home"
    assert np.array_equal(core.tick(t + 0.02).output.command, home)  # held there


def test_home_is_refused_while_the_policy_drives_and_ends_when_it_drives_again():
    core = _core()
    core.policy_command(POSE + 0.01, 0.0)
    core.tick(0.0)
    assert core.mode() == "policy"
    refused = core.home(ALOHA.home_pose())
    assert not refused.accepted and "policy is driving" in refused.message
    core.tick(1.0)  # the policy fell silent: the watchdog holds
    assert core.mode() == "hold" and core.home(ALOHA.home_pose()).accepted
    core.policy_command(POSE, 1.01)
    assert not core.homing and core.tick(1.02).state.detail != "moving to home"


def test_home_in_human_mode_overrides_the_leader_until_the_next_request():
    core = _core()
    assert core.request(True, Source.TOPIC, 0.0).accepted and core.mode() == "human"
    assert core.home(ALOHA.home_pose()).accepted and core.mode() == "hold"
    core.request(False, Source.TOPIC, 0.02)
    assert not core.homing


def test_home_is_refused_during_an_estop_and_before_the_arms_report():
    assert "no follower joint states" in make_core().home(ALOHA.home_pose()).message
    core = _core()
    core.set_estop(True, "test")
    assert "e-stop" in core.home(ALOHA.home_pose()).message


def test_a_stale_arm_holds_the_arms_until_it_reports_in_full_again():
    core = _core()
    core.policy_command(POSE + 0.01, 0.0)
    assert not core.tick(0.0).output.holding
    core.stale(False, 1, "/follower_right/joint_states: missing joint(s) ['elbow']")
    core.policy_command(POSE + 0.02, 0.02)
    held = core.tick(0.02).output
    assert held.holding and "stale arm" in held.reason and "elbow" in held.reason
    core.follower(1, split_arms(POSE)[1], 0.03)
    core.policy_command(POSE + 0.02, 0.04)
    assert not core.tick(0.04).output.holding


def test_a_single_arm_robot_has_seven_joints_and_names_them():
    from robots import SINGLE
    core = make_core(SINGLE)
    pose = np.full(7, 0.2)
    core.follower(0, pose, 0.0)
    core.leader(0, pose + 0.9, 0.0)
    refused = core.request(True, Source.TOPIC, 0.0)
    assert not refused.accepted and "shoulder_pan" in refused.message
    core.policy_command(pose + 1.0, 0.0)
    out = core.tick(0.0).output.command
    np.testing.assert_allclose(out - pose, np.minimum(0.05, SINGLE.limits()[2] * 0.02))
