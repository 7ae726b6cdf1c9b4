"""The offline comparison refuses to relabel a finished task's results with other sizes."""
import json
from dataclasses import asdict

import pytest

from recap_trainer.experiments.offline_comparison import ExperimentConfig, _check_same_experiment


def test_a_finished_task_rerun_with_other_sizes_is_refused(tmp_path):
    done = ExperimentConfig(task="transfer_cube", value_steps=2000, policy_steps=8000, threads=2)
    summary = tmp_path / "summary.json"
    _check_same_experiment(summary, done)  # nothing finished yet: anything goes
    summary.write_text(json.dumps({"config": asdict(done)}))
    _check_same_experiment(summary, ExperimentConfig(task="transfer_cube", value_steps=2000, policy_steps=8000,
                                                     threads=1))  # threads do not change results
    with pytest.raises(ValueError, match=r"policy_steps: 8000 \(done\) vs 3000 \(asked\)"):
        _check_same_experiment(summary, ExperimentConfig(task="transfer_cube", value_steps=2000))
