"""Task progress, success and failure detection on constructed states."""
from __future__ import annotations

import mujoco
import numpy as np
import pytest

from recap_sim.env import SimConfig, SimEnv
from recap_sim.expert import ScriptedExpert
from recap_sim.tasks.base import set_free_joint
from recap_sim.tasks.espresso import CUP_HALF_HEIGHT, SPOUT_XY


def _run_expert_until(env: SimEnv, expert: ScriptedExpert, obs, stop) -> tuple:
    for _ in range(env.max_steps):
        res = env.step(expert.act(obs))
        obs = res.observation
        if res.done or stop(res):
            return obs, res
    raise AssertionError("condition not reached")


def _push_button(env: SimEnv, steps: int = 10):
    """A 5 N push on the button (as a fingertip would), for `steps` control steps."""
    env.data.xfrc_applied[env.model.body("button").id, 2] = -5.0
    results = [env.step(env.last_command) for _ in range(steps)]
    env.data.xfrc_applied[env.model.body("button").id, 2] = 0.0
    return results


def _hold(env: SimEnv, obs, steps: int):
    for _ in range(steps):
        res = env.step(env.last_command)
    return res


@pytest.mark.parametrize("task", ["transfer_cube", "espresso"])
def test_expert_episode_climbs_all_stages_to_success(task: str) -> None:
    env = SimEnv(SimConfig(task=task))
    expert = ScriptedExpert(env)
    obs = env.reset(11)
    seen = []
    res = None
    while res is None or not res.done:
        res = env.step(expert.act(obs))
        obs = res.observation
        seen.append(res.stage)
    assert res.outcome == "success" and res.failure_reason == ""
    assert res.stage == res.num_stages - 1 == 4 and res.stage_name == env.task.stage_names[-1]
    assert sorted(set(seen)) == [0, 1, 2, 3, 4]


def test_cube_off_the_table_fails() -> None:
    env = SimEnv(SimConfig(task="transfer_cube"))
    env.reset(0)
    set_free_joint(env.model, env.data, "cube_joint", [0.9, 0.5, 0.3])
    res = _hold(env, None, 30)
    assert res.done and res.outcome == "failure" and "fell off the table" in res.failure_reason


def test_cube_dropped_after_lift_fails() -> None:
    env = SimEnv(SimConfig(task="transfer_cube"))
    expert = ScriptedExpert(env)
    obs, res = _run_expert_until(env, expert, env.reset(2), lambda r: r.observation.env_state[2] > 0.15)
    assert res.stage == 2
    release = env.last_command.copy()
    release[13] = 1.0  # right gripper opens in mid-air
    for _ in range(100):
        res = env.step(release)
        if res.done:
            break
    assert res.outcome == "failure" and res.failure_reason == "cube dropped after it was lifted"


def test_cup_tipped_over_fails() -> None:
    env = SimEnv(SimConfig(task="espresso"))
    env.reset(0)
    adr = env.model.joint("cup_joint").qposadr[0]
    env.data.qpos[adr + 2] = 0.03
    env.data.qpos[adr + 3:adr + 7] = [np.cos(np.pi / 4), np.sin(np.pi / 4), 0, 0]  # lying on its side
    mujoco.mj_forward(env.model, env.data)
    res = _hold(env, None, 5)
    assert res.outcome == "failure" and res.failure_reason == "cup tipped over"


def test_button_without_cup_under_spout_is_a_missed_spout() -> None:
    env = SimEnv(SimConfig(task="espresso"))
    env.reset(0)
    res = _push_button(env)[-1]
    assert res.outcome == "failure" and "missed the spout" in res.failure_reason


