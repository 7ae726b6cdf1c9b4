"""Batches of image episodes: one slice per episode, the bad episode named, training from the file
maps with a tiny cache, resume with the random shift, bfloat16 autocast."""

import json
import logging

import numpy as np
import pytest
import torch

from trainer.conftest import TINY_POLICY, make_episode, mixed_episodes, train_crashing_then_resume
from recap_model.features import ObservationError, observation_tensors
from recap_trainer.normalization import compute_stats
from recap_trainer.training.common import gather_actions, gather_observations, observation_config_for
from recap_trainer.training.episodes import EpisodeCatalog, StepSampler, action_window
from recap_trainer.training.run import TrainConfig
from recap_trainer.training.train_policy import PolicyTrainConfig, train_policy

CAMS = ("cam_high", "cam_left_wrist")
IMAGE_MODEL = {"width": 16, "image_channels": (8, 8), "image_shift": 2}


def test_batches_equal_the_rows_read_one_sample_at_a_time():
    catalog = EpisodeCatalog([mixed_episodes(4, cameras=CAMS, state_dim=0)])
    config, stats = observation_config_for(catalog, CAMS), compute_stats(catalog)
    episodes, steps = StepSampler(catalog, np.arange(4)).sample(np.random.default_rng(0), 40)
    batch = gather_observations(catalog, config, stats, episodes, steps)
    picked = [(catalog.episode(k), t) for k, t in zip(episodes.tolist(), steps.tolist())]
    expected = observation_tensors(
        config, stats, np.stack([ep.qpos[t] for ep, t in picked]), None,
        {c: np.stack([ep.images[c][t] for ep, t in picked]) for c in CAMS},
        np.array([config.task_id(ep.task) for ep, _ in picked]))
    assert batch["images"].dtype == torch.uint8 and batch["images"].shape == (40, 2, 3, 16, 16)
    for key in expected:
        assert torch.equal(batch[key], expected[key]), key
    actions, qpos = gather_actions(catalog, episodes, steps, 12, 14)
    assert np.array_equal(actions, np.stack([action_window(ep.executed_action, t, 12) for ep, t in picked]))
    assert np.array_equal(qpos, np.stack([ep.qpos[t] for ep, t in picked]))


def test_state_batches_of_tasks_with_different_layouts_are_padded():
    eps = [make_episode("a0", task="a", state_dim=4), make_episode("b0", task="b", state_dim=7, seed=1)]
    catalog = EpisodeCatalog([eps])
    config, stats = observation_config_for(catalog), compute_stats(catalog)
    batch = gather_observations(catalog, config, stats, np.array([1, 0, 1]), np.array([3, 5, 4]))
    assert batch["env_state"].shape == (3, 7)
    assert torch.equal(batch["env_state"][1, 4:], torch.zeros(3))  # task a's 4 features, zero-padded


def test_a_state_model_of_camera_data_is_built_with_a_warning(caplog):
    catalog = EpisodeCatalog([mixed_episodes(2, cameras=CAMS, state_dim=5)])
    with caplog.at_level(logging.WARNING, logger="recap.train"):
        assert observation_config_for(catalog, CAMS).state_dim == 0
    assert not caplog.records
    with caplog.at_level(logging.WARNING, logger="recap.train"):
        config = observation_config_for(catalog)
    assert (config.state_dim, config.cameras) == (5, ())
    assert "carries camera(s) ['cam_high', 'cam_left_wrist'] but the model is given none" in caplog.text


def test_the_episode_with_bad_data_is_the_one_named():
    good = make_episode("good", cameras=CAMS, state_dim=0)
    bad = make_episode("bad", cameras=CAMS, state_dim=0, seed=1)
    catalog = EpisodeCatalog([[good, bad]])
    config, stats = observation_config_for(catalog, CAMS), compute_stats(catalog)
    bad.qpos[7, 2] = np.nan
    with pytest.raises(ObservationError, match="episode bad: qpos contains NaN"):
        gather_observations(catalog, config, stats, np.array([0, 1]), np.array([7, 7]))
    bad.qpos[7, 2] = 0.0
    bad.images["cam_left_wrist"] = bad.images["cam_left_wrist"][:, :8]
    with pytest.raises(ObservationError, match="episode bad: camera 'cam_left_wrist' gives \\(8, 16, 3\\)"):
        gather_observations(catalog, config, stats, np.array([0, 1]), np.array([7, 7]))


def test_an_image_dataset_larger_than_the_cache_trains_from_the_file_maps(tmp_path):
    from recap_trainer.dataset import DatasetConfig, DatasetWriter, RecapDataset

    writer = DatasetWriter(tmp_path / "data", DatasetConfig(cameras=CAMS, image_size=(16, 16)))
    for ep in mixed_episodes(5, cameras=CAMS, state_dim=0):
        writer.append(ep)
    catalog = EpisodeCatalog([RecapDataset(tmp_path / "data")], cache_bytes=1)  # less than one frame
    train_policy(catalog, tmp_path / "p", TrainConfig(steps=3, batch_size=16, warmup_steps=1), PolicyTrainConfig("bc"),
                 model_sizes=IMAGE_MODEL, policy_sizes=TINY_POLICY, cameras=CAMS)
    losses = json.loads((tmp_path / "p" / "loss.json").read_text())["losses"]
    assert len(losses) == 3 and np.all(np.isfinite(losses))
    assert catalog.cached_episodes == 1
    assert not catalog.episode(0).images["cam_high"].flags.owndata  # read from the file map, not copied


def test_a_shifted_image_run_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
    catalog = EpisodeCatalog([mixed_episodes(4, cameras=CAMS, state_dim=0)])
    kw = dict(method=PolicyTrainConfig("bc"), model_sizes=IMAGE_MODEL, policy_sizes=TINY_POLICY, cameras=CAMS)
    config = TrainConfig(steps=5, batch_size=4, warmup_steps=1)
    train_policy(catalog, tmp_path / "full", config, **kw)
    train_crashing_then_resume(monkeypatch, lambda out, resume: train_policy(catalog, out, config, resume=resume, **kw),
                               tmp_path / "part")
    full, resumed = (json.loads((tmp_path / n / "loss.json").read_text())["losses"] for n in ("full", "part"))
    assert full == resumed  # bitwise: at init the shifts move the loss by ~1e-6 only


def test_mixed_precision_trains_an_image_policy_in_float32_weights(tmp_path):
    catalog = EpisodeCatalog([mixed_episodes(3, cameras=CAMS, state_dim=0)])
    train_policy(catalog, tmp_path / "amp", TrainConfig(steps=2, batch_size=4, warmup_steps=1, amp=True),
                 PolicyTrainConfig("bc"), model_sizes=IMAGE_MODEL, policy_sizes=TINY_POLICY, cameras=CAMS)
    losses = json.loads((tmp_path / "amp" / "loss.json").read_text())["losses"]
    assert np.all(np.isfinite(losses))
    from recap_model.checkpoint import load_checkpoint

    model = load_checkpoint(tmp_path / "amp", "policy").model
    assert all(p.dtype == torch.float32 for p in model.parameters())
