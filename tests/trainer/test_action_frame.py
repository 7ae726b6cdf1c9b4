"""Relative arm actions: the frame conversions, their stats, and a policy that predicts offsets."""

import numpy as np
import pytest
import torch

from trainer.conftest import make_episode
from recap_model.action_frame import episode_windows, relative_dims_for, to_model_frame, to_robot_frame
from recap_model.checkpoint import load_checkpoint, save_checkpoint
from recap_model.models import ObservationConfig, PolicyConfig, PolicyModel
from recap_model.normalization import NormStats
from recap_trainer.normalization import MIN_STD, compute_stats
from recap_model.policy import Policy
from recap_model.robot_layout import default_layout
from recap_trainer.training.episodes import EpisodeCatalog, action_window

ROBOT = default_layout().identity()  # the simulator's 14-D ALOHA
GRIPPERS = [6, 13]
ALOHA_ARM_JOINTS = relative_dims_for("relative", 14, GRIPPERS)


def test_arm_joints_become_offsets_and_grippers_stay_absolute():
    rng = np.random.default_rng(0)
    chunks, qpos = rng.normal(size=(3, 5, 14)), rng.normal(size=(3, 14))
    model = to_model_frame(chunks, qpos, ALOHA_ARM_JOINTS)
    arm = list(ALOHA_ARM_JOINTS)
    assert np.allclose(model[:, :, arm], chunks[:, :, arm] - qpos[:, None, arm])
    assert np.array_equal(model[:, :, GRIPPERS], chunks[:, :, GRIPPERS])
    assert np.allclose(to_robot_frame(model, qpos, ALOHA_ARM_JOINTS), chunks)
    assert np.array_equal(to_model_frame(chunks, qpos, ()), chunks)
    assert ALOHA_ARM_JOINTS == (0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12)
    assert relative_dims_for("absolute", 14, GRIPPERS) == () and relative_dims_for("relative", 7, [6]) == tuple(range(6))
    with pytest.raises(ValueError, match="action frame"):
        relative_dims_for("delta", 14, GRIPPERS)


def test_episode_windows_are_the_training_windows():
    actions = np.random.default_rng(1).normal(size=(7, 14))
    windows = episode_windows(actions, 4)
    assert windows.shape == (7, 4, 14)
    for t in range(7):
        assert np.array_equal(windows[t], action_window(actions, t, 4))


def test_relative_action_stats_are_over_offsets_from_the_chunk_start():
    ep = make_episode("wandering", steps=40)
    # a slow sweep over a wide range: the offsets within a chunk are far smaller than the range
    ep.qpos[:] = np.sin(np.linspace(0.0, 3.0, 40))[:, None] * np.linspace(0.5, 1.5, 14)
    ep.executed_action[:] = ep.qpos
    absolute, relative = compute_stats(EpisodeCatalog([[ep]])), compute_stats(EpisodeCatalog([[ep]]), horizon=5, relative_dims=ALOHA_ARM_JOINTS)
    arm = list(ALOHA_ARM_JOINTS)
    offsets = to_model_frame(episode_windows(ep.executed_action, 5), ep.qpos, ALOHA_ARM_JOINTS)
    assert np.allclose(relative.mean["action"][arm], offsets[:, :, arm].mean(axis=(0, 1)), atol=1e-6)
    assert np.all(relative.std["action"][arm] < absolute.std["action"][arm])
    assert np.allclose(relative.mean["action"][GRIPPERS], offsets[:, :, GRIPPERS].mean(axis=(0, 1)), atol=1e-6)
    assert np.allclose(offsets[:, :, GRIPPERS], episode_windows(ep.executed_action, 5)[:, :, GRIPPERS])
    assert relative.std["action"].min() >= MIN_STD
    with pytest.raises(ValueError, match="horizon"):
        compute_stats(EpisodeCatalog([[ep]]), relative_dims=ALOHA_ARM_JOINTS)


def test_policy_config_rejects_relative_dims_outside_the_action():
    with pytest.raises(ValueError, match="relative_dims"):
        PolicyConfig(action_dim=6, relative_dims=(0, 7))
    with pytest.raises(ValueError, match="relative_dims"):
        PolicyConfig(relative_dims=(1, 1))


def test_a_relative_policy_returns_joint_targets_around_where_the_arm_is(tmp_path):
    torch.manual_seed(0)
    config = PolicyConfig(observation=ObservationConfig(state_dim=0, tasks=("t",), width=16), horizon=6,
                          flow_width=32, flow_blocks=1, denoising_steps=2, relative_dims=ALOHA_ARM_JOINTS)
    assert PolicyConfig().relative_dims == ()  # absolute is the default (docs/TRAINER.md)
    stats = NormStats(mean={"qpos": np.zeros(14, np.float32), "action": np.full(14, 0.5, np.float32)},
                      std={"qpos": np.ones(14, np.float32), "action": np.full(14, 1e-4, np.float32)})
    save_checkpoint(tmp_path / "p", "policy", PolicyModel(config), stats, ROBOT, metadata={"control_period": 0.02})
    policy = Policy(load_checkpoint(tmp_path / "p", "policy"))
    arm = list(ALOHA_ARM_JOINTS)
    for q in (np.zeros(14), np.linspace(-1.0, 1.0, 14)):
        chunk = policy.infer({"qpos": q, "task": "t"})
        assert np.allclose(chunk[:, arm], q[arm] + 0.5, atol=0.01)  # offsets ~ 0.5 on top of q
        assert np.allclose(chunk[:, GRIPPERS], 0.5, atol=0.01)  # grippers absolute
    q = np.linspace(-1.0, 1.0, 14)
    prefix = np.random.default_rng(2).normal(size=(2, 14)).astype(np.float32)
    chunk = policy.infer({"qpos": q, "task": "t"}, frozen_prefix=prefix)
    assert np.array_equal(chunk[:2], prefix)
