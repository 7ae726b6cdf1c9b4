"""The policy node's control loop: trigger, adoption, hold on stale inputs, RTC prefixes, ActionChunk conversion."""
import numpy as np
import pytest

from recap_core.robot_description import load_robot
from recap_policy.chunk_message import chunk_to_msg, msg_to_chunk
from recap_model.chunk_scheduling import DelayEstimatorConfig, SchedulerConfig
from recap_policy.config import PARAMETERS, PolicyNodeConfig
from recap_policy.command_stream import CommandStream, CommandStreamConfig, InferenceResult


def loop(kind="rtc", every=5) -> CommandStream:
    return CommandStream(CommandStreamConfig(
        control_period=0.02, inference_every=every, scheduler=SchedulerConfig(kind=kind, max_step=10.0, blend_steps=0),
        delay=DelayEstimatorConfig(discard_first=0, initial_delay_s=0.04, margin_ticks=0)), horizon_hint=10)


def chunk(value: float, h: int = 10) -> np.ndarray:
    return np.full((h, 14), value)


def test_first_tick_requests_inference_and_commands_nothing_yet():
    lp = loop()
    command, adopted, request = lp.tick(None)
    assert command is None and adopted == [] and request.obs_tick == 2
    assert request.frozen_prefix is None
    # Nothing new while one is in flight, even when due.
    for _ in range(10):
        assert lp.tick(None)[2] is None


def test_a_result_is_adopted_at_the_next_tick_and_the_trigger_rearms_every_k():
    lp = loop(every=5)
    _, _, request = lp.tick(None)  # tick 1
    lp.chunk_ready(InferenceResult(request, chunk(1.0), 0.03))
    command, adopted, new_request = lp.tick(None)  # tick 2
    assert len(adopted) == 1 and command[0] == 1.0
    assert new_request is None  # 1 tick since the last start, k = 5
    requests = [lp.tick(None)[2] for _ in range(4)]  # ticks 3..6
    assert requests[:3] == [None] * 3 and requests[3].obs_tick == 7
    # RTC: the prefix covers the estimated delay (0.03 s -> 2 ticks) of the current plan.
    np.testing.assert_allclose(requests[3].frozen_prefix, chunk(1.0, 2))


def test_stale_inputs_hold_the_last_command_and_start_nothing():
    lp = loop()
    _, _, request = lp.tick(None)
    lp.chunk_ready(InferenceResult(request, np.linspace(0, 1, 10)[:, None].repeat(14, 1), 0.03))
    held = lp.tick(None)[0]
    for _ in range(20):
        command, _, request = lp.tick("camera stopped")
        np.testing.assert_allclose(command, held)
        assert request is None
    assert lp.holding_reason == "camera stopped"
    # Fresh again: the old plan was dropped, a new inference starts, the command keeps holding.
    command, _, request = lp.tick(None)
    assert request is not None
    np.testing.assert_allclose(command, held)


def test_new_episode_forgets_the_plan_and_drops_results_from_before():
    lp = loop(every=1)
    _, _, request = lp.tick(None)
    lp.chunk_ready(InferenceResult(request, chunk(1.0), 0.03))
    _, _, in_flight = lp.tick(None)
    assert lp.tick(None)[0] is not None
    lp.new_episode()
    lp.chunk_ready(InferenceResult(in_flight, chunk(2.0), 0.03))  # computed before the reset
    command, adopted, request = lp.tick(None)
    assert command is None and adopted == []  # nothing from the old episode is executed
    assert request is not None
    lp.chunk_ready(InferenceResult(request, chunk(3.0), 0.03))
    assert lp.tick(None)[0][0] == 3.0


def test_a_new_episodes_first_inference_starts_at_its_first_fresh_tick():
    """Not up to k ticks later: the arms would hold the start pose, which no training episode did."""
    lp = loop(every=25)
    _, _, request = lp.tick(None)
    lp.chunk_ready(InferenceResult(request, chunk(1.0), 0.03))
    lp.tick(None)
    lp.tick(None)
    lp.new_episode()
    assert lp.tick("nothing on /cam_high/image_raw since the episode began")[2] is None
    command, _, request = lp.tick(None)
    assert command is None and request is not None and request.obs_tick == lp.tick_count + 1


