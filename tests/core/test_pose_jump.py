import numpy as np
import pytest

from recap_core.pose_jump import PoseJumpDetector


def test_jump_of_an_arm_joint_is_detected_gripper_and_small_motion_are_not():
    detector = PoseJumpDetector(threshold_rad=0.5)
    home = np.zeros(7)
    assert not detector.update(0, home)  # first reading: nothing to compare
    assert not detector.update(0, home + 0.05)  # normal motion
    assert not detector.update(0, np.r_[np.full(6, 0.05), 1.0])  # the gripper may snap open
    assert not detector.update(1, np.full(7, 2.0))  # the other arm has its own history
    assert detector.update(0, np.r_[0.05, 1.2, np.full(4, 0.05), 1.0])  # a teleport of the shoulder
    assert not detector.update(0, np.r_[0.05, 1.2, np.full(4, 0.05), 1.0])  # then steady again


def test_non_finite_readings_never_count_as_jumps():
    detector = PoseJumpDetector()
    detector.update(0, np.zeros(7))
    assert not detector.update(0, np.full(7, np.nan))
    assert not detector.update(0, np.full(7, 3.0))
    with pytest.raises(ValueError):
        PoseJumpDetector(threshold_rad=0)


def test_arms_of_any_length_and_the_gripper_never_jumps():
    detector = PoseJumpDetector(threshold_rad=0.5)
    detector.update(2, np.zeros(4))  # a 3-joint arm and its gripper, under its own index
    assert not detector.update(2, np.r_[0.1, 0.1, 0.1, 1.0])  # the gripper may move fast
    assert detector.update(2, np.r_[0.1, 0.9, 0.1, 1.0])
    assert not detector.update(2, np.zeros(6))  # another length: a new reading, not a jump
