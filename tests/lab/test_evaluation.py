"""evaluate_policy runs seeded episodes in the real sim core with chunked execution."""

from __future__ import annotations

import numpy as np
import pytest

from recap_lab.evaluation import EpisodeResult, EvaluationConfig, EvaluationReport, evaluate_policy, summarize


class HoldStill:
    """A chunk policy that commands the current pose: never succeeds, so every episode times out."""

    metadata = {"horizon": 10, "cameras": []}

    def __init__(self, bad_shape: bool = False) -> None:
        self.calls: list[dict] = []
        self.bad_shape = bad_shape

    def infer(self, obs, advantage="positive", guidance_scale=1.0, frozen_prefix=None):
        self.calls.append({"advantage": advantage, "guidance_scale": guidance_scale, "task": obs["task"],
                           "state_dim": len(obs["env_state"])})
        return np.tile(obs["qpos"], (9 if self.bad_shape else 10, 1))


def _config(**overrides):
    fields = dict(task="transfer_cube", episodes=5, seed=7, execute_steps=4, parallel_envs=2,
                  time_limit_s=0.5, guidance_scale=1.5)
    fields.update(overrides)
    return EvaluationConfig(**fields)


def test_timeouts_are_counted_by_where_they_stalled():
    """A task that says where a timed-out episode stood gets its timeouts counted by it."""
    report = evaluate_policy(HoldStill(), _config(task="espresso", episodes=2), label="hold", progress=False)
    assert report.failure_reasons == {"timeout: cup not grasped": 2}
    assert all(r.failure_reason == "timeout after 0.5 s: cup not grasped" for r in report.results)


def test_chunked_execution_seeds_and_metrics():
    policy = HoldStill()
    report = evaluate_policy(policy, _config(), label="hold", progress=False)
    assert [r.seed for r in report.results] == [7, 8, 9, 10, 11]
    assert all(r.outcome == "failure" and r.failure_reason.startswith("timeout") for r in report.results)
    assert all(r.steps == 25 and r.sim_time_s == pytest.approx(0.5) for r in report.results)
    # 25 steps with a new chunk every 4 executed actions: 7 queries per episode
    assert len(policy.calls) == 5 * 7
    assert {c["guidance_scale"] for c in policy.calls} == {1.5} and policy.calls[0]["task"] == "transfer_cube"
    assert report.success_rate.value == 0.0 and report.failure_rate.value == 1.0
    assert report.throughput_per_hour.value == 0.0 and np.isnan(report.mean_time_to_success_s.value)
    assert report.failure_reasons == {"timeout": 5}
    assert all(r.max_stage == 0 and r.num_stages == 5 for r in report.results)
    assert report.mean_progress.value == 0.0
    assert report.to_dict()["episodes"] == 5
    assert report.noise_scale is None  # a policy without a noise scale (not a flow policy)


def test_results_do_not_depend_on_parallel_envs():
    one = evaluate_policy(HoldStill(), _config(parallel_envs=1, episodes=3), progress=False)
    three = evaluate_policy(HoldStill(), _config(parallel_envs=3, episodes=3), progress=False)
    assert one.results == three.results


def test_malformed_chunk_names_the_seed():
    with pytest.raises(ValueError, match=r"seed 7: policy returned a chunk of shape \(9, 14\)"):
        evaluate_policy(HoldStill(bad_shape=True), _config(), progress=False)


@pytest.mark.parametrize("overrides", [{"episodes": 0}, {"execute_steps": 0}, {"advantage": "good"},
                                       {"guidance_scale": 0.0}])
def test_bad_evaluation_config_is_rejected(overrides):
    with pytest.raises(ValueError):
        _config(**overrides)


def test_execute_steps_longer_than_horizon_is_rejected():
    with pytest.raises(ValueError, match="exceeds the policy's horizon"):
        evaluate_policy(HoldStill(), _config(execute_steps=11), progress=False)


def test_throughput_counts_the_time_of_failed_episodes():
    results = [EpisodeResult(seed=i, outcome=o, failure_reason="" if o == "success" else "dropped",
                             steps=int(t / 0.02), sim_time_s=t, final_stage="x", max_stage=m, num_stages=5)
               for i, (o, t, m) in enumerate([("success", 10.0, 4), ("success", 20.0, 4), ("failure", 30.0, 2),
                                              ("failure", 60.0, 0)])]
    metrics = summarize(results)
    assert metrics["mean_progress"].value == pytest.approx((1 + 1 + 0.5 + 0) / 4)
    assert metrics["success_rate"].value == 0.5
    assert metrics["mean_time_to_success_s"].value == pytest.approx(15.0)
    assert metrics["throughput_per_hour"].value == pytest.approx(3600 * 2 / 120.0)
    assert metrics["throughput_per_hour"].low <= 60.0 <= metrics["throughput_per_hour"].high
    with pytest.raises(ValueError, match="at least one episode"):
        EvaluationReport(label="x", config=_config(), results=(), wall_time_s=0.0)


def test_the_policy_noise_scale_is_recorded_saved_and_tabled(tmp_path):
    from recap_lab.report import load_report, results_table

    class NarrowNoise(HoldStill):
        metadata = {"horizon": 10, "cameras": [], "noise_scale": 0.5}

    report = evaluate_policy(NarrowNoise(), _config(episodes=2), label="narrow", progress=False)
    assert report.noise_scale == 0.5
    loaded = load_report(report.save(tmp_path / "r.json"))
    assert loaded.noise_scale == 0.5 and loaded.results == report.results
    row = results_table([loaded]).splitlines()[2]
    assert row.startswith("| narrow | 1.5 | 0.5 | 2 |")
