"""The sim node's ROS-free loop on the real MuJoCo env: held commands, resets, sim time, sub-rates."""
import dataclasses

import numpy as np
import pytest

from recap_sim.env import SimEnv
from recap_sim.node_core import MAX_SEED, SimCore, SimCoreConfig

TASK = "transfer_cube"


@pytest.fixture(scope="module")
def loop():
    loop = SimCore(SimCoreConfig(task=TASK, cameras=()))
    yield loop
    loop.close()


def steps(loop, n):
    return [loop.step() for _ in range(n)]


def test_arms_hold_their_start_pose_without_commands(loop):
    loop.reset("", 1)
    start = loop.observation.qpos.copy()
    steps(loop, 50)
    np.testing.assert_allclose(loop.observation.qpos[:6], start[:6], atol=0.02)
    np.testing.assert_allclose(loop.held_command(), start)


def test_held_command_moves_only_that_arm(loop):
    loop.reset("", 1)
    start = loop.observation.qpos.copy()
    target = start[:7].copy()
    target[0] = 0.4  # left waist
    loop.hold_command("left", target)
    steps(loop, 100)  # 2 s
    q = loop.observation.qpos
    assert q[0] == pytest.approx(0.4, abs=0.03)
    np.testing.assert_allclose(q[7:13], start[7:13], atol=0.02)  # the right arm did not move


def test_reset_restores_the_start_pose_and_drops_the_held_command(loop):
    loop.reset("", 2)
    loop.hold_command("left", np.array([0.5, -0.96, 1.16, 0.0, -0.3, 0.0, 1.0]))
    steps(loop, 20)
    loop.reset("", 2)
    assert loop.held_command()[0] == pytest.approx(loop.observation.qpos[0])
    steps(loop, 20)
    assert abs(loop.observation.qpos[0]) < 0.02


def test_same_seed_same_objects_different_seed_different_objects(loop):
    a = loop.reset("", 11) and loop.observation.env_state.copy()
    b = loop.reset("", 11) and loop.observation.env_state.copy()
    c = loop.reset("", 12) and loop.observation.env_state.copy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_sim_clock_is_monotonic_across_resets_and_episode_time_restarts(loop):
    loop.reset("", 3)
    t = [tick.clock_ns for tick in steps(loop, 10)]
    snap = loop.reset("", 4)
    start = loop.start_tick()  # the start state gets a stamp of its own, one period on
    t2 = [tick.clock_ns for tick in steps(loop, 10)]
    assert np.all(np.diff(t + [start.clock_ns] + t2) == 20_000_000)
    assert loop.task_state.elapsed_s == pytest.approx(0.2)
    # The start tick publishes the reset pose and the new episode at elapsed 0, before any step.
    assert start.joint_states and start.task_state == snap and snap.elapsed_s == 0.0


def test_task_state_on_change_and_at_its_rate(loop):
    snap = loop.reset("", 5)
    assert (snap.task, snap.seed, snap.stage, snap.done, snap.outcome) == (TASK, 5, 0, False, None)
    assert snap.num_stages == 4 and snap.stage_name == "start"  # transfer_cube: ACT stages 0..4
    ticks = steps(loop, 50)  # 1 s at 10 Hz; the first tick publishes the new episode at once
    published = [k for k, tick in enumerate(ticks) if tick.task_state is not None]
    assert published == [0, 5, 10, 15, 20, 25, 30, 35, 40, 45]
    assert all(t.task_state.episode_id == snap.episode_id for t in ticks if t.task_state)


def test_unknown_task_raises_and_keeps_the_episode(loop):
    snap = loop.reset("", 6)
    with pytest.raises(ValueError, match="unknown task 'kitchen'"):
        loop.reset("kitchen", 1)
    assert loop.task_state.episode_id == snap.episode_id
    steps(loop, 2)  # still steps


@pytest.mark.parametrize("seed", [MAX_SEED + 1, 2**64 - 1, -1, 1.5])
def test_invalid_seed_raises_and_keeps_the_episode(loop, seed):
    snap = loop.reset("", 7)
    with pytest.raises(ValueError, match="invalid seed"):
        loop.reset("", seed)
    assert loop.task_state.episode_id == snap.episode_id


