"""Observation assembly by joint name, staleness, and image decoding without cv_bridge."""
import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recap_core.aloha_layout import ARM_JOINTS, GRIPPER_JOINT, JointNameError
from recap_core.robot_description import load_robot
from recap_policy.image_decoding import ImageDecodeError, RawImage, decode_rgb
from recap_policy.observation_builder import ObservationBuilder, ObservationSpec, StaleObservation

ARMS = load_robot("aloha_sim").follower_arms  # /follower_{left,right}/joint_states, sim gripper 0.021..0.057
NAMES = [*ARM_JOINTS, GRIPPER_JOINT]
RGB = np.random.default_rng(0).integers(0, 255, size=(6, 8, 3), dtype=np.uint8)


def ns(seconds: float) -> int:
    return int(round(seconds * 1e9))


def spec(**kw) -> ObservationSpec:
    return ObservationSpec(arms=ARMS, max_age_s=0.5, max_camera_age_s=0.5, **kw)


def feed_arms(b: ObservationBuilder, stamp_s: float) -> None:
    # Shuffled order plus the sim's finger joints (ignored by the description): vectors are built by name.
    names = ["left_finger", *reversed(NAMES), "right_finger"]
    for arm in (0, 1):
        values = {n: 0.1 * (i + 1) + arm for i, n in enumerate(ARM_JOINTS)} | {GRIPPER_JOINT: 0.057}
        b.update_joints(arm, names, [values.get(n, 9.9) for n in names], ns(stamp_s))


def test_qpos_is_built_by_name_with_normalised_grippers():
    b = ObservationBuilder(spec())
    feed_arms(b, 10.0)
    obs = b.build(ns(10.1))
    np.testing.assert_allclose(obs.qpos[:6], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    np.testing.assert_allclose(obs.qpos[7:13], [1.1, 1.2, 1.3, 1.4, 1.5, 1.6])
    assert obs.qpos[6] == pytest.approx(1.0) and obs.qpos[13] == pytest.approx(1.0)
    assert obs.stamp_ns == ns(10.0)


def test_missing_joint_is_an_error_naming_the_topic_and_makes_the_arm_stale():
    b = ObservationBuilder(spec())
    feed_arms(b, 0.0)
    assert b.staleness(ns(0.1)) is None
    with pytest.raises(JointNameError, match="/follower_right/joint_states.*elbow"):
        b.update_joints(1, [n for n in NAMES if n != "elbow"], [0.0] * 6, ns(0.1))
    assert "/follower_right/joint_states: missing joint(s) ['elbow']" in b.staleness(ns(0.1))
    with pytest.raises(StaleObservation, match="elbow"):
        b.build(ns(0.1))  # never the previous, complete reading in its place
    feed_arms(b, 0.2)
    assert b.staleness(ns(0.2)) is None


def test_unknown_joints_are_ignored_with_one_warning_per_topic():
    warnings = []
    b = ObservationBuilder(spec(), warn=warnings.append)
    for _ in range(3):
        b.update_joints(0, [*NAMES, "camera_tilt"], [0.0] * 6 + [0.057, 9.0], 0)
    b.update_joints(0, [*NAMES, "left_finger"], [0.0] * 6 + [0.057, 9.0], 0)  # listed under `ignore`: silent
    assert warnings == ["/follower_left/joint_states: joint(s) ['camera_tilt'] are not in the robot description's "
                        "arm 'left'; ignored (list them under `ignore` to silence this)"]


def test_a_single_arm_description_builds_its_own_vector():
    arm = load_robot("single_arm_6dof").follower_arms
    b = ObservationBuilder(ObservationSpec(arms=arm))
    names = ["gripper_joint", *(f"joint{i}" for i in range(6, 0, -1))]
    b.update_joints(0, names, [0.4, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0], ns(1.0))
    obs = b.build(ns(1.0))
    np.testing.assert_allclose(obs.qpos, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.5])  # gripper 0.4 of 0..0.8


def test_missing_and_stale_inputs_are_named():
    b = ObservationBuilder(spec(cameras={"cam_high": "/cam_high/image_raw"}))
    assert "no message yet on /follower_left/joint_states" in b.staleness(ns(0.0))
    feed_arms(b, 0.0)
    assert b.staleness(ns(0.1)) == "no message yet on /cam_high/image_raw"
    b.update_image("cam_high", RawImage(RGB.tobytes(), "rgb8", 6, 8, 24), 0)
    assert b.staleness(ns(0.4)) is None
    with pytest.raises(StaleObservation, match=r"/cam_high/image_raw is 0.700 s old \(max 0.500 s\)"):
        feed_arms(b, 0.6)
        b.build(ns(0.7))


