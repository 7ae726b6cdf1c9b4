"""Policy rollouts with simulated-operator corrections, recorded for Algorithm 1."""

from __future__ import annotations

import numpy as np
import pytest

from recap_sim.operator_policy import TakeoverRule
from recap_trainer.dataset import RecapDataset
from recap_lab.rollouts import RolloutConfig, collect_rollouts


class HoldStill:
    """Commands the current pose: no stage progress, so the operator takes over."""

    metadata = {"horizon": 10, "policy_id": "hold-still", "uses_images": False}

    def infer(self, obs, advantage="positive", guidance_scale=1.0, frozen_prefix=None):
        return np.tile(obs["qpos"], (10, 1))


def test_takeover_steps_are_flagged_and_proposals_kept(tmp_path):
    rule = TakeoverRule(stage_time_limit_s=0.4, min_correction_s=0.5, max_correction_s=1.0, max_takeovers_per_episode=1)
    config = RolloutConfig(task="transfer_cube", episodes=1, iteration=1, seed=3, execute_steps=5,
                           takeover=rule, time_limit_s=3.0)
    assert collect_rollouts(HoldStill(), tmp_path, config, progress=False) == ["transfer_cube-rollout-it1-0000003"]
    episode = RecapDataset(tmp_path)[0]
    assert episode.source == "rollout" and episode.iteration == 1 and episode.metadata["takeovers"] == 1
    human = episode.intervention
    assert human.any() and not human[:10].all()
    first = int(np.argmax(human))
    assert first * 0.02 == pytest.approx(0.4 + rule.engage_s, abs=0.03)  # stage timer, then engage
    # the policy's proposal is what ran while it drove; nothing was proposed while the operator drove
    np.testing.assert_array_equal(episode.proposed_action[~human], episode.executed_action[~human])
    assert np.isnan(episode.proposed_action[human]).all()
    # the expert moved the arm during the correction
    assert np.abs(episode.qpos[human][-1] - episode.qpos[first]).max() > 0.05


def test_autonomous_rollouts_resume_and_refuse_image_policies(tmp_path):
    config = RolloutConfig(task="transfer_cube", episodes=2, iteration=2, execute_steps=10, time_limit_s=0.2)
    collect_rollouts(HoldStill(), tmp_path, RolloutConfig(task="transfer_cube", episodes=1, iteration=2,
                                                         execute_steps=10, time_limit_s=0.2), progress=False)
    assert len(collect_rollouts(HoldStill(), tmp_path, config, progress=False)) == 1
    episodes = list(RecapDataset(tmp_path))
    assert len(episodes) == 2 and not any(e.intervention.any() for e in episodes)
    assert all(e.outcome == "failure" for e in episodes)
    image_policy = HoldStill()
    image_policy.metadata = {**HoldStill.metadata, "uses_images": True}
    with pytest.raises(ValueError, match="needs cameras"):
        collect_rollouts(image_policy, tmp_path, config, progress=False)
    with pytest.raises(ValueError, match="iteration"):
        RolloutConfig(task="transfer_cube", episodes=1, iteration=0)
