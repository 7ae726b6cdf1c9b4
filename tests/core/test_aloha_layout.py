import numpy as np
import pytest

from recap_core.aloha_layout import (ACTION_DIM, JOINT_NAMES, GripperCalibration, JointNameError,
                                     arm_command, arm_vector, join_arms, reorder_by_name, split_arms)
from recap_core.joint_limits import JointLimits

CAL = GripperCalibration(closed=0.02, open=0.06)


def test_arm_vector_is_built_by_name_not_order():
    names = ["left_finger", "gripper", "wrist_rotate", "waist", "elbow", "shoulder", "wrist_angle", "forearm_roll"]
    pos = [9.0, 0.04, 6.0, 1.0, 3.0, 2.0, 5.0, 4.0]
    vec = arm_vector(names, pos, CAL)
    np.testing.assert_allclose(vec, [1, 2, 3, 4, 5, 6, 0.5])


def test_arm_vector_names_missing_joints():
    with pytest.raises(JointNameError, match=r"/follower_left/joint_states.*\['elbow'\]"):
        arm_vector(["waist", "shoulder", "forearm_roll", "wrist_angle", "wrist_rotate", "gripper"],
                   [0.0] * 6, CAL, source="/follower_left/joint_states")


def test_arm_vector_rejects_length_mismatch():
    with pytest.raises(JointNameError, match="7 names but 6 positions"):
        arm_vector(["a"] * 7, [0.0] * 6, CAL)


def test_gripper_round_trip_and_command():
    names, raw = arm_command(np.array([0, 0, 0, 0, 0, 0, 1.0]), CAL)
    assert names[-1] == "gripper" and raw[-1] == pytest.approx(0.06)
    np.testing.assert_allclose(arm_vector(names, raw, CAL), [0, 0, 0, 0, 0, 0, 1.0])
    with pytest.raises(ValueError):
        GripperCalibration(closed=1.0, open=1.0)


def test_split_join_and_reorder():
    vec = np.arange(ACTION_DIM, dtype=float)
    left, right = split_arms(vec)
    np.testing.assert_array_equal(join_arms(left, right), vec)
    shuffled = list(reversed(JOINT_NAMES)) + ["extra"]
    values = list(reversed(vec.tolist())) + [99.0]
    np.testing.assert_array_equal(reorder_by_name(shuffled, values), vec)
    with pytest.raises(JointNameError, match="right_gripper"):
        reorder_by_name(JOINT_NAMES[:-1], vec[:-1].tolist())


def test_joint_limits_validate():
    lower, upper, vel = JointLimits().as_arrays()
    assert lower.shape == upper.shape == vel.shape == (ACTION_DIM,)
    with pytest.raises(ValueError, match="14 values"):
        JointLimits(lower=(0.0,) * 3)