def test_images_of_another_size_are_resized_with_one_warning_per_camera():
    warnings = []
    cams = {"cam_high": "/cam_high/image_raw", "cam_left_wrist": "/cam_left_wrist/image_raw"}
    b = ObservationBuilder(spec(cameras=cams, image_size=(3, 4)), warn=warnings.append)
    feed_arms(b, 0.0)
    b.update_image("cam_high", RawImage(RGB.tobytes(), "rgb8", 6, 8, 24), 0)
    small = np.ascontiguousarray(RGB[:3, :4])
    b.update_image("cam_left_wrist", RawImage(small.tobytes(), "rgb8", 3, 4, 12), 0)
    for _ in range(3):
        obs = b.build(ns(0.0))
    assert obs.images["cam_high"].shape == (3, 4, 3)
    np.testing.assert_array_equal(obs.images["cam_left_wrist"], small)  # the policy's size: untouched
    assert warnings == ["/cam_high/image_raw: camera 'cam_high' sends 6x8 (HxW) frames, the policy expects 3x4: "
                        "every frame is resized"]


def test_a_frame_of_another_size_than_the_description_says_is_warned_once():
    warnings = []
    b = ObservationBuilder(spec(cameras={"cam_high": "/cam_high/image_raw"}, camera_sizes={"cam_high": (240, 320)}),
                           warn=warnings.append)
    feed_arms(b, 0.0)
    b.update_image("cam_high", RawImage(RGB.tobytes(), "rgb8", 6, 8, 24), 0)
    b.build(ns(0.0))
    b.build(ns(0.0))
    assert warnings == ["/cam_high/image_raw: camera 'cam_high' sends 6x8 (HxW) frames, the robot description says "
                        "240x320: correct its `size`"]


def test_an_unknown_encoding_is_refused_when_the_frame_arrives():
    b = ObservationBuilder(spec(cameras={"cam_high": "/cam_high/image_raw"}))
    with pytest.raises(ImageDecodeError, match="/cam_high/image_raw: unsupported image encoding '16UC1'"):
        b.update_image("cam_high", RawImage(b"\0" * 8, "16UC1", 2, 2, 4), 0)
    feed_arms(b, 0.0)
    assert b.staleness(ns(0.0)) == "no message yet on /cam_high/image_raw"  # the frame was not kept


def test_camera_frames_have_their_own_tolerance():
    b = ObservationBuilder(ObservationSpec(arms=ARMS, max_age_s=0.5, max_camera_age_s=0.1,
                                           cameras={"cam_high": "/cam_high/image_raw"}))
    b.update_image("cam_high", RawImage(RGB.tobytes(), "rgb8", 6, 8, 24), 0)
    feed_arms(b, 0.0)
    assert b.staleness(ns(0.1)) is None
    assert b.staleness(ns(0.15)) == "/cam_high/image_raw is 0.150 s old (max 0.100 s)"  # joints still fresh


def test_after_a_new_episode_the_last_scenes_frame_counts_as_missing_until_a_new_one_arrives():
    b = ObservationBuilder(spec(cameras={"cam_high": "/cam_high/image_raw"}))
    b.update_image("cam_high", RawImage(RGB.tobytes(), "rgb8", 6, 8, 24), ns(9.95))  # the last episode's scene
    b.new_episode(ns(10.0))
    feed_arms(b, 10.0)  # the reset pose, stamped at the reset itself: of the new episode
    assert b.staleness(ns(10.02)) == "nothing on /cam_high/image_raw since the episode began 0.020 s ago"
    assert b.starting_episode(ns(10.02))  # an expected wait: not warned
    with pytest.raises(StaleObservation, match="since the episode began"):
        b.build(ns(10.02))  # young enough by age (0.07 s), but of the other scene
    b.update_image("cam_high", RawImage(RGB.tobytes(), "rgb8", 6, 8, 24), ns(10.0))
    assert b.build(ns(10.02)).stamp_ns == ns(10.0)


