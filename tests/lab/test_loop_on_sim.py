"""Algorithm 1 on the real sim: demos -> pi^0 -> rollouts with corrections -> pi^1 (slow)."""

import json

import numpy as np
import pytest

from recap_lab.cli import main as lab
from recap_trainer.cli import main
from recap_trainer.labels import Labels
from recap_model.policy import load_policy
from recap_trainer.training.episodes import open_datasets

pytestmark = pytest.mark.slow


def test_two_iterations_on_transfer_cube(tmp_path):
    demos, rollouts, work = tmp_path / "demos", tmp_path / "rollouts", tmp_path / "work"
    assert lab(["generate", "--task", "transfer_cube", "--episodes", "4", "--out", str(demos)]) == 0
    common = ["--work-dir", str(work), "--demos", str(demos), "--value-steps", "30", "--policy-steps", "30",
              "--batch-size", "16", "--threads", "1"]
    assert main(["iterate", *common, "--iteration", "0"]) == 0
    assert lab(["generate", "--task", "transfer_cube", "--episodes", "2", "--out", str(rollouts),
                 "--policy", str(work / "iter_0" / "policy"), "--iteration", "1"]) == 0
    assert main(["iterate", *common, "--data", str(rollouts), "--iteration", "1"]) == 0

    labels = Labels.load(work / "iter_1" / "labels")
    catalog = open_datasets([demos, rollouts])
    assert set(labels.indicator) == {s.episode_id for s in catalog.summaries if s.outcome != "abort"}
    for k, s in enumerate(catalog.summaries):
        human = np.asarray(catalog.episode(k).intervention, bool)
        assert labels.indicator[s.episode_id][human].all()
    cfg = json.loads((work / "iter_1" / "policy" / "config.json").read_text())
    assert cfg["training"]["init_from"] == str(work / "pretrained" / "policy")
    policy = load_policy(work / "iter_1" / "policy")
    ep = catalog.episode(0)
    chunk = policy.infer({"qpos": ep.qpos[0], "env_state": ep.env_state[0], "task": "transfer_cube"})
    assert chunk.shape == (50, 14) and np.isfinite(chunk).all()
