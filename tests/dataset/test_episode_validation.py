"""EpisodeData rejects malformed episodes with an error that names the episode."""

from __future__ import annotations

import numpy as np
import pytest

from recap_trainer.dataset import EpisodeError


def test_valid_episode_is_normalised_to_float64(episode_factory):
    episode = episode_factory(qpos=np.zeros((20, 14), dtype=np.float32))
    assert episode.qpos.dtype == np.float64
    assert episode.num_steps == 20 and episode.state_dim == 7


@pytest.mark.parametrize("overrides, message", [
    ({"outcome": None}, "has no outcome"),
    ({"outcome": "maybe"}, "unknown outcome 'maybe'"),
    ({"source": "human"}, "unknown source"),
    ({"iteration": -1}, "iteration"),
    ({"episode_id": "a/b"}, "episode_id must match"),
    ({"qpos": np.zeros((20, 13))}, "executed_action has shape (20, 14), expected (20, 13)"),
    ({"executed_action": np.zeros((20, 7))}, "executed_action has shape (20, 7)"),
    ({"proposed_action": np.zeros((19, 14))}, "proposed_action has shape (19, 14)"),
    ({"timestamps": np.arange(21) * 0.02}, "qpos has shape (20, 14), expected (21, 14)"),
    ({"timestamps": np.array([0.0, 0.1, 0.05] + [0.2] * 17)}, "timestamps go backwards at step 2"),
    ({"intervention": np.zeros(20, dtype=int)}, "intervention must be bool"),
    ({"intervention": np.zeros(19, dtype=bool)}, "intervention has shape (19,)"),
    ({"env_state": np.zeros((18, 7))}, "env_state has 18 steps"),
    ({"images": {"cam_high": np.zeros((20, 4, 4, 3), dtype=np.float32)}}, "images['cam_high']"),
    ({"metadata": {"bad": object()}}, "metadata is not JSON-serialisable"),
])
def test_malformed_episode_raises_naming_it(episode_factory, overrides, message):
    with pytest.raises(EpisodeError) as error:
        episode_factory(episode_id=overrides.pop("episode_id", "bad_episode_7"), **overrides)
    assert message in str(error.value)
    if "episode_id must match" not in message:
        assert "episode 'bad_episode_7'" in str(error.value)


@pytest.mark.parametrize("key", ["qpos", "executed_action", "env_state", "timestamps"])
def test_nan_in_inputs_is_rejected(episode_factory, key):
    values = np.array(getattr(episode_factory(), key))
    values[5] = np.nan
    with pytest.raises(EpisodeError, match=rf"episode 'nan_ep'.*{key}.*NaN"):
        episode_factory(episode_id="nan_ep", **{key: values})


def test_proposed_action_rows_are_all_nan_or_finite(episode_factory):
    proposed = np.zeros((20, 14))
    proposed[3:6] = np.nan  # whole rows: "no proposal" is fine
    assert np.isnan(episode_factory(proposed_action=proposed).proposed_action[3:6]).all()
    proposed[10, 2] = np.nan  # half a proposal is a conversion bug
    with pytest.raises(EpisodeError, match="proposed_action step 10 is partly NaN"):
        episode_factory(proposed_action=proposed)


def test_empty_episode_is_rejected(episode_factory):
    with pytest.raises(EpisodeError, match="has no steps"):
        episode_factory(steps=0, intervention=np.zeros(0, dtype=bool))
