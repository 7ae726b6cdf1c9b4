"""Joint and action values no robot joint range allows are stopped before they reach training."""
from __future__ import annotations

import numpy as np
import pytest

from dataset.conftest import make_episode  # by its package: a bare `conftest` may be tests/trainer's
from recap_core.robot_description import load_robot
from recap_model.robot_layout import RobotLayout, default_layout
from recap_trainer.episode import EpisodeError, JointRange
from recap_trainer.normalization import compute_stats
from recap_trainer.training.episodes import EpisodeCatalog

SIM = default_layout()


def in_range_episode(episode_id: str = "ep0", steps: int = 20):
    qpos = np.tile(np.linspace(-0.5, 0.5, 14), (steps, 1))
    qpos[:, [6, 13]] = 0.5  # grippers half open
    return make_episode(episode_id, steps=steps, qpos=qpos, executed_action=qpos + 0.01)


def test_bounds_are_the_joint_limits_widened_by_the_margins():
    lower, upper = JointRange(SIM).bounds()
    assert lower[1] == pytest.approx(-1.85 - 0.2) and upper[1] == pytest.approx(1.26 + 0.2)
    assert lower[6] == pytest.approx(-0.5) and upper[13] == pytest.approx(1.5)
    with pytest.raises(ValueError, match="margins"):
        JointRange(SIM, joint_margin=-1.0)


def test_check_names_where_key_step_joint_and_value():
    values = np.zeros((5, 14))
    values[3, 8] = 4.0
    with pytest.raises(EpisodeError, match=r"^f.hdf5: /action step 3: right_shoulder = 4 \(allowed -2.05..1.46\); "
                                           r"1 of 5 steps"):
        JointRange(SIM).check("f.hdf5", "/action", values)


def test_the_range_is_the_robots():
    """single_arm_6dof: 7 joints, its own limits and one gripper (column 6)."""
    arm = RobotLayout.from_description(load_robot("single_arm_6dof"))
    lower, upper = JointRange(arm).bounds()
    assert len(lower) == 7 and lower[1] == pytest.approx(-2.2) and upper[6] == pytest.approx(1.5)
    values = np.zeros((2, 7))
    values[1, 2] = 3.0
    with pytest.raises(EpisodeError, match=r"step 1: elbow = 3 \(allowed -2.7..2.7\)"):
        JointRange(arm).check("ep", "qpos", values)
    with pytest.raises(EpisodeError, match=r"qpos has shape \(2, 14\), robot description 'single_arm_6dof'"):
        JointRange(arm).check("ep", "qpos", np.zeros((2, 14)))


@pytest.mark.parametrize("key, column, label", [("qpos", 1, "left_shoulder"), ("executed_action", 13, "right_gripper")])
def test_normalisation_refuses_a_value_outside_every_joint_range(key, column, label):
    good, bad = in_range_episode("ok"), in_range_episode("glitch")
    getattr(bad, key)[7, column] = 1e30
    with pytest.raises(ValueError, match=rf"episode 'glitch': {key} step 7: {label} = 1e\+30"):
        compute_stats(EpisodeCatalog([[good, bad]]))


def test_normalisation_of_in_range_data_is_unchanged():
    stats = compute_stats(EpisodeCatalog([[in_range_episode("a"), in_range_episode("b")]]))
    assert np.allclose(stats.mean["qpos"], np.r_[np.linspace(-0.5, 0.5, 14)[:6], 0.5,
                                                  np.linspace(-0.5, 0.5, 14)[7:13], 0.5], atol=1e-6)
