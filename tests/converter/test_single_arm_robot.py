"""A robot that is not the ALOHA: single_arm_6dof bags (written with `rosbags`, as `ros2 bag record`
takes them) -> a 7-D dataset -> a policy and a value function of 7 joints -> a LeRobot export
named by the 7 joints. Mixing robots is refused naming both descriptions."""
from __future__ import annotations

import json

import numpy as np
import pytest
from converter.bagfactory import BagSpec, single_arm_qpos, write_rosbags, write_single_arm_bag

from recap_core.robot_description import load_robot
from recap_model.checkpoint import read_robot
from recap_model.policy import load_policy
from recap_trainer.bags.build import build_dataset
from recap_trainer.bags.config import ConverterConfig
from recap_trainer.bags.episode_builder import EpisodeBuilder
from recap_trainer.bags.errors import BagError
from recap_trainer.cli import main as recap_main
from recap_trainer.dataset import DatasetError, EpisodeData, RecapDataset
from recap_trainer.lerobot_export import export_lerobot
from recap_trainer.training.episodes import EpisodeCatalog, open_datasets
from recap_trainer.training.run import TrainConfig
from recap_trainer.training.train_policy import PolicyTrainConfig, train_policy
from recap_trainer.training.train_value import train_value

ARM = load_robot("single_arm_6dof")
JOINTS = ["shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3", "gripper"]
TINY_MODEL = {"width": 32, "image_channels": (8, 8)}
TINY_POLICY = {"horizon": 4, "flow_width": 32, "flow_blocks": 1, "denoising_steps": 2}
TWO_STEPS = TrainConfig(steps=2, batch_size=4, warmup_steps=1)


def sim_episode(steps: int = 10) -> EpisodeData:
    qpos = np.full((steps, 14), 0.5)
    return EpisodeData("sim", "pick", "success", "demo", 0, np.arange(steps) * 0.02, qpos, None, {}, qpos,
                       np.full((steps, 14), np.nan), np.zeros(steps, bool))


def build_cli(bags, out, *extra) -> int:
    return recap_main(["dataset", "build", str(bags), "--out", str(out), "--robot", "single_arm_6dof",
                       "--image-size", "24", "32", "--task", "pick", *extra])


@pytest.fixture(scope="module")
def arm_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("arm")
    for i, outcome in enumerate(("success", "failure", "success")):
        write_single_arm_bag(root / "bags" / f"ep{i}", seconds=0.8, sidecar={"outcome": outcome})
    assert build_cli(root / "bags", root / "ds") == 0
    return root / "ds"


def test_single_arm_bags_become_a_7d_dataset_recording_the_robot(arm_dataset):
    ds = RecapDataset(arm_dataset)
    assert ds.robot.joint_names == tuple(JOINTS) and ds.robot.description_hash == ARM.description_hash()
    manifest = json.loads((arm_dataset / "manifest.json").read_text())["config"]
    assert manifest["robot"]["name"] == "single_arm_6dof" and manifest["robot"]["joint_names"] == JOINTS
    assert manifest["cameras"] == ["scene", "wrist"] and manifest["control_period"] == pytest.approx(1 / 30)
    ep = ds[0]
    assert ep.qpos.shape == ep.executed_action.shape == ep.proposed_action.shape == (ep.num_steps, 7)
    assert 22 <= ep.num_steps <= 24 and ep.images["scene"].shape[1:] == (24, 32, 3)
    # joints by name (the driver publishes them reversed, with an unknown joint), gripper normalised
    k = np.floor((ep.timestamps + (ep.metadata["start_time_ns"] - 1_700_000_000 * 10**9) / 1e9) * 100 + 1e-6)
    assert np.allclose(ep.qpos[:, 2], [single_arm_qpos(int(s), 2) for s in k], atol=0.0021)  # elbow = joint3, within one message
    assert set(np.round(ep.qpos[:, 6], 6)) == {0.0, 1.0}  # raw 0.0 / 0.8 with the description's calibration
    assert np.array_equal(ep.executed_action, ep.qpos)  # teleoperation: the leader is the action


def test_executed_commands_are_read_by_the_descriptions_joint_names(tmp_path):
    bag = write_single_arm_bag(tmp_path / "cmd", seconds=0.5, executed=True, sidecar={"outcome": "success"})
    episode, _ = EpisodeBuilder(ConverterConfig(robot=ARM, cameras=(), image_size=None,
                                                control_period=ARM.control_period)).build(bag, task="pick")
    assert episode.executed_action.shape[1] == 7
    assert np.allclose(episode.executed_action[:, 6], 0.25)  # the gripper, sent first (names in reverse order)
    assert np.allclose(episode.executed_action[:, :6] * 2, episode.qpos[:, :6], atol=0.02)