def test_a_chunk_planned_at_rest_starts_at_its_first_row_and_one_planned_in_motion_skips_the_past():
    lp = loop(kind="plain", every=5)
    ramp = np.linspace(0.0, 0.9, 10)[:, None].repeat(14, 1)  # row h = 0.1 h
    _, _, first = lp.tick(None)  # tick 1, observation of tick 2, arms at rest
    assert first.from_rest
    for _ in range(3):
        lp.tick(None)  # ticks 2..4: the inference takes a while
    lp.chunk_ready(InferenceResult(first, ramp, 0.06))
    assert lp.tick(None)[0][0] == pytest.approx(0.0)  # tick 5: row 0, not row 3
    requests = [lp.tick(None)[2] for _ in range(5)]  # ticks 6..10
    moving = next(r for r in requests if r is not None)
    assert not moving.from_rest
    lp.tick(None)
    lp.chunk_ready(InferenceResult(moving, ramp + 1.0, 0.02))
    command, adopted, _ = lp.tick(None)
    assert adopted and command[0] == pytest.approx(1.0 + 0.1 * (lp.tick_count - moving.obs_tick))


def test_a_chunk_arriving_while_inputs_are_stale_is_dropped():
    lp = loop(every=1)
    _, _, request = lp.tick(None)
    lp.chunk_ready(InferenceResult(request, chunk(1.0), 0.03))
    command, adopted, _ = lp.tick("camera stopped")
    assert command is None and adopted == []
    assert lp.tick(None)[2] is not None  # the trigger re-armed: a fresh chunk is requested


def test_a_failed_inference_rearms_the_trigger():
    lp = loop(every=1)
    _, _, request = lp.tick(None)
    lp.inference_failed()
    assert lp.tick(None)[2] is not None


@pytest.mark.parametrize("robot", ["aloha_sim", "single_arm_6dof"])
def test_action_chunk_message_round_trip(robot):
    names = load_robot(robot).joint_names
    d = len(names)
    actions = np.random.default_rng(1).normal(size=(7, d))
    msg = chunk_to_msg(actions, chunk_id=3, observation_stamp_ns=12_500_000_000, control_period=0.02, advantage="negative",
                       guidance_scale=2.0, policy_id="p@1", inference_latency=0.042, joint_names=names)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (12, 500_000_000)
    assert (msg.horizon, msg.action_dim, msg.advantage_conditioning) == (7, d, 1)
    assert msg.inference_latency.nanosec == 42_000_000 and list(msg.joint_names) == list(names)
    np.testing.assert_allclose(msg_to_chunk(msg, names), actions, atol=1e-6)
    msg.joint_names = list(reversed(names))
    np.testing.assert_allclose(msg_to_chunk(msg, names), actions[:, ::-1], atol=1e-6)
    msg.actions = msg.actions[:-1]
    with pytest.raises(ValueError, match=f"/policy/action_chunk: chunk 3 says H=7, D={d}"):
        msg_to_chunk(msg, names)


def params(**kw):
    return {**{k: v for k, (v, _) in PARAMETERS.items()}, **kw}


def test_node_config_validation_is_explicit():
    sim = load_robot("aloha_sim")
    with pytest.raises(ValueError, match="needs the 'checkpoint' parameter"):
        PolicyNodeConfig.from_parameters(params(), sim)
    with pytest.raises(ValueError, match="unknown chunk scheduler 'smooth'"):
        PolicyNodeConfig.from_parameters(params(checkpoint="/x", scheduler="smooth"), sim)
    default = PolicyNodeConfig.from_parameters(params(backend="remote"), sim)
    assert PARAMETERS["robot"][0] == "aloha_sim" and default.robot is sim
    # the control rate is the description's unless given
    single = load_robot("single_arm_6dof")
    assert PolicyNodeConfig.from_parameters(params(backend="remote"), single).loop.control_period == pytest.approx(1 / 30)
    given = PolicyNodeConfig.from_parameters(params(backend="remote", control_rate_hz=50.0), single)
    assert given.loop.control_period == pytest.approx(0.02)
    # the node samples like the evaluation by default (recap_model.policy.DEFAULT_NOISE_SCALE)
    from recap_model.policy import DEFAULT_NOISE_SCALE
    assert default.conditioning.noise_scale == DEFAULT_NOISE_SCALE
    with pytest.raises(ValueError, match="noise_scale"):
        PolicyNodeConfig.from_parameters(params(backend="remote", noise_scale=-1.0), sim)


def test_skipped_periods_advance_the_plan_with_the_clock():
    """A timer that missed ticks (a /clock jump) must not make the chunk play slower than time."""
    lp = loop(every=100)
    _, _, request = lp.tick(None)  # tick 1; the chunk's row h is for tick 2 + h
    lp.chunk_ready(InferenceResult(request, np.arange(10.0)[:, None].repeat(14, 1), 0.03))
    assert lp.tick(None)[0][0] == 0.0  # tick 2
    assert lp.tick(None, periods=3)[0][0] == 3.0  # ticks 3, 4 skipped: tick 5 commands row 3
    assert lp.tick(None)[0][0] == 4.0
    with pytest.raises(ValueError, match="at least one"):
        lp.tick(None, periods=0)
