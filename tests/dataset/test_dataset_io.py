"""DatasetWriter / RecapDataset: Arrow round trip, manifest, incremental appends, bad datasets."""

from __future__ import annotations

import gc
import json
import pickle

import numpy as np
import pytest

from recap_core.robot_description import load_robot
from recap_model.robot_layout import RobotLayout
from recap_trainer.dataset import DatasetConfig, DatasetError, DatasetWriter, RecapDataset

CAMERAS = ("cam_high", "cam_left_wrist")
IMAGE_CONFIG = DatasetConfig(cameras=CAMERAS, image_size=(8, 10))


def _assert_same(a, b):
    assert (a.episode_id, a.task, a.outcome, a.source, a.iteration, a.metadata) == \
        (b.episode_id, b.task, b.outcome, b.source, b.iteration, b.metadata)
    for key in ("timestamps", "qpos", "env_state", "executed_action", "proposed_action", "intervention"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert sorted(a.images) == sorted(b.images)
    for cam in a.images:
        np.testing.assert_array_equal(a.images[cam], b.images[cam])


def test_round_trip_with_images_is_exact_and_memory_mapped(tmp_path, episode_factory):
    written = [episode_factory(f"ep{i}", steps=10 + i, cameras=CAMERAS, seed=i) for i in range(3)]
    writer = DatasetWriter(tmp_path / "ds", config=IMAGE_CONFIG)
    for episode in written:
        writer.append(episode, origin="bag_a")
    dataset = RecapDataset(tmp_path / "ds")
    assert len(dataset) == 3 and dataset.num_steps == 10 + 11 + 12
    for original, loaded in zip(written, dataset):
        _assert_same(original, loaded)
    loaded = dataset[1]
    # views into the memory map, not private copies
    assert not loaded.images["cam_high"].flags.owndata and not loaded.images["cam_high"].flags.writeable
    assert not loaded.qpos.flags.writeable
    assert not [p for p in (tmp_path / "ds").rglob("*.tmp")]  # atomic writes leave no temp files


def test_state_only_episode_without_env_state_round_trips(tmp_path, episode_factory):
    episode = episode_factory("real_robot", state_dim=None)
    DatasetWriter(tmp_path).append(episode)
    loaded = RecapDataset(tmp_path)[0]
    assert loaded.env_state is None and loaded.images == {}
    _assert_same(episode, loaded)


def test_manifest_records_config_hash_sources_and_summaries(tmp_path, episode_factory):
    writer = DatasetWriter(tmp_path, config=DatasetConfig(extra={"converter": "v1"}))
    writer.append(episode_factory("a", outcome="failure"), origin="/bags/one.mcap")
    writer.mark_ingested("/bags/one.mcap")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["config_hash"] == DatasetConfig(extra={"converter": "v1"}).hash
    assert manifest["sources"] == ["/bags/one.mcap"]
    (summary,) = manifest["episodes"]
    assert summary["outcome"] == "failure" and summary["num_steps"] == 20
    assert summary["num_interventions"] == 3 and summary["origin"] == "/bags/one.mcap"
    assert summary["duration_s"] == pytest.approx(19 * 0.02)


def test_appends_are_incremental_across_writers(tmp_path, episode_factory):
    first = DatasetWriter(tmp_path)
    first.append(episode_factory("a"), origin="bag1")
    first.mark_ingested("bag1")
    second = DatasetWriter(tmp_path)  # a later converter run reopens the same dataset
    assert second.is_ingested("bag1") and not second.is_ingested("bag2")
    second.append(episode_factory("b"), origin="bag2")
    second.mark_ingested("bag2")
    dataset = RecapDataset(tmp_path)
    assert [s.episode_id for s in dataset.summaries] == ["a", "b"]
    assert dataset.sources == ("bag1", "bag2")


def test_duplicate_episode_id_is_refused_and_loses_nothing(tmp_path, episode_factory):
    writer = DatasetWriter(tmp_path)
    writer.append(episode_factory("a", seed=1))
    with pytest.raises(DatasetError, match="episode 'a' is already in the dataset"):
        writer.append(episode_factory("a", seed=2))
    np.testing.assert_array_equal(RecapDataset(tmp_path)[0].qpos, episode_factory("a", seed=1).qpos)


def test_other_config_is_refused(tmp_path, episode_factory):
    DatasetWriter(tmp_path, config=DatasetConfig(control_period=0.02))
    with pytest.raises(DatasetError, match=r"other settings \(control_period: 0.02 in the dataset, 0.04 here\)"):
        DatasetWriter(tmp_path, config=DatasetConfig(control_period=0.04))


def test_camera_and_state_mismatches_name_the_episode(tmp_path, episode_factory):
    writer = DatasetWriter(tmp_path, config=IMAGE_CONFIG)
    with pytest.raises(DatasetError, match=r"episode 'no_cams' has cameras \[\]"):
        writer.append(episode_factory("no_cams"))
    with pytest.raises(DatasetError, match="episode 'small'.*frames are"):
        writer.append(episode_factory("small", cameras=CAMERAS, image_size=(4, 4)))
    writer.append(episode_factory("s7", cameras=CAMERAS, state_dim=7))
    with pytest.raises(DatasetError, match="episode 's9' has env_state dim 9.*already has dim 7"):
        writer.append(episode_factory("s9", cameras=CAMERAS, state_dim=9))
    writer.append(episode_factory("other_task", task="espresso", cameras=CAMERAS, state_dim=9))
    assert len(RecapDataset(tmp_path)) == 2


def test_empty_and_missing_datasets_raise_clearly(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        RecapDataset(tmp_path / "nope")
    with pytest.raises(DatasetError, match="not a RECAP dataset"):
        RecapDataset(tmp_path)
    DatasetWriter(tmp_path / "empty")
    with pytest.raises(DatasetError, match="dataset has no episodes"):
        RecapDataset(tmp_path / "empty")
    assert len(RecapDataset(tmp_path / "empty", allow_empty=True)) == 0


def test_missing_or_corrupt_episode_file_names_it(tmp_path, episode_factory):
    writer = DatasetWriter(tmp_path)
    writer.append(episode_factory("gone"))
    writer.append(episode_factory("broken"))
    (tmp_path / "episodes" / "gone.arrow").unlink()
    (tmp_path / "episodes" / "broken.arrow").write_bytes(b"not arrow")
    dataset = RecapDataset(tmp_path)
    with pytest.raises(DatasetError, match="episode 'gone' file .*gone.arrow is missing"):
        dataset[0]
    with pytest.raises(ValueError, match="broken.arrow: not a readable RECAP episode file"):
        dataset[1]


def test_step_access_returns_padded_chunks(tmp_path, episode_factory):
    writer = DatasetWriter(tmp_path, config=IMAGE_CONFIG)
    episodes = [episode_factory(f"e{i}", steps=6, cameras=CAMERAS, seed=i) for i in range(2)]
    for episode in episodes:
        writer.append(episode)
    dataset = RecapDataset(tmp_path)
    assert dataset.locate(0) == (0, 0) and dataset.locate(5) == (0, 5) and dataset.locate(6) == (1, 0)
    with pytest.raises(IndexError):
        dataset.locate(12)
    sample = dataset.sample(10, horizon=4)  # episode 1, t = 4: two real actions, two pads
    assert (sample["episode_index"], sample["t"]) == (1, 4)
    np.testing.assert_array_equal(sample["actions"][:2], episodes[1].executed_action[4:6])
    np.testing.assert_array_equal(sample["actions"][2:], episodes[1].executed_action[[5, 5]])
    assert sample["action_is_pad"].tolist() == [False, False, True, True]
    np.testing.assert_array_equal(sample["images"]["cam_left_wrist"], episodes[1].images["cam_left_wrist"][4])
    np.testing.assert_array_equal(sample["qpos"], episodes[1].qpos[4])
    sample["qpos"][0] = 99.0  # a copy: training may modify it
    assert dataset[1].qpos[4, 0] != 99.0


def test_episodes_by_task_stats_and_task_filter(tmp_path, episode_factory):
    writer = DatasetWriter(tmp_path)
    tasks = ["transfer_cube", "espresso", "transfer_cube"]
    episodes = [episode_factory(f"e{i}", task=t, state_dim=7 if t == "transfer_cube" else 3, seed=i)
                for i, t in enumerate(tasks)]
    for episode in episodes:
        writer.append(episode)
    dataset = RecapDataset(tmp_path)
    assert dataset.episodes_by_task() == {"transfer_cube": [0, 2], "espresso": [1]}
    stats = dataset.stats()
    qpos = np.concatenate([e.qpos for e in episodes])
    np.testing.assert_allclose(stats["qpos"].mean, qpos.mean(axis=0))
    np.testing.assert_allclose(stats["qpos"].std, qpos.std(axis=0))
    np.testing.assert_allclose(stats["executed_action"].max, np.concatenate([e.executed_action for e in episodes]).max(0))
    assert stats["env_state/espresso"].mean.shape == (3,) and stats["env_state/transfer_cube"].count == 40
    assert stats["qpos"].from_dict(stats["qpos"].to_dict()).count == 60
    cube = RecapDataset(tmp_path, tasks=["transfer_cube"])
    assert [s.episode_id for s in cube.summaries] == ["e0", "e2"]
    with pytest.raises(DatasetError, match=r"no episodes for tasks \['laundry'\]"):
        RecapDataset(tmp_path, tasks=["laundry"])


def test_open_maps_are_bounded_and_dataset_pickles(tmp_path, episode_factory):
    writer = DatasetWriter(tmp_path)
    for i in range(12):
        writer.append(episode_factory(f"e{i}", seed=i))
    dataset = RecapDataset(tmp_path, max_open_episodes=2)
    for i in range(12):
        dataset.sample(dataset.step_offsets[i], horizon=3)
    # at most 2 episode files stay memory-mapped, however many episodes were read (maps the dataset
    # let go of can wait for the cyclic collector, depending on what ran before in this process)
    gc.collect()
    with open("/proc/self/maps") as maps:
        assert sum(str(tmp_path) in line for line in maps) == 2
    clone = pickle.loads(pickle.dumps(dataset))  # DataLoader workers get a fresh, empty cache
    np.testing.assert_array_equal(clone[3].qpos, dataset[3].qpos)


ARM = RobotLayout.from_description(load_robot("single_arm_6dof"))


def test_the_manifest_records_the_robot_and_episodes_have_its_dimension(tmp_path, episode_factory):
    writer = DatasetWriter(tmp_path, DatasetConfig(robot=ARM))
    steps = 12
    arm_episode = episode_factory("arm", steps=steps, qpos=np.zeros((steps, 7)), executed_action=np.zeros((steps, 7)),
                                  proposed_action=np.full((steps, 7), np.nan))
    writer.append(arm_episode)
    robot = json.loads((tmp_path / "manifest.json").read_text())["config"]["robot"]
    assert robot["name"] == "single_arm_6dof" and robot["description_hash"] == load_robot("single_arm_6dof").description_hash()
    assert robot["joint_names"] == list(load_robot("single_arm_6dof").joint_names) and robot["gripper_indices"] == [6]
    dataset = RecapDataset(tmp_path)
    assert dataset.robot == ARM and dataset.sample(0, horizon=4)["actions"].shape == (4, 7)
    with pytest.raises(DatasetError, match=r"episode 'aloha' has 14 joints, the dataset holds robot description "
                                           r"'single_arm_6dof' \(hash [0-9a-f]{16}, 7 joints\)"):
        writer.append(episode_factory("aloha"))


def test_another_robot_is_refused_naming_both(tmp_path, episode_factory):
    DatasetWriter(tmp_path).append(episode_factory("ep0"))
    with pytest.raises(DatasetError, match=r"holds robot description 'aloha_sim' .*; this build uses robot "
                                           r"description 'single_arm_6dof'"):
        DatasetWriter(tmp_path, DatasetConfig(robot=ARM))


def test_a_manifest_without_the_robot_block_is_refused(tmp_path, episode_factory):
    DatasetWriter(tmp_path).append(episode_factory("ep0"))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["format_version"] = 1
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match="format_version 1, this code reads 2"):
        RecapDataset(tmp_path)
