"""The simulated operator on the real env: it takes over a stalled policy, corrects, hands back."""
import math

import numpy as np
import pytest

from recap_sim.env import SimConfig, SimEnv
from recap_sim.expert import ExpertConfig, ScriptedExpert
from recap_sim.operator_policy import Mode, TakeoverRule
from recap_sim.sim_operator import SimulatedOperator

TASK = "transfer_cube"


@pytest.fixture(scope="module")
def env():
    env = SimEnv(SimConfig(task=TASK))
    yield env
    env.close()


def rule(**kw):
    base = dict(stall_timeout_s=0.5, stage_time_limit_s=math.inf, deviation_threshold=math.inf,
                engage_s=0.1, min_correction_s=0.5, max_correction_s=4.0, max_takeovers_per_episode=20)
    return TakeoverRule(**{**base, **kw})


def run_episode(env, operator, seed, policy, steps, arbitration=True):
    """Steps the env with the policy's command, or the leader's while the operator is in control
    (what the arbitration node does). Returns the per-step operator outputs and the last result."""
    obs = env.reset(seed)
    operator.new_episode(env, seed)
    held = obs.qpos.copy()
    out, res = [], None
    human = False
    for _ in range(steps):
        command = held if not human else out[-1].leader
        res = env.step(command)
        o = operator.step(res.observation, res.stage, res.done, command)
        out.append(o)
        if o.request is not None and arbitration:
            human = o.request
            held = command  # the policy resumes from the current command (no jump at hand-back)
        if not human:
            held = policy(res.observation, held)
        if res.done and not human:
            break
    return out, res


def frozen_policy(obs, held):
    return held


def test_leader_follows_the_follower_while_watching(env):
    op = SimulatedOperator(rule(stall_timeout_s=100.0))
    obs = env.reset(1)
    op.new_episode(env, 1)
    # Before anyone commands the arms, the leader shows the measured follower pose.
    assert np.array_equal(op.step(obs, 0, False, None).leader, obs.qpos)
    command = obs.qpos.copy()
    for k in range(40):
        command[0] = 0.01 * k  # a policy turning the left waist
        res = env.step(command)
        o = op.step(res.observation, res.stage, res.done, command)
        assert o.mode is Mode.WATCH and o.request is None
        # The leader sits at the follower's target, within tracking error of the measured pose.
        np.testing.assert_array_equal(o.leader, command)
        assert np.max(np.abs(o.leader[:6] - res.observation.qpos[:6])) < 0.1


def test_stalled_policy_is_taken_over_and_the_leader_moves_without_arbitration(env):
    op = SimulatedOperator(rule(max_correction_s=2.0))
    out, res = run_episode(env, op, 2, frozen_policy, 150, arbitration=False)
    requests = [(k, o.request) for k, o in enumerate(out) if o.request is not None]
    # 0.5 s of stall at 50 Hz = 25 steps (plus a step or two while the arms settle after reset).
    assert requests[0][1] is True and 24 <= requests[0][0] <= 30
    assert requests[1][1] is False and "corrected for 2 s" in out[requests[1][0]].reason
    correcting = [o for o in out if o.mode is Mode.CORRECT]
    assert correcting, "the expert never drove the leader"
    # Nobody forwards the leader to the follower here: the leader leaves the follower's pose.
    assert np.max(np.abs(correcting[-1].leader - res.observation.qpos)) > 0.05


def test_the_operator_completes_the_task_for_a_frozen_policy(env):
    # Each takeover corrects at least 1 s, enough for the expert to finish the stage it reached.
    op = SimulatedOperator(rule(min_correction_s=1.0))
    out, res = run_episode(env, op, 3, frozen_policy, int(env.max_steps))
    assert res.done and res.outcome == "success", res.failure_reason
    handbacks = [o.reason for o in out if o.request is False]
    assert any(r.startswith("stage advanced") for r in handbacks)
    assert op.takeovers >= 1


def test_deviation_from_the_expert_triggers_a_takeover(env):
    op = SimulatedOperator(rule(stall_timeout_s=math.inf, deviation_threshold=0.5, deviation_duration_s=0.4))

    def wrong_way(obs, held):  # keeps turning the right waist away from the cube
        cmd = held.copy()
        cmd[7] = min(cmd[7] + 0.03, 1.2)
        return cmd

    out, _ = run_episode(env, op, 4, wrong_way, 150)
    first = next(k for k, o in enumerate(out) if o.request is True)
    assert out[first].reason.startswith("deviation")
    assert out[first - 1].deviation > 0.5


def test_a_policy_doing_what_the_expert_does_is_not_taken_over(env):
    op = SimulatedOperator(rule(stall_timeout_s=math.inf, deviation_threshold=0.3, deviation_duration_s=0.5))
    policy_expert = ScriptedExpert(env, ExpertConfig(), seed=1)

    def expert_policy(obs, held):
        return policy_expert.act(obs)

    policy_expert.reset()
    out, res = run_episode(env, op, 6, expert_policy, int(env.max_steps))
    assert res.done and res.outcome == "success", res.failure_reason
    assert op.takeovers == 0
    deviations = [o.deviation for o in out if o.deviation is not None]
    assert len(deviations) > 100 and max(deviations) < 0.1


def test_no_shadow_expert_when_the_deviation_trigger_is_disabled(env):
    op = SimulatedOperator(rule(stall_timeout_s=math.inf))
    out, _ = run_episode(env, op, 5, frozen_policy, 30)
    assert all(o.deviation is None for o in out)


def test_a_reset_during_a_correction_hands_back_at_the_reset(env):
    op = SimulatedOperator(rule())
    out, _ = run_episode(env, op, 7, frozen_policy, 40, arbitration=False)
    assert op.rule.mode is not Mode.WATCH  # correcting when the episode is reset
    obs = env.reset(8)
    assert op.new_episode(env, 8) is True  # the caller hands back before the first step
    first = op.step(obs, 0, False, obs.qpos)
    assert (first.request, first.mode) == (None, Mode.WATCH)
    # A reset while watching has nothing to hand back.
    env.reset(9)
    assert op.new_episode(env, 9) is False
