"""`recap-lab generate | evaluate | report` end to end on a tiny budget (with the trainer's commands)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from recap_lab.cli import main as lab
from recap_trainer.cli import main
from recap_trainer.cli.options import UsageError


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    data, policy, value, labels = root / "data", root / "policy", root / "value", root / "labels"
    # seeds 0..3 hold successes and failures (labels need a success per task)
    assert lab(["generate", "--task", "transfer_cube", "--episodes", "4", "--out", str(data)]) == 0
    assert main(["train-value", "--data", str(data), "--out", str(value), "--steps", "2", "--batch-size", "8"]) == 0
    assert main(["label", "--data", str(data), "--value", str(value), "--out", str(labels),
                 "--stage", "pretrain", "--monte-carlo"]) == 0
    assert main(["train-policy", "--data", str(data), "--out", str(policy), "--steps", "2", "--batch-size", "8",
                 "--method", "recap", "--labels", str(labels), "--horizon", "10"]) == 0
    return root


def test_evaluate_writes_a_report_with_every_seed(tiny_run, capsys):
    out = tiny_run / "eval_b15.json"
    assert lab(["evaluate", "--policy", str(tiny_run / "policy"), "--task", "transfer_cube", "--episodes", "3",
                 "--execute-steps", "5", "--beta", "1.5", "--time-limit", "0.4", "--out", str(out),
                 "--label", "recap_b15", "--noise-scale", "1"]) == 0
    report = json.loads(out.read_text())
    assert [r["seed"] for r in report["results"]] == [1_000_000, 1_000_001, 1_000_002]
    assert report["config"]["guidance_scale"] == 1.5 and report["label"] == "recap_b15"
    assert report["noise_scale"] == 1.0  # --noise-scale 1: the paper's sampler
    assert report["sampler_seed"] == 0
    assert "| recap_b15 | 1.5 | 1 | 3 |" in capsys.readouterr().out


def test_evaluate_samples_with_the_seed_asked_for(tiny_run):
    """--sampler-seed reproduces a loop's evaluation of its pi^k (sampled with the run's seed)."""
    from recap_lab.evaluation import EvaluationConfig, evaluate_policy
    from recap_model.policy import load_policy

    out = tiny_run / "eval_sampler_7.json"
    args = ["--policy", str(tiny_run / "policy"), "--task", "transfer_cube", "--episodes", "2", "--execute-steps", "5",
            "--time-limit", "0.3", "--noise-scale", "1"]
    assert lab(["evaluate", *args, "--sampler-seed", "7", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    same = evaluate_policy(load_policy(tiny_run / "policy", seed=7, noise_scale=1.0),
                           EvaluationConfig(task="transfer_cube", episodes=2, execute_steps=5, time_limit_s=0.3),
                           progress=False)
    assert report["sampler_seed"] == 7 and same.sampler_seed == 7
    assert report["results"] == [dataclasses.asdict(r) for r in same.results]


def test_report_draws_value_advantages_and_comparison(tiny_run):
    evaluation = tiny_run / "eval.json"
    lab(["evaluate", "--policy", str(tiny_run / "policy"), "--task", "transfer_cube", "--episodes", "2",
          "--time-limit", "0.2", "--execute-steps", "5", "--out", str(evaluation)])
    out = tiny_run / "report"
    assert lab(["report", "--out", str(out), "--data", str(tiny_run / "data"), "--labels", str(tiny_run / "labels"),
                 "--evaluations", str(evaluation)]) == 0
    for name in ("value_over_time.png", "advantages_transfer_cube.png", "comparison.png"):
        assert (out / name).read_bytes().startswith(b"\x89PNG")
    assert "| policy | 1 | 0.2 | 2 |" in (out / "report.md").read_text()  # the default noise scale


def test_report_rejects_missing_inputs(tiny_run, tmp_path):
    with pytest.raises(UsageError, match="nothing to do"):
        lab(["report", "--out", str(tmp_path)])
    with pytest.raises(UsageError, match="go together"):
        lab(["report", "--out", str(tmp_path), "--labels", str(tiny_run / "labels")])
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(ValueError, match="bad.json: not an evaluation report"):
        lab(["report", "--out", str(tmp_path), "--evaluations", str(bad)])


def test_label_prints_the_positive_fraction_by_source_and_outcome(tiny_run, capsys):
    out = tiny_run / "labels_again"
    assert main(["label", "--data", str(tiny_run / "data"), "--value", str(tiny_run / "value"), "--out", str(out),
                 "--stage", "pretrain", "--monte-carlo"]) == 0
    printed = capsys.readouterr()
    by_group = json.loads(printed.out)["positive_fraction_by_source_and_outcome"]
    assert set(by_group) <= {"demo/success", "demo/failure"} and "demo/success" in by_group
    assert all(0 <= f <= 1 for f in by_group.values())
    header = [line.split() for line in printed.err.splitlines() if line.startswith("source")]
    assert header == [["source", "outcome", "episodes", "steps", "positive"]]
    by_fifth = json.loads(printed.out)["positive_fraction_of_successes_by_fifth"]
    assert len(by_fifth) == 5 and all(0 <= f <= 1 for f in by_fifth)
    assert "successful episodes, positive by fifth of the episode: " in printed.err


def test_generate_on_an_unknown_task_fails_clearly(tmp_path):
    with pytest.raises(Exception, match="laundry"):
        lab(["generate", "--task", "laundry", "--episodes", "1", "--out", str(tmp_path / "d")])


def test_generate_with_zero_workers_fails_clearly(tmp_path):
    with pytest.raises(UsageError, match="--workers must be >= 1"):
        lab(["generate", "--task", "transfer_cube", "--episodes", "1", "--out", str(tmp_path / "d"), "--workers", "0"])
    assert not (tmp_path / "d").exists()


def test_generate_collects_policy_rollouts(tiny_run):
    out = tiny_run / "rollouts"
    assert lab(["generate", "--task", "transfer_cube", "--episodes", "2", "--out", str(out), "--policy",
                 str(tiny_run / "policy"), "--iteration", "1", "--execute-steps", "5", "--time-limit", "0.3"]) == 0
    from recap_trainer.dataset import RecapDataset

    episodes = list(RecapDataset(out))
    assert [e.episode_id for e in episodes] == ["transfer_cube-rollout-it1-0500000", "transfer_cube-rollout-it1-0500001"]
    assert all(e.source == "rollout" and not np.isnan(e.proposed_action).any() for e in episodes)
    with pytest.raises(ValueError, match="exceeds the policy's horizon"):
        lab(["generate", "--task", "transfer_cube", "--episodes", "1", "--out", str(out), "--policy",
              str(tiny_run / "policy"), "--time-limit", "0.3"])


def test_the_camera_loop_refuses_to_evaluate_a_state_policy(tiny_run):
    from recap_lab.self_improvement.config import preset
    from recap_lab.self_improvement.run import _evaluate

    out = tiny_run / "camera_run_eval.json"
    with pytest.raises(RuntimeError, match="reads cameras \\[\\] and .* object-state features; this run \\(cameras\\)"):
        _evaluate(tiny_run / "policy", preset("quick", "cameras"), out, "a state policy")
    assert not out.exists()