def test_button_with_cup_under_spout_brews_then_serving_succeeds() -> None:
    env = SimEnv(SimConfig(task="espresso"))
    expert = ScriptedExpert(env)
    obs, res = _run_expert_until(env, expert, env.reset(4), lambda r: r.stage == 2)
    assert env.task.resting_at(env.data, SPOUT_XY) and not env.task.brewed
    res = _push_button(env)[-1]
    assert env.observe().env_state[env.state_names.index("button_depth")] > 0.007
    assert res.stage == 3 and res.stage_name == "brewed" and not res.done
    assert env.observe().env_state[env.state_names.index("brewed")] == 1.0
    # Teleport the (released) cup onto the serving spot: served once it stands there for hold_s.
    serve = env.task.serve_xy
    hold = env.last_command.copy()
    hold[13] = 1.0
    for _ in range(15):
        env.step(hold)  # open the right gripper
    set_free_joint(env.model, env.data, "cup_joint", [*serve, CUP_HALF_HEIGHT])
    outcomes = [env.step(hold) for _ in range(20)]
    assert outcomes[-1].done and outcomes[-1].outcome == "success" and outcomes[-1].stage == 4


def test_the_cameras_see_whether_the_coffee_was_brewed() -> None:
    """The brewed stage shows at the model's image size (the sprung button does not show it): the
    machine's ready panel lights in the high camera, which always sees the machine, and the coffee
    browns the cup's top; the next episode starts unlit with an empty cup again."""
    from recap_core.aloha_layout import CAM_HIGH, CAMERA_NAMES
    from recap_model.models.config import ObservationConfig

    env = SimEnv(SimConfig(task="espresso", cameras=CAMERA_NAMES, image_size=ObservationConfig().image_size))
    first = env.reset(4)
    _run_expert_until(env, ScriptedExpert(env), first, lambda r: r.stage == 2)
    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    before = np.empty(mujoco.mj_stateSize(env.model, spec))
    mujoco.mj_getState(env.model, env.data, before, spec)
    empty = env.render()
    _push_button(env)
    assert env.task.brewed
    # The same physical scene as before the press; only the brew differs.
    mujoco.mj_setState(env.model, env.data, before, spec)
    mujoco.mj_forward(env.model, env.data)
    brewed = env.render()

    def changed(c: str) -> int:
        """Pixels whose colour changed clearly (by more than 60 of 255 in a channel)."""
        return int((np.abs(brewed[c].astype(int) - empty[c].astype(int)).max(axis=-1) > 60).sum())

    def browner(c: str) -> int:
        """Pixels that turned from grey-white to brown (the red-blue gap widened)."""
        gap = lambda img: img[..., 0].astype(int) - img[..., 2].astype(int)  # noqa: E731
        return int((gap(brewed[c]) - gap(empty[c]) > 20).sum())

    assert changed(CAM_HIGH) >= 10, {c: changed(c) for c in CAMERA_NAMES}
    assert sum(browner(c) for c in CAMERA_NAMES) >= 2, [browner(c) for c in CAMERA_NAMES]
    assert all(np.array_equal(env.reset(4).images[c], first.images[c]) for c in CAMERA_NAMES)


def test_a_timeout_says_where_the_espresso_episode_stalled() -> None:
    env = SimEnv(SimConfig(task="espresso", time_limit_s=4.0))
    env.reset(4)
    res = _hold(env, None, env.max_steps)
    assert res.failure_reason == "timeout after 4.0 s: cup not grasped"
    env = SimEnv(SimConfig(task="espresso"))
    expert = ScriptedExpert(env)
    _run_expert_until(env, expert, env.reset(4), lambda r: r.stage == 2)
    res = _hold(env, None, env.max_steps - env.steps)  # the right gripper keeps the cup under the spout
    assert res.failure_reason == "timeout after 15.0 s: cup held at the spout, not brewed"
    _run_expert_until(env, expert, env.reset(4), lambda r: r.stage == 3)
    res = _hold(env, None, env.max_steps - env.steps)
    assert res.failure_reason == "timeout after 15.0 s: cup held at the spout, brewed"


def test_cup_dropped_from_height_fails() -> None:
    env = SimEnv(SimConfig(task="espresso"))
    expert = ScriptedExpert(env)
    obs, res = _run_expert_until(env, expert, env.reset(3), lambda r: r.stage == 1)
    set_free_joint(env.model, env.data, "cup_joint", [-0.2, 0.45, 0.25])  # away from the grippers, falling
    res = _hold(env, None, 20)
    assert res.outcome == "failure" and res.failure_reason == "cup dropped"
