"""Scripted expert: success, determinism, quality knobs, and completing tasks from mid-episode states."""
from __future__ import annotations

import numpy as np
import pytest

from recap_sim.env import SimConfig, SimEnv
from recap_sim.expert import ExpertConfig, ScriptedExpert


def _finish(env: SimEnv, expert: ScriptedExpert, obs):
    res = None
    while res is None or not res.done:
        res = env.step(expert.act(obs))
        obs = res.observation
    return res


@pytest.fixture(scope="module", params=["transfer_cube", "espresso"])
def env(request) -> SimEnv:
    return SimEnv(SimConfig(task=request.param))


def test_clean_expert_succeeds(env: SimEnv) -> None:
    expert = ScriptedExpert(env)
    for seed in (0, 1):
        res = _finish(env, expert, env.reset(seed))
        assert res.outcome == "success", (seed, res.failure_reason)
        assert res.observation.time < 0.6 * env.max_steps * env.control_period


def test_expert_never_flips_the_wrist(env: SimEnv) -> None:
    """forearm_roll and wrist_rotate have a +-pi flipped twin solution; demonstrations that take it
    in some episodes and not in others teach a policy to swing the arm through the scene."""
    from recap_core.aloha_layout import ARM_JOINTS
    rolls = [ARM_JOINTS.index("forearm_roll"), ARM_JOINTS.index("wrist_rotate")]
    columns = [7 * arm + j for arm in (0, 1) for j in rolls]
    if env.config.task == "transfer_cube":
        columns = columns[2:]  # the left gripper is rolled 90 deg on purpose for the hand-over
    for seed in (0, 1, 2):
        expert, obs, commands = ScriptedExpert(env, ExpertConfig(speed=1.5), seed=seed), env.reset(seed), []
        res = None
        while res is None or not res.done:
            commands.append(expert.act(obs))
            res = env.step(commands[-1])
            obs = res.observation
        assert np.abs(np.array(commands)[:, columns]).max() < 1.0, (env.config.task, seed)


def test_expert_is_deterministic_given_seeds(env: SimEnv) -> None:
    config = ExpertConfig(speed=0.8, hesitation=1.0, noise=0.02)
    trajectories = []
    for expert_seed in (3, 3, 4):
        expert = ScriptedExpert(env, config, seed=expert_seed)
        obs = env.reset(7)
        commands = []
        for _ in range(120):
            commands.append(expert.act(obs))
            obs = env.step(commands[-1]).observation
        trajectories.append(np.array(commands))
    np.testing.assert_array_equal(trajectories[0], trajectories[1])
    assert not np.allclose(trajectories[0], trajectories[2])


def test_expert_finishes_after_a_perturbation_mid_episode(env: SimEnv) -> None:
    """Run the expert, then someone else shoves the arms off course (before the object is held)
    and holds them there for 1 s, then the expert takes over again."""
    expert = ScriptedExpert(env)
    finished = 0
    for seed in range(4):
        rng = np.random.default_rng(seed)
        obs = env.reset(seed)
        for _ in range(int(rng.integers(10, 60))):
            obs = env.step(expert.act(obs)).observation
        shove = obs.qpos + rng.normal(0.0, 0.1, 14)
        shove[[6, 13]] = obs.qpos[[6, 13]]
        for _ in range(50):
            res = env.step(shove)
        if res.done:  # the shove itself ended the episode (e.g. flung the cube): not the expert's fault
            continue
        res = _finish(env, expert, res.observation)
        assert res.outcome == "success", (seed, res.failure_reason)
        finished += 1
    assert finished >= 2


@pytest.mark.parametrize("handover_step", [60, 110, 160])
def test_fresh_expert_takes_over_mid_episode(env: SimEnv, handover_step: int) -> None:
    """Expert A drives for a while (object grasped / carried / being handed over); a new expert
    instance B that never saw the episode finishes it from the current state."""
    first = ScriptedExpert(env, seed=1)
    obs = env.reset(5)
    for _ in range(handover_step):
        res = env.step(first.act(obs))
        obs = res.observation
    assert not res.done
    res = _finish(env, ScriptedExpert(env, seed=2), obs)
    assert res.outcome == "success", res.failure_reason


def test_expert_takes_over_from_random_actions(env: SimEnv) -> None:
    """A fresh expert starting from a state reached by a random (policy-like) walk completes the task."""
    for seed in (0, 1):
        rng = np.random.default_rng(100 + seed)
        obs = env.reset(seed)
        command = obs.qpos.copy()
        for _ in range(40):
            command = command + rng.normal(0.0, 0.015, 14)
            command[[6, 13]] = np.clip(command[[6, 13]], 0.0, 1.0)
            res = env.step(command)
        assert not res.done
        res = _finish(env, ScriptedExpert(env, seed=seed), res.observation)
        assert res.outcome == "success", (seed, res.failure_reason)


