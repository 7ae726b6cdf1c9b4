"""SimEnv core: observations, seeding, command handling, time limit (no ROS)."""
from __future__ import annotations

import numpy as np
import pytest

from recap_core.aloha_layout import JOINT_NAMES, SIM_GRIPPER
from recap_sim.env import HOME_ARM, SimConfig, SimEnv


@pytest.fixture(scope="module")
def cube_env() -> SimEnv:
    return SimEnv(SimConfig(task="transfer_cube"))


def _random_walk(seed: int, steps: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    home = np.array([*HOME_ARM, 1.0] * 2)
    return home + np.cumsum(rng.normal(0, 0.01, (steps, len(JOINT_NAMES))), axis=0)


def test_reset_gives_home_pose_and_named_state(cube_env: SimEnv) -> None:
    obs = cube_env.reset(seed=3)
    assert obs.qpos.shape == (14,) and obs.qpos.dtype == np.float64
    np.testing.assert_allclose(obs.qpos, [*HOME_ARM, 1.0] * 2, atol=1e-9)
    assert obs.env_state.shape == (len(cube_env.state_names),)
    assert obs.images == {} and obs.time == 0.0
    assert cube_env.control_period == 0.02 and cube_env.max_steps == 500


def test_same_seed_same_trajectory_different_seed_different_poses() -> None:
    commands = _random_walk(0, 60)
    runs = []
    for seed in (5, 5, 6):
        env = SimEnv(SimConfig(task="espresso"))
        first = env.reset(seed).env_state.copy()
        states = [np.concatenate([env.step(c).observation.qpos, env.observe().env_state]) for c in commands]
        runs.append((first, np.array(states)))
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert np.linalg.norm(runs[0][0][:2] - runs[2][0][:2]) > 1e-3  # cup placed elsewhere
    assert not np.allclose(runs[0][0][9:11], runs[2][0][9:11])  # serving spot moved too


def test_step_tracks_commands_and_reports_raw_gripper(cube_env: SimEnv) -> None:
    cube_env.reset(seed=0)
    target = np.array([0.2, -0.8, 1.0, 0.0, -0.2, 0.3, 0.0] + [*HOME_ARM, 0.5])
    for _ in range(50):
        res = cube_env.step(target)
    np.testing.assert_allclose(res.observation.qpos[:6], target[:6], atol=0.03)
    assert res.observation.qpos[6] < 0.05 and abs(res.observation.qpos[13] - 0.5) < 0.05
    names, raw = cube_env.raw_arm_positions("right")
    assert names == ["waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate", "gripper"]
    assert raw[6] == pytest.approx(SIM_GRIPPER.denormalise(res.observation.qpos[13]))
    assert len(cube_env.raw_arm_velocities("left")) == 7


def test_out_of_range_commands_are_clipped_to_actuator_range(cube_env: SimEnv) -> None:
    cube_env.reset(seed=0)
    wild = np.array([*HOME_ARM, 3.0] * 2)
    wild[2] = 9.0  # left elbow far beyond its 1.6 rad limit
    for _ in range(40):
        obs = cube_env.step(wild).observation
    assert obs.qpos[2] <= 1.61 + 1e-3
    assert obs.qpos[6] <= 1.0 + 1e-3  # gripper cannot open past its range


@pytest.mark.parametrize("bad", [np.zeros(13), np.full(14, np.nan), np.full(14, np.inf)])
def test_malformed_commands_raise(cube_env: SimEnv, bad: np.ndarray) -> None:
    cube_env.reset(seed=0)
    with pytest.raises(ValueError, match="finite"):
        cube_env.step(bad)


@pytest.mark.parametrize("seed", [-1, 1.5, "3", True, None])
def test_invalid_seed_raises(cube_env: SimEnv, seed) -> None:
    with pytest.raises(ValueError, match="seed"):
        cube_env.reset(seed)


def test_config_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="did you mean 'espresso'"):
        SimConfig(task="expresso")
    with pytest.raises(ValueError, match="cam_top"):
        SimConfig(cameras=("cam_top",))
    with pytest.raises(ValueError, match="2 ms"):
        SimConfig(control_period=0.003)


def test_timeout_ends_episode_and_result_stays_latched() -> None:
    env = SimEnv(SimConfig(task="transfer_cube", time_limit_s=0.1))
    obs = env.reset(1)
    results = [env.step(obs.qpos) for _ in range(8)]
    assert [r.done for r in results[:4]] == [False] * 4
    assert results[4].done and results[4].outcome == "failure" and "timeout" in results[4].failure_reason
    assert all(r.done and r.outcome == "failure" for r in results[4:])
    assert results[-1].observation.time > results[4].observation.time  # physics keeps running


def test_step_before_reset_raises() -> None:
    with pytest.raises(RuntimeError, match="reset"):
        SimEnv(SimConfig()).step(np.zeros(14))
