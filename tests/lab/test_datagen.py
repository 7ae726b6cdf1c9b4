"""In-process mixed-quality demonstrations from the scripted expert: reproducible and resumable."""

from __future__ import annotations

import numpy as np
import pytest

from recap_lab.datagen import MIXTURES, DatagenConfig, ExpertProfile, generate_dataset
from recap_sim.tasks import task_prompt
from recap_trainer.dataset import RecapDataset


def _config(**overrides):
    fields = dict(task="transfer_cube", episodes=3, seed=5, time_limit_s=1.0)
    fields.update(overrides)
    return DatagenConfig(**fields)


def test_generated_episodes_are_reproducible_and_complete(tmp_path):
    written = generate_dataset(tmp_path / "a", _config(), progress=False)
    assert written == [f"transfer_cube-demo-{s:07d}" for s in (5, 6, 7)]
    generate_dataset(tmp_path / "b", _config(), progress=False)
    a, b = RecapDataset(tmp_path / "a"), RecapDataset(tmp_path / "b")
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.executed_action, y.executed_action)
        np.testing.assert_array_equal(x.env_state, y.env_state)
    episode = a[0]
    assert episode.source == "demo" and episode.outcome in ("success", "failure")
    assert episode.num_steps <= 50 and episode.env_state.shape[1] == len(episode.metadata["state_names"])
    assert np.isnan(episode.proposed_action).all() and not episode.intervention.any()
    assert episode.metadata["max_episode_length"] == 50
    assert episode.metadata["profile"]["name"] in {p.name for p in MIXTURES["mixed"]}
    assert episode.metadata["prompt"] == task_prompt("transfer_cube")  # what the LeRobot export prompts with
    # step t pairs o_t with the command sent from it: the expert moves the arm toward its commands
    assert not np.allclose(episode.executed_action[10], episode.qpos[10])


def test_worker_processes_write_the_same_dataset_in_seed_order(tmp_path):
    serial = generate_dataset(tmp_path / "serial", _config(episodes=4), progress=False)
    parallel = generate_dataset(tmp_path / "parallel", _config(episodes=4), progress=False, workers=2)
    assert parallel == serial
    a, b = RecapDataset(tmp_path / "serial"), RecapDataset(tmp_path / "parallel")
    assert [s.episode_id for s in b.summaries] == [s.episode_id for s in a.summaries]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.executed_action, y.executed_action)
        np.testing.assert_array_equal(x.env_state, y.env_state)
        assert x.outcome == y.outcome and x.metadata["profile"] == y.metadata["profile"]


def test_generation_resumes_without_duplicating(tmp_path):
    generate_dataset(tmp_path, _config(episodes=2), progress=False)
    written = generate_dataset(tmp_path, _config(episodes=3), progress=False)
    assert written == ["transfer_cube-demo-0000007"]
    assert len(RecapDataset(tmp_path)) == 3


def test_profile_draw_is_a_function_of_the_seed_and_follows_the_weights():
    config = DatagenConfig(task="transfer_cube", episodes=1)
    names = [config.profile_for(seed).name for seed in range(2000)]
    assert names == [config.profile_for(seed).name for seed in range(2000)]
    shares = {p.name: names.count(p.name) / len(names) for p in config.mixture}
    for profile in config.mixture:
        assert shares[profile.name] == pytest.approx(profile.weight, abs=0.04)


def test_bad_profiles_and_configs_are_rejected():
    with pytest.raises(ValueError, match="profile 'x'"):
        ExpertProfile("x", weight=1.0, speed=0.0, hesitation=0.0, noise=0.0, mistake_prob=0.0)
    with pytest.raises(ValueError, match="duplicate profile names"):
        DatagenConfig(task="transfer_cube", episodes=1, mixture=MIXTURES["expert"] * 2)
    with pytest.raises(ValueError, match="episodes must be >= 1"):
        DatagenConfig(task="transfer_cube", episodes=0)


def test_bad_worker_count_is_rejected_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="workers must be >= 1"):
        generate_dataset(tmp_path / "d", _config(), progress=False, workers=0)
    assert not (tmp_path / "d").exists()