def test_mistakes_produce_characteristic_failures() -> None:
    env = SimEnv(SimConfig(task="espresso"))
    expert = ScriptedExpert(env, ExpertConfig(mistake_prob=1.0))
    reasons = {}
    for seed in range(6):
        obs = env.reset(seed)
        expert.reset()
        expert.act(obs)
        mistake = expert.mistake
        res = _finish(env, expert, obs)
        reasons.setdefault(mistake, []).append(res.failure_reason)
        if mistake == "miss_spout":
            break
    assert set(reasons) <= {"miss_spout", "drop_cup", "knock_cup"} and "miss_spout" in reasons
    assert all("missed the spout" in r for r in reasons["miss_spout"])


def test_knock_cup_tips_the_cup_or_the_expert_recovers() -> None:
    """The hurried grasp beside the cup either tips it (the failure learned policies show most) or
    only pushes it, after which the plan grasps it properly and finishes the task."""
    env = SimEnv(SimConfig(task="espresso"))
    expert = ScriptedExpert(env, ExpertConfig(mistake_prob=1.0))
    outcomes = set()
    for seed in range(40):
        obs = env.reset(seed)
        expert.reset()
        expert.act(obs)
        if expert.mistake != "knock_cup":
            continue
        res = _finish(env, expert, obs)
        assert res.outcome == "success" or res.failure_reason == "cup tipped over", (seed, res.failure_reason)
        outcomes.add(res.outcome)
        if outcomes == {"success", "failure"}:
            break
    assert outcomes == {"success", "failure"}


def test_espresso_expert_presses_firmly_and_waits_for_the_finger_before_serving() -> None:
    """The demonstrated press goes past the click and the cup stays under the spout until the finger
    is off the button: a policy imitating a press that lifts at the very click, with the cup carried
    away 0.12 s later, is a hair trigger away from never brewing or carrying the cup off first."""
    from recap_sim.plans.espresso import BUTTON_TOP, FINGER_CLEAR, PRESS_TIP_OFFSET
    from recap_sim.tasks.espresso import BUTTON_PRESSED, PLACE_TOL, SPOUT_XY
    env = SimEnv(SimConfig(task="espresso"))
    left_pinch = env.model.site("left_pinch").id
    tip_offset = PRESS_TIP_OFFSET
    for seed in (0, 1):
        expert, obs = ScriptedExpert(env, seed=seed), env.reset(seed)
        depth_after_click, res = [], None
        while res is None or not res.done:
            res = env.step(expert.act(obs))
            obs = res.observation
            if not env.task.brewed:
                continue
            depth_after_click.append(env.task.button_depth(env.data))
            finger_down = env.data.site_xpos[left_pinch][2] + tip_offset[2] < BUTTON_TOP + FINGER_CLEAR
            cup, _, _ = env.task.cup_pose(env.data)
            if finger_down:
                assert np.linalg.norm(cup[:2] - SPOUT_XY) < PLACE_TOL, (seed, "cup left the spout under the finger")
        assert res.outcome == "success", (seed, res.failure_reason)
        assert max(depth_after_click) > BUTTON_PRESSED + 0.002, seed  # pressed on past the click


def test_espresso_expert_taking_over_after_the_brew_does_not_press_again() -> None:
    """An operator's expert that takes over once coffee is brewed lifts the finger off and serves;
    the firm-press hold belongs to its own click only."""
    env = SimEnv(SimConfig(task="espresso"))
    expert, obs = ScriptedExpert(env, seed=0), env.reset(0)
    while not env.task.brewed:
        obs = env.step(expert.act(obs)).observation
    for _ in range(30):  # the first expert lifts off the button and stays clear
        obs = env.step(expert.act(obs)).observation
    from recap_sim.plans.espresso import BUTTON_TOP, FINGER_CLEAR, PRESS_TIP_OFFSET
    from recap_sim.tasks.espresso import BUTTON_XY
    left_pinch = env.model.site("left_pinch").id
    tip_offset = PRESS_TIP_OFFSET
    takeover = ScriptedExpert(env, seed=1)
    res = None
    while res is None or not res.done:
        res = env.step(takeover.act(obs))
        obs = res.observation
        tip = env.data.site_xpos[left_pinch] + tip_offset
        over_button = np.linalg.norm(tip[:2] - BUTTON_XY) < 0.03
        assert not (over_button and tip[2] < BUTTON_TOP + FINGER_CLEAR), "went back down to the button"
    assert res.outcome == "success", res.failure_reason


def test_expert_config_validation() -> None:
    with pytest.raises(ValueError, match="speed"):
        ExpertConfig(speed=0.0)
    with pytest.raises(ValueError, match="mistake_prob"):
        ExpertConfig(mistake_prob=1.5)
    with pytest.raises(ValueError, match="noise"):
        ExpertConfig(noise=-0.1)