class StagesInTurn(SimEnv):
    """The real env whose task reports the stages of `STAGES` in turn, one per step."""

    STAGES = (0, 1, 2, 1, 0, 1)

    def reset(self, seed):
        self._turn = iter(self.STAGES)
        return super().reset(seed)

    def step(self, action, render=True):
        res = super().step(action, render=render)
        stage = next(self._turn, self.STAGES[-1])
        return dataclasses.replace(res, stage=stage, stage_name=self.task.stage_names[stage])


def test_the_task_state_keeps_the_furthest_stage_when_a_stage_is_lost_again():
    loop = SimCore(SimCoreConfig(task=TASK, cameras=()), env_factory=StagesInTurn)
    try:
        assert loop.task_state.max_stage == 0
        seen = [(t.task_state.stage, t.task_state.max_stage) for t in steps(loop, 6)]
        assert seen == [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (1, 2)]
        assert loop.reset("", 3).max_stage == 0 and loop.step().task_state.max_stage == 0  # a new episode
    finally:
        loop.close()


def test_timeout_latches_failure(loop):
    loop.reset("", 8)
    limit = int(round(loop.task_state.time_limit_s / 0.02))
    ticks = steps(loop, limit + 5)
    assert ticks[limit - 1].task_state is not None and ticks[limit - 1].task_state.done
    assert loop.task_state.done and loop.task_state.outcome == "failure"
    assert "timeout" in loop.task_state.failure_reason


def test_cameras_render_only_at_camera_rate():
    cam_loop = SimCore(SimCoreConfig(task=TASK, cameras=("cam_high",), image_size=(24, 32), camera_rate_hz=10.0))
    try:
        ticks = steps(cam_loop, 25)
        with_images = [k for k, t in enumerate(ticks) if t.images is not None]
        assert with_images == [0, 5, 10, 15, 20]
        frame = ticks[0].images["cam_high"]
        assert frame.shape == (24, 32, 3) and frame.dtype == np.uint8 and frame.std() > 0
    finally:
        cam_loop.close()


def test_the_start_tick_carries_the_new_scenes_frames():
    """A policy plans its first chunk from the new scene at once, not from the last episode's frame."""
    cam_loop = SimCore(SimCoreConfig(task=TASK, cameras=("cam_high",), image_size=(24, 32)))
    try:
        cam_loop.reset("", 1)
        first_scene = cam_loop.start_tick().images["cam_high"]
        steps(cam_loop, 7)
        cam_loop.reset("", 2)  # the cube elsewhere
        start = cam_loop.start_tick()
        np.testing.assert_array_equal(start.images["cam_high"], cam_loop.observation.images["cam_high"])
        assert not np.array_equal(start.images["cam_high"], first_scene)
    finally:
        cam_loop.close()


@pytest.mark.parametrize("kwargs, match", [
    ({"cameras": ("cam_top",)}, "unknown camera"),
    ({"cameras": ("cam_high", "cam_high")}, "twice"),
    ({"camera_rate_hz": 0.0}, "camera_rate_hz"),
    ({"seed": -3}, "invalid seed"),
])
def test_invalid_loop_configs_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SimCoreConfig(**kwargs)


def test_after_a_reset_commands_aimed_at_the_old_pose_are_ignored_until_one_matches(loop):
    """A controller's commands sent before it saw the reset must not snap the arm back."""
    loop.reset("", 4)
    old_pose = loop.observation.qpos[:7].copy()
    old_pose[1] += 0.9  # the previous episode's shoulder
    loop.hold_command("left", old_pose)  # first command after construction's reset: still stale
    loop.reset("", 4)
    start = loop.observation.qpos.copy()
    assert not loop.hold_command("left", old_pose)
    steps(loop, 10)
    np.testing.assert_allclose(loop.observation.qpos[:6], start[:6], atol=0.02)
    assert loop.stale_commands_ignored >= 1
    resynced = start[:7].copy()
    resynced[0] += 0.1
    assert loop.hold_command("left", resynced)  # close to the start pose: control resumes
    assert loop.hold_command("left", old_pose)  # and from then on any valid command is held
    np.testing.assert_allclose(loop.held_command()[:7], old_pose)
