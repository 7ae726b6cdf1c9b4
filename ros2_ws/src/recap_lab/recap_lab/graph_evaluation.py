"""The evaluation's episodes run by the deployed nodes instead of the in-process sim core.

The sim node renders the cameras the policy reads, the policy node infers and streams commands at
50 Hz, the arbitration node's safety filter passes them to the arms, the recorder writes one bag per
episode: real DDS, at the sim's real-time factor, no operator. Episode i uses seed `seed + i` as in
`recap_lab.evaluation`, so the two measure the same scenes, episode by episode: the in-process
evaluation measures the policy, this the product that deploys it (timing, the safety filter, what
the topics carry). An episode the graph aborts (wall-clock timeout, a node died) counts as a failure
with its reason.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from recap_lab.evaluation import EpisodeResult, EvaluationConfig, EvaluationReport

log = logging.getLogger("recap.evaluate")

GRAPH_STARTUP_MARGIN_S = 60.0  # wall time beyond the task's limit before an episode is aborted


def task_timing(task: str) -> tuple[float, float]:
    """(the task's episode limit, the sim's control period), in sim seconds; no model is built."""
    from recap_sim.env import SimConfig
    from recap_sim.tasks import make_task

    return make_task(task).time_limit_s, SimConfig(task=task).control_period


def episode_wall_timeout_s(limit_s: float, real_time_factor: float) -> float:
    """Wall time after which the graph aborts an episode: its sim time limit at the sim's pace, and a margin."""
    return limit_s / real_time_factor + GRAPH_STARTUP_MARGIN_S


def check_graph_config(config: EvaluationConfig) -> None:
    """What the graph cannot do, refused before it starts."""
    if config.time_limit_s is not None:
        raise ValueError("an evaluation through the graph runs the task's own time limit (the sim node's): "
                         "leave the time limit unset")


def evaluate_through_graph(policy_dir: Path, config: EvaluationConfig, work_dir: Path, label: str,
                           noise_scale: float, real_time_factor: float = 1.0,
                           domain_id: int | None = None) -> EvaluationReport:
    """Run `config.episodes` seeded episodes of the checkpoint at `policy_dir` through the graph;
    bags go to `work_dir/bags`, the nodes' logs to `work_dir/logs`."""
    from recap_bringup.deployment import DeploymentConfig, deploy
    from recap_bringup.graph import CheckpointInputs
    from recap_sim.tasks import task_prompt
    from tqdm import tqdm

    check_graph_config(config)
    inputs = CheckpointInputs.read(policy_dir)
    if inputs is None:
        raise FileNotFoundError(f"no policy checkpoint at {policy_dir} (config.json missing)")
    if config.execute_steps > inputs.horizon:
        raise ValueError(f"execute_steps {config.execute_steps} exceeds the policy's horizon H = {inputs.horizon}")
    limit_s, control_period = task_timing(config.task)
    deployment = DeploymentConfig(
        task=config.task, prompt=task_prompt(config.task), episodes=config.episodes, first_seed=config.seed,
        wall_timeout_s=episode_wall_timeout_s(limit_s, real_time_factor), real_time_factor=real_time_factor,
        execute_steps=config.execute_steps, noise_scale=noise_scale, advantage=config.advantage,
        guidance_scale=config.guidance_scale, operator=False, domain_id=domain_id)
    results: dict[int, EpisodeResult] = {}
    started = time.perf_counter()
    with tqdm(total=config.episodes, desc=f"evaluate {label} on {config.task} through the graph") as bar:
        def finished(i: int, result: dict) -> None:
            results[i] = episode_result(result, control_period)
            bar.update(1)

        deploy(policy_dir, work_dir / "bags", work_dir / "logs", deployment, range(config.episodes), finished)
    aborted = [r for r in results.values() if r.failure_reason.startswith("abort")]
    if aborted:
        log.warning("%d of %d episodes were aborted by the graph and count as failures (first: seed %d, %s); "
                    "the nodes' logs are in %s", len(aborted), len(results), aborted[0].seed,
                    aborted[0].failure_reason, work_dir / "logs")
    return EvaluationReport(label=label, config=config, results=tuple(results[i] for i in sorted(results)),
                            wall_time_s=time.perf_counter() - started, noise_scale=noise_scale, executor="graph")


def episode_result(result: dict, control_period: float) -> EpisodeResult:
    """A deployed episode (`recap_bringup.episode_driver.EpisodeResult` as a dict) as the evaluation's."""
    outcome = result["outcome"]
    reason = result["failure_reason"]
    if outcome == "abort":
        reason = f"abort: {reason}"
    duration = float(result["sim_duration_s"])
    # The sim counts completed stages (num_stages of them); the evaluation counts stage names, the
    # start included (num_stages + 1). No task state received: progress not recorded.
    stages = int(result["num_stages"])
    return EpisodeResult(seed=int(result["seed"]), outcome="success" if outcome == "success" else "failure",
                         failure_reason="" if outcome == "success" else reason,
                         steps=int(round(duration / control_period)), sim_time_s=duration,
                         final_stage=result["final_stage"], max_stage=int(result["max_stage"]) if stages else -1,
                         num_stages=stages + 1 if stages else 0)
