"""Per-arm command validation: every bad-input case is rejected with a reason naming it."""
import math

import numpy as np
import pytest

from recap_core.aloha_layout import GripperCalibration
from recap_core.joint_limits import JointLimits
from recap_sim.command_validation import (ARM_COMMAND_JOINTS, CommandLimits, CommandRejected,
                                          validate_arm_command)

GRIPPER = GripperCalibration(closed=0.02, open=0.06)  # raw units, like the sim's finger joint (m)
BOUNDS = CommandLimits(gripper=GRIPPER)
NAMES = list(ARM_COMMAND_JOINTS)
GOOD = [0.1, -0.2, 0.3, 0.0, 0.5, -0.4, 0.04]  # raw gripper 0.04 = half open


def test_valid_command_is_returned_in_joint_order_with_normalised_gripper():
    order = [6, 3, 0, 5, 1, 4, 2]
    vec = validate_arm_command([NAMES[i] for i in order], [GOOD[i] for i in order], "left", BOUNDS)
    np.testing.assert_allclose(vec, [0.1, -0.2, 0.3, 0.0, 0.5, -0.4, 0.5])


def test_values_within_the_margin_are_clipped_onto_the_limits():
    lower, upper, _ = JointLimits().as_arrays()
    pos = list(GOOD)
    pos[1] = upper[1] + 0.1  # shoulder 0.1 rad over, margin 0.2
    pos[6] = GRIPPER.denormalise(-0.1)  # gripper slightly more closed than closed
    vec = validate_arm_command(NAMES, pos, "right", BOUNDS)
    assert vec[1] == pytest.approx(upper[8])
    assert vec[6] == pytest.approx(0.0)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("index", [0, 6])
def test_non_finite_values_are_rejected(bad, index):
    pos = list(GOOD)
    pos[index] = bad
    with pytest.raises(CommandRejected, match=f"non-finite position for \\['{NAMES[index]}'\\]"):
        validate_arm_command(NAMES, pos, "left", BOUNDS)


def test_fewer_positions_than_names_is_rejected():
    with pytest.raises(CommandRejected, match="7 joint names but 6 positions"):
        validate_arm_command(NAMES, GOOD[:6], "left", BOUNDS)


def test_a_missing_joint_is_rejected():
    with pytest.raises(CommandRejected, match=r"missing joint\(s\) \['gripper'\]"):
        validate_arm_command(NAMES[:6], GOOD[:6], "left", BOUNDS)


def test_empty_command_is_rejected():
    with pytest.raises(CommandRejected, match="no positions"):
        validate_arm_command(NAMES, [], "left", BOUNDS)


@pytest.mark.parametrize("name", ["left_waist", "left_finger", "elbow_joint", ""])
def test_unknown_joint_names_are_rejected(name):
    with pytest.raises(CommandRejected, match="unknown joint name"):
        validate_arm_command(NAMES + [name], GOOD + [0.0], "left", BOUNDS)


def test_renamed_joint_is_rejected_as_unknown():
    names = ["left_" + n for n in NAMES]  # 14-D prefixed names sent to a per-arm topic
    with pytest.raises(CommandRejected, match="unknown joint name"):
        validate_arm_command(names, GOOD, "left", BOUNDS)


def test_duplicated_joint_names_are_rejected():
    names = NAMES[:6] + ["waist"]
    with pytest.raises(CommandRejected, match=r"\['waist'\] given more than once"):
        validate_arm_command(names, GOOD, "left", BOUNDS)


@pytest.mark.parametrize("index, value", [(0, 3.14 + 0.25), (2, -1.76 - 0.5), (4, 10.0)])
def test_arm_joints_far_outside_the_limits_are_rejected(index, value):
    pos = list(GOOD)
    pos[index] = value
    with pytest.raises(CommandRejected, match=f"far outside the joint limits: {NAMES[index]}="):
        validate_arm_command(NAMES, pos, "right", BOUNDS)


def test_gripper_far_outside_is_rejected_in_normalised_units():
    pos = list(GOOD)
    pos[6] = 0.5  # raw 0.5 is (0.5 - 0.02) / 0.04 = 12 normalised: wrong units upstream
    with pytest.raises(CommandRejected, match=r"gripper=12 normalised, raw 0.5 \(limits \[0, 1\]\)"):
        validate_arm_command(NAMES, pos, "left", BOUNDS)


def test_margin_zero_rejects_anything_outside():
    strict = CommandLimits(gripper=GRIPPER, joint_margin=0.0)
    pos = list(GOOD)
    pos[1] = 1.26 + 1e-6
    with pytest.raises(CommandRejected):
        validate_arm_command(NAMES, pos, "left", strict)
    pos[1] = 1.26
    assert validate_arm_command(NAMES, pos, "left", strict)[1] == pytest.approx(1.26)


def test_per_arm_limits_come_from_that_arms_slice():
    lower = list(JointLimits().lower)
    upper = list(JointLimits().upper)
    upper[7] = 0.5  # right waist only
    bounds = CommandLimits(gripper=GRIPPER, limits=JointLimits(lower=tuple(lower), upper=tuple(upper)),
                           joint_margin=0.1)
    pos = list(GOOD)
    pos[0] = 1.0
    assert validate_arm_command(NAMES, pos, "left", bounds)[0] == pytest.approx(1.0)
    with pytest.raises(CommandRejected, match="right arm"):
        validate_arm_command(NAMES, pos, "right", bounds)


def test_non_numeric_positions_are_rejected():
    with pytest.raises(CommandRejected, match="not numbers"):
        validate_arm_command(NAMES, GOOD[:6] + ["open"], "left", BOUNDS)


@pytest.mark.parametrize("kwargs", [{"joint_margin": -0.1}, {"gripper_margin": math.nan}])
def test_bad_margins_are_refused(kwargs):
    with pytest.raises(ValueError):
        CommandLimits(gripper=GRIPPER, **kwargs)


def test_unknown_arm_is_refused():
    with pytest.raises(ValueError, match="unknown arm"):
        validate_arm_command(NAMES, GOOD, "middle", BOUNDS)
