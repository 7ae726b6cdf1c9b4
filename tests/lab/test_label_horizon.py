"""The label-horizon experiment relabels a loop run's rollouts with their stored values."""
import dataclasses

import numpy as np
import pytest

from recap_lab.experiments.label_horizon import horizon_rows, main
from recap_trainer.dataset import DatasetWriter
from recap_trainer.labels import LabelConfig, compute_labels
from recap_trainer.rewards import RewardConfig, episode_returns
from trainer.conftest import make_episode

STEPS = {"failure": 16, "success": 30}


def _run(tmp_path, stage: str = "finetune"):
    """A loop work dir with 5 failed and 5 successful rollouts of iteration 1 and V^1's labels of
    them: V is a little pessimistic on the failures and 0.1 too optimistic on the successes, so the
    failures' Monte Carlo advantages (> 0) all beat the successes' (< -0.1); no two are equal."""
    episodes = []
    for outcome, steps in STEPS.items():
        for i in range(5):
            human = np.zeros(steps, bool)
            if outcome == "success" and i == 0:
                human[-5:] = True  # the operator finished this one: its last 5 steps are not the policy's
            episodes.append(dataclasses.replace(
                make_episode(f"{outcome}-{i}", outcome=outcome, steps=steps, source="rollout", intervention=human,
                             seed=i), iteration=1))
    writer = DatasetWriter(tmp_path / "data" / "rollouts_1")
    for episode in episodes:
        writer.append(episode)
    rewards = RewardConfig.from_episodes(episodes, {"transfer_cube": 40})
    task = rewards.for_task("transfer_cube")

    def values(ep):
        exact = episode_returns(ep.episode_id, len(ep.timestamps), ep.outcome, ep.intervention, task, "first").returns
        t = np.arange(len(exact))
        return exact + (0.1 + 0.001 * t if ep.outcome == "success" else -0.001 * (t + 1))

    labels = compute_labels(episodes, values, rewards, LabelConfig(stage=stage, n_step=None, positive_fraction=0.4))
    labels.save(tmp_path / "train" / "iter_1" / "labels")
    return labels


def test_monte_carlo_reproduces_the_runs_labels_and_each_horizon_gets_a_row(tmp_path):
    stored = _run(tmp_path)
    rows = horizon_rows(tmp_path, 1, [4, 8])
    assert [(r["horizon"], r["source"]) for r in rows] == [
        ("Monte Carlo", "rollout/iter_1"), ("4-step", "rollout/iter_1"), ("8-step", "rollout/iter_1")]
    monte_carlo = rows[0]
    assert monte_carlo["threshold"] == pytest.approx(stored.thresholds)
    # Own steps only: the 5 human steps (forced positive) are left out of the successes' 150. 40 % of
    # the 225 own steps are positive: the 80 failed ones and the successes' 10 best (7 %).
    assert monte_carlo["failed"] == "100% of 80 (5 ep.)" and monte_carlo["successful"] == "7% of 145 (5 ep.)"
    assert monte_carlo["check"] == "flagged"
    # 4 steps: V's offsets cancel out but for their slopes (+0.001 a step on successes, -0.001 on
    # failures), so only each failure's last 4 steps (no bootstrap past its end) rank first.
    assert rows[1]["failed"] == "25% of 80 (5 ep.)" and rows[1]["check"] == "ok"


def test_bad_runs_are_refused_with_a_clear_message(tmp_path, capsys):
    _run(tmp_path, stage="sft")
    assert main(["--run", str(tmp_path), "--iteration", "1"]) == 2
    assert "not a fine-tuning iteration" in capsys.readouterr().err
    assert main(["--run", str(tmp_path / "nowhere"), "--iteration", "1"]) == 2
    assert "no labels.json" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--run", str(tmp_path), "--iteration", "0"])