def test_a_tiny_policy_and_value_train_on_7_joints_and_carry_the_robot(arm_dataset, tmp_path):
    catalog = open_datasets([arm_dataset])
    cams = ("scene", "wrist")
    value = train_value(catalog, tmp_path / "value", TWO_STEPS, model_sizes=TINY_MODEL, cameras=cams)
    policy = train_policy(catalog, tmp_path / "policy", TWO_STEPS, PolicyTrainConfig("bc"), model_sizes=TINY_MODEL,
                          policy_sizes=TINY_POLICY, cameras=cams)
    block = {"name": "single_arm_6dof", "description_hash": ARM.description_hash(), "joint_names": JOINTS}
    for directory in (value, policy):
        config = json.loads((directory / "config.json").read_text())
        assert config["robot"] == block and read_robot(directory) == block
        assert config["model_config"]["observation"]["qpos_dim"] == 7
    assert json.loads((policy / "config.json").read_text())["model_config"]["action_dim"] == 7
    loaded = load_policy(policy)
    ep = catalog.episode(0)
    chunk = loaded.infer({"qpos": ep.qpos[0], "task": "pick", "images": {c: ep.images[c][0] for c in cams}})
    assert chunk.shape == (4, 7) and loaded.metadata["joint_names"] == JOINTS
    sim_episodes = EpisodeCatalog([[sim_episode()]])  # in-memory episodes are aloha_sim's
    with pytest.raises(ValueError, match=r"policy: trained on robot description 'single_arm_6dof' \(hash [0-9a-f]{16}\), "
                                         r"the data holds robot description 'aloha_sim'"):
        train_policy(sim_episodes, tmp_path / "tuned", TWO_STEPS, PolicyTrainConfig("bc"), init_from=policy)


def test_the_lerobot_export_names_the_7_joints(arm_dataset, tmp_path):
    info = export_lerobot(arm_dataset, tmp_path / "lr")
    for key in ("observation.state", "action", "complementary_info.proposed_action"):
        assert info["features"][key]["names"] == JOINTS and info["features"][key]["shape"] == [7]
    assert info["robot_type"] == "single_arm_6dof"


def test_a_bag_recorded_with_another_description_is_refused_naming_both(tmp_path):
    sim = load_robot("aloha_sim")
    bag = write_single_arm_bag(tmp_path / "bags" / "other", seconds=0.3, sidecar={
        "outcome": "success", "robot_description": "aloha_sim", "robot_description_hash": sim.description_hash()})
    with pytest.raises(BagError, match=rf"recorded with robot description 'aloha_sim' \(hash {sim.description_hash()}\); "
                                       rf"--robot is 'single_arm_6dof' \(hash {ARM.description_hash()}\)"):
        EpisodeBuilder(ConverterConfig(robot=ARM, cameras=())).build(bag, task="pick")
    write_single_arm_bag(tmp_path / "bags" / "same", seconds=0.3, sidecar={
        "outcome": "success", "robot_description": "single_arm_6dof", "robot_description_hash": ARM.description_hash()})
    report = build_dataset([tmp_path / "bags" / "same"], tmp_path / "ds", ConverterConfig(robot=ARM, cameras=()),
                           task="pick", progress=False)
    assert report.converted, report.failed


def test_mixing_robots_is_refused_in_a_dataset_and_in_training(arm_dataset, tmp_path):
    sim_bag = write_rosbags(tmp_path / "sim" / "ep", BagSpec(command_step=0.01, cameras=()))
    sim = ConverterConfig(cameras=(), image_size=None)
    assert build_dataset([sim_bag], tmp_path / "sim_ds", sim, progress=False).converted
    write_single_arm_bag(tmp_path / "bags" / "arm", seconds=0.3, sidecar={"outcome": "success"})
    with pytest.raises(DatasetError, match=r"sim_ds: the dataset holds robot description 'aloha_sim' .*; this build "
                                           r"uses robot description 'single_arm_6dof' \(hash [0-9a-f]{16}, 7 joints\)"):
        build_cli(tmp_path / "bags", tmp_path / "sim_ds", "--cameras", "")
    with pytest.raises(ValueError, match=r"cannot train on datasets of different robots: .* holds robot description "
                                         r"'single_arm_6dof' .*sim_ds robot description 'aloha_sim'"):
        open_datasets([arm_dataset, tmp_path / "sim_ds"])