def test_an_input_silent_past_its_tolerance_after_the_start_is_a_fault_not_a_wait():
    b = ObservationBuilder(ObservationSpec(arms=ARMS, max_age_s=0.5, max_camera_age_s=0.3,
                                           cameras={"cam_high": "/cam_high/image_raw"}))
    b.update_image("cam_high", RawImage(RGB.tobytes(), "rgb8", 6, 8, 24), ns(10.0))
    b.new_episode(ns(10.1))
    feed_arms(b, 10.25)
    assert b.starting_episode(ns(10.25))
    assert not b.starting_episode(ns(10.35))  # the camera said nothing new for its whole tolerance
    assert b.staleness(ns(10.35)) == "/cam_high/image_raw is 0.350 s old (max 0.300 s)"


INPUTS = st.sampled_from(["left", "right", "cam_high"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["sample", "episode", "build"]), INPUTS,
                          st.integers(0, 10), st.integers(-5, 5)), max_size=60))
def test_no_observation_mixes_in_a_sample_from_before_the_episode(events):
    """Over any interleaving of samples (stamps jittered around the node clock), episode starts and
    builds: every observation built is made only of samples stamped at or after the latest start."""
    b = ObservationBuilder(ObservationSpec(arms=ARMS, max_age_s=0.5, max_camera_age_s=0.5,
                                           cameras={"cam_high": "/cam_high/image_raw"}))
    now = start = None
    clock = 0
    for kind, which, advance, jitter in events:
        clock += advance
        now = ns(1.0 + 0.01 * clock)
        stamp = now + jitter * 10_000_000
        if kind == "sample" and which == "cam_high":
            b.update_image("cam_high", RawImage(RGB.tobytes(), "rgb8", 6, 8, 24), stamp)
        elif kind == "sample":
            b.update_joints(0 if which == "left" else 1, NAMES, [0.0] * 6 + [0.057], stamp)
        elif kind == "episode":
            start = stamp
            b.new_episode(stamp)
        else:
            try:
                obs = b.build(now)
            except StaleObservation:
                continue
            assert start is None or obs.stamp_ns >= start


def test_object_state_is_reordered_by_name_and_required_for_state_policies():
    b = ObservationBuilder(spec(state_names=("cube_x", "cube_y")))
    feed_arms(b, 0.0)
    assert "/sim/object_state" in b.staleness(ns(0.0))
    b.update_object_state(["cube_y", "cube_z", "cube_x"], [2.0, 3.0, 1.0], 0)
    np.testing.assert_allclose(b.build(ns(0.0)).env_state, [1.0, 2.0])
    with pytest.raises(ValueError, match="missing state feature.*cube_y"):
        b.update_object_state(["cube_x"], [1.0], 0)


@pytest.mark.parametrize("encoding,pixels", [
    ("rgb8", RGB), ("bgr8", RGB[:, :, ::-1]),
    ("rgba8", np.dstack([RGB, np.full(RGB.shape[:2], 255, np.uint8)])),
])
def test_raw_encodings_decode_to_rgb(encoding, pixels):
    pixels = np.ascontiguousarray(pixels)
    h, w, c = pixels.shape
    padded = np.zeros((h, w * c + 4), np.uint8)  # a step with row padding
    padded[:, : w * c] = pixels.reshape(h, -1)
    out = decode_rgb(RawImage(padded.tobytes(), encoding, h, w, w * c + 4), "/cam")
    np.testing.assert_array_equal(out, RGB)


def test_mono_and_compressed_images():
    mono = decode_rgb(RawImage(RGB[:, :, 0].tobytes(), "mono8", 6, 8, 8), "/cam")
    np.testing.assert_array_equal(mono[:, :, 2], RGB[:, :, 0])
    ok, png = cv2.imencode(".png", cv2.cvtColor(RGB, cv2.COLOR_RGB2BGR))
    out = decode_rgb(RawImage(png.tobytes(), "png", compressed=True), "/cam/compressed")
    np.testing.assert_array_equal(out, RGB)


def test_bad_images_name_the_topic():
    with pytest.raises(ImageDecodeError, match="/cam_high/image_raw: unsupported image encoding '16UC1'"):
        decode_rgb(RawImage(b"", "16UC1", 2, 2, 4), "/cam_high/image_raw")
    with pytest.raises(ImageDecodeError, match="/cam: 8x6 rgb8 image with step 24 needs 144 bytes, got 10"):
        decode_rgb(RawImage(b"0" * 10, "rgb8", 6, 8, 24), "/cam")
    with pytest.raises(ImageDecodeError, match="cannot decode 5-byte compressed image"):
        decode_rgb(RawImage(b"jpeg?", "jpeg", compressed=True), "/cam/compressed")
