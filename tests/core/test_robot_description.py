"""Robot descriptions: shipped ones load, round trip, hash stably; bad fields are named with the file."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml

from recap_core.aloha_layout import ALOHA_FOLLOWER_GRIPPER, JOINT_NAMES, SIM_GRIPPER, JointNameError
from recap_core.joint_limits import JointLimits
from recap_core.robot_description import RobotDescription, RobotDescriptionError, load_robot, shipped_robots


def test_shipped_descriptions_load_and_round_trip():
    assert {"aloha", "aloha_sim", "single_arm_6dof"} <= set(shipped_robots())
    for name in shipped_robots():
        robot = load_robot(name)
        assert robot.name == name
        again = RobotDescription.from_dict(robot.to_dict(), source="copy")
        assert again.to_dict() == robot.to_dict() and again.description_hash() == robot.description_hash()


def test_the_alohas_have_the_14_joint_layout_and_their_calibrations():
    sim, real = load_robot("aloha_sim"), load_robot("aloha")
    assert sim.joint_names == real.joint_names == JOINT_NAMES
    assert sim.follower_arms[0].gripper.calibration == SIM_GRIPPER
    assert real.follower_arms[1].gripper.calibration == ALOHA_FOLLOWER_GRIPPER
    assert [c.topic for c in sim.cameras] == ["/cam_high/image_raw", "/cam_left_wrist/image_raw",
                                              "/cam_right_wrist/image_raw"]
    assert real.camera("cam_high").topic == "/cam_high/camera/color/image_rect_raw/compressed"
    assert real.commands.adapter == "interbotix"
    defaults = JointLimits()
    for got, want in zip(sim.limits(), defaults.as_arrays()):
        np.testing.assert_allclose(got, want)
    assert len(load_robot("single_arm_6dof").joint_names) == 7


def test_dimension_grippers_topics_and_home_come_from_the_description():
    arm, real = load_robot("single_arm_6dof"), load_robot("aloha")
    assert (arm.action_dim, arm.gripper_indices) == (7, (6,))
    assert (arm.follower_topics, arm.leader_topics) == (("/joint_states",), ("/leader/joint_states",))
    assert (real.action_dim, real.gripper_indices) == (14, (6, 13))
    home = real.home_pose()
    assert home[real.joint_names.index("left_elbow")] == pytest.approx(1.16)
    assert home[real.joint_names.index("left_waist")] == 0.0  # not named: 0
    np.testing.assert_array_equal(arm.home_pose(), np.zeros(7))
    data = real.to_dict()
    data["home"]["right_elbow"] = 99.0  # beyond the limit: clipped into it
    clipped = RobotDescription.from_dict(data).home_pose()
    assert clipped[real.joint_names.index("right_elbow")] == real.limits()[1][real.joint_names.index("right_elbow")]


def test_hash_is_stable_and_follows_the_content(tmp_path):
    data = load_robot("aloha").to_dict()
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert load_robot(path).description_hash() == load_robot("aloha").description_hash()
    assert len(load_robot("aloha").description_hash()) == 16
    data["follower_arms"][0]["gripper"]["open"] = 1.5
    assert RobotDescription.from_dict(data).description_hash() != load_robot("aloha").description_hash()
    reordered = load_robot("aloha").to_dict()  # the same joints in another state-vector order
    reordered["follower_arms"][0]["joints"] = dict(reversed(list(reordered["follower_arms"][0]["joints"].items())))
    reordered["leader_arms"][0]["joints"] = dict(reversed(list(reordered["leader_arms"][0]["joints"].items())))
    assert RobotDescription.from_dict(reordered).description_hash() != load_robot("aloha").description_hash()


def test_arm_vector_is_built_by_name_and_reports_unknown_joints():
    arm = load_robot("aloha").follower_arms[0]
    names = ["right_finger", "gripper", "wrist_rotate", "wrist_angle", "forearm_roll", "elbow", "shoulder",
             "waist", "left_finger", "vendor_temp"]
    positions = [0.0, ALOHA_FOLLOWER_GRIPPER.open, 6, 5, 4, 3, 2, 1, 0.0, 40.0]
    np.testing.assert_allclose(arm.vector(names, positions), [1, 2, 3, 4, 5, 6, 1.0])
    assert arm.unknown_joints(names) == ["vendor_temp"]
    with pytest.raises(JointNameError, match=r"/x: missing joint\(s\) \['elbow'\]"):
        arm.vector(names[:5] + names[6:], positions[:5] + positions[6:], source="/x")


def _bad(path_in_data, value):
    data = copy.deepcopy(load_robot("aloha").to_dict())
    node = data
    for key in path_in_data[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path_in_data[-1]]
    else:
        node[path_in_data[-1]] = value
    return data


@pytest.mark.parametrize("where, value, message", [
    (("follower_arms", 0, "gripper", "closed"), "shut", "follower_arms[0].gripper.closed must be a finite number"),
    (("follower_arms", 1, "gripper", "open"), -0.6213, "follower_arms[1].gripper closed and open must differ"),
    (("follower_arms", 0, "joint_states"), "joint_states", "follower_arms[0].joint_states must be an absolute topic"),
    (("cameras", 2, "encoding"), "h264", "cameras[2].encoding must be one of ['raw', 'compressed'], got 'h264'"),
    (("cameras", 0, "size"), [480], "cameras[0].size must be [H, W]"),
    (("cameras", 1, "rate_hz"), 0, "cameras[1].rate_hz must be a positive finite number"),
    (("commands", "adapter"), "can_bus", "commands.adapter must be one of"),
    (("commands", "topics", "left"), ["/only_one"], "commands.topics.left needs 2 topic(s) for the interbotix"),
    (("joint_limits", "left_elbow"), KeyError, "joint_limits must give every state-vector joint once: "
                                               "missing ['left_elbow']"),
    (("joint_limits", "right_waist", "lower"), 4.0, "joint_limits.right_waist lower must be below upper"),
    (("control_rate_hz",), -50, "control_rate_hz must be a positive finite number"),
    (("name",), KeyError, "<top> misses the field 'name'"),
    (("follower_arms", 0, "ignore"), ["gripper"], "follower_arms[0].ignore lists joint(s) ['gripper']"),
    (("follower_arms", 0, "jionts"), {}, "follower_arms[0] has unknown field(s) ['jionts']"),
    (("home", "left_knee"), 0.3, "home names joint(s) ['left_knee'] that are not in the state vector"),
    (("home", "left_elbow"), "up", "home.left_elbow must be a finite number"),
    (("leader_arms", 1, "joints", "waist"), "left_waist", "leader_arms must give the followers' state vector"),
])
def test_bad_fields_are_named_with_the_file(where, value, message):
    with pytest.raises(RobotDescriptionError) as error:
        RobotDescription.from_dict(_bad(where, value), source="robots/mine.yaml")
    assert str(error.value).startswith("robots/mine.yaml: ") and message in str(error.value)


def test_unknown_names_and_missing_files_are_clear(tmp_path):
    with pytest.raises(RobotDescriptionError, match=r"unknown robot 'alhoa': did you mean 'aloha'\? "
                                                    r"shipped descriptions: aloha, aloha_sim, single_arm_6dof"):
        load_robot("alhoa")
    with pytest.raises(RobotDescriptionError, match="no such file"):
        load_robot(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(RobotDescriptionError, match="broken.yaml: cannot be read"):
        load_robot(broken)
