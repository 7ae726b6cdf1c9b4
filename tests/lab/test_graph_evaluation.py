"""`recap-lab evaluate --through-graph`: the evaluation's episodes run by the deployed nodes."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bringup.checkpoint_config import write_checkpoint_config
from policy.tiny_checkpoint import write_tiny_checkpoint
from recap_bringup.deployment import DeploymentConfig, deployment_graph
from recap_lab.cli import main as lab
from recap_lab.evaluation import EvaluationConfig, summarize
from recap_lab.graph_evaluation import episode_result, evaluate_through_graph
from recap_lab.report import load_report, results_table
from recap_trainer.cli.options import UsageError


def deployed(outcome: str, reason: str = "", duration: float = 3.0, stages: tuple[int, int, str] = (2, 4, "lifted")) -> dict:
    max_stage, num_stages, final_stage = stages
    return {"episode_id": "e", "seed": 7, "outcome": outcome, "failure_reason": reason,
            "sim_duration_s": duration, "interventions": 0, "bag_path": "b",
            "max_stage": max_stage, "num_stages": num_stages, "final_stage": final_stage}


def test_a_deployed_episode_reads_as_an_evaluated_one_and_an_abort_is_a_failure_with_its_reason():
    ok = episode_result(deployed("success", duration=5.5), 0.02)
    assert (ok.seed, ok.outcome, ok.failure_reason, ok.steps, ok.sim_time_s) == (7, "success", "", 275, 5.5)
    tipped = episode_result(deployed("failure", "cup tipped over"), 0.02)
    assert (tipped.outcome, tipped.failure_reason) == ("failure", "cup tipped over")
    aborted = episode_result(deployed("abort", "wall-clock timeout"), 0.02)
    assert (aborted.outcome, aborted.failure_reason) == ("failure", "abort: wall-clock timeout")


def test_a_deployed_episodes_stages_count_as_the_in_process_ones():
    # The sim counts completed stages (4 of transfer_cube's), the evaluation stage names (5, with "start").
    tipped = episode_result(deployed("failure", "cube dropped", stages=(2, 4, "touched")), 0.02)
    assert (tipped.max_stage, tipped.num_stages, tipped.final_stage) == (2, 5, "touched")
    assert summarize([tipped])["mean_progress"].value == 0.5
    # No task state reached the driver (an abort before the sim answered): progress is not recorded.
    silent = episode_result(deployed("abort", "wall-clock timeout", stages=(0, 0, "")), 0.02)
    assert (silent.max_stage, silent.num_stages) == (-1, 0)
    assert math.isnan(summarize([tipped, silent])["mean_progress"].value)


def graph_evaluate(out: Path, *extra: str) -> int:
    return lab(["evaluate", "--policy", "ckpt", "--task", "transfer_cube", "--episodes", "2", "--through-graph",
                *(["--out", str(out)] if out else []), *extra])


def test_options_the_graph_cannot_honour_are_refused_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.setattr("recap_lab.graph_evaluation.evaluate_through_graph",
                        lambda *args, **kwargs: pytest.fail("the graph started"))
    with pytest.raises(UsageError, match="^--through-graph needs --out"):
        graph_evaluate(None)
    with pytest.raises(UsageError, match="^--time-limit: an evaluation through the graph runs the task's own"):
        graph_evaluate(tmp_path / "e.json", "--time-limit", "5")
    with pytest.raises(UsageError, match="^--real-time-factor must be > 0, got 0.0$"):
        graph_evaluate(tmp_path / "e.json", "--real-time-factor", "0")
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "kept.mcap").write_text("an earlier bag")
    with pytest.raises(UsageError, match="e exists .*move it away or pick another --out"):
        graph_evaluate(tmp_path / "e.json", "--force")
    assert (tmp_path / "e" / "kept.mcap").read_text() == "an earlier bag"
    assert not (tmp_path / "e.json").exists()


@pytest.mark.integration
def test_the_evaluations_episodes_run_through_the_graph_and_report_as_the_in_process_ones(tmp_path):
    policy = write_tiny_checkpoint(tmp_path / "policy")
    config = EvaluationConfig(task="transfer_cube", episodes=2, seed=41, execute_steps=5)
    report = evaluate_through_graph(policy, config, tmp_path / "eval", "tiny", noise_scale=0.2,
                                    real_time_factor=2.0)
    assert [r.seed for r in report.results] == [41, 42]  # the in-process evaluation's scenes
    # An untrained policy fails, by the sim's verdict (not aborted by the graph), within the task's 10 s.
    assert all(r.outcome == "failure" and r.failure_reason and not r.failure_reason.startswith("abort")
               for r in report.results)
    assert all(0 < r.sim_time_s <= 10.05 for r in report.results)
    # The task's progress, from the sim node's task state, as in-process: stage names counted with "start".
    assert all(r.num_stages == 5 and 0 <= r.max_stage < 4 and r.final_stage for r in report.results)
    assert not math.isnan(report.mean_progress.value)
    bags = [p for p in (tmp_path / "eval" / "bags").iterdir() if (p / "episode.json").is_file()]
    assert len(bags) == 2
    assert {json.loads((b / "episode.json").read_text())["note"].split("\n")[0] for b in bags} == {"seed=41", "seed=42"}
    report.save(tmp_path / "eval.json")
    again = load_report(tmp_path / "eval.json")
    assert again.executor == "graph" and again.noise_scale == 0.2
    assert "| tiny (through the graph) |" in results_table([again])


def test_a_chunk_longer_than_the_policys_horizon_is_refused_before_the_graph_starts(tmp_path):
    policy = write_tiny_checkpoint(tmp_path / "policy")  # H = 10
    with pytest.raises(ValueError, match="execute_steps 25 exceeds the policy's horizon H = 10"):
        evaluate_through_graph(policy, EvaluationConfig(task="transfer_cube", episodes=1), tmp_path / "eval",
                               "tiny", noise_scale=0.2)
    assert not (tmp_path / "eval").exists()


def test_the_indicator_and_guidance_reach_the_policy_node(tmp_path):
    policy = write_checkpoint_config(tmp_path / "policy", cameras=("cam_high",))
    cfg = DeploymentConfig(task="espresso", prompt="p", episodes=1, first_seed=1, wall_timeout_s=5.0,
                           advantage="unconditioned", guidance_scale=1.5, operator=False)
    node = {s.name: s for s in deployment_graph(policy, tmp_path / "bags", cfg)}["policy_node"]
    assert (node.parameters["advantage"], node.parameters["guidance_scale"]) == ("unconditioned", 1.5)
