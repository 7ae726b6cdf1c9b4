"""`recap-lab evaluate`: run a policy checkpoint for N seeded episodes in the sim core or through the graph."""

from __future__ import annotations

import argparse
from pathlib import Path

from recap_core.output_files import check_output_file, json_dumps
from recap_lab.evaluation import EXECUTE_STEPS
from recap_lab.seeds import EVALUATION_SEED
from recap_model.policy import DEFAULT_NOISE_SCALE
from recap_trainer.cli.options import DefaultsHelpFormatter, UsageError, options_named


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate", formatter_class=DefaultsHelpFormatter,
        help="success / failure rate, time to success and throughput of a checkpoint, with 95%% CIs",
        description="Runs the checkpoint in the ROS-free sim core for N seeded episodes (episode i: seed SEED+i) "
        "with chunked execution (query, execute --execute-steps actions, query again). Reports success and "
        "failure rate (Wilson 95% CI), mean time to success and throughput = successes per hour of sim time "
        "(bootstrap 95% CI). With --through-graph the same episodes run through the deployed nodes (sim, "
        "policy, arbitration with its safety filter, recorder) over DDS in real time instead. See docs/EVALUATION.md.")
    p.add_argument("--policy", type=Path, required=True, help="policy checkpoint directory")
    p.add_argument("--task", required=True, help="sim task")
    p.add_argument("--episodes", type=int, default=200, help="seeded episodes to run")
    p.add_argument("--seed", type=int, default=EVALUATION_SEED, help="seed of the first episode")
    p.add_argument("--execute-steps", type=int, default=EXECUTE_STEPS, help="actions executed per chunk before re-querying")
    p.add_argument("--advantage", choices=("positive", "negative", "unconditioned"), default="positive",
                   help="indicator the policy is conditioned on")
    p.add_argument("--beta", type=float, default=1.0, help="classifier-free guidance scale (1 = none)")
    p.add_argument("--noise-scale", type=float, default=DEFAULT_NOISE_SCALE,
                   help="scale of the flow's starting noise (1 = the paper's sampling)")
    p.add_argument("--sampler-seed", type=int, default=0,
                   help="seed of the policy's sampling noise (the loop evaluates its policies with the run's "
                   "--seed; the policy node, and so --through-graph, samples with 0)")
    p.add_argument("--parallel-envs", type=int, default=16, help="environments stepped in lockstep")
    p.add_argument("--time-limit", type=float, help="episode time limit in s (default: the task's)")
    p.add_argument("--through-graph", action="store_true",
                   help="run the episodes through the ROS graph (the sim node renders the cameras, the policy node "
                   "streams commands at 50 Hz, the safety filter passes them, the recorder writes a bag each; no "
                   "operator) instead of the in-process sim core; needs --out: bags and node logs go to the "
                   "folder named like it without .json (which must not exist); --parallel-envs is ignored")
    p.add_argument("--real-time-factor", type=float, default=1.0,
                   help="with --through-graph: sim time per wall second (below 1 gives the policy node more "
                   "wall time per control tick on a slow machine)")
    p.add_argument("--label", help="name of this policy in reports (default: the checkpoint dir name)")
    p.add_argument("--out", type=Path, help="write the full report (per-episode results) as JSON here "
                   "(checked before the first episode runs)")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.set_defaults(func=_evaluate)


def _evaluate(a: argparse.Namespace) -> int:
    from recap_lab.evaluation import EvaluationConfig, evaluate_policy
    from recap_model.policy import load_policy
    from recap_lab.report import results_table

    with options_named(episodes="--episodes", seed="--seed", execute_steps="--execute-steps",
                       guidance_scale="--beta", parallel_envs="--parallel-envs", time_limit_s="--time-limit"):
        config = EvaluationConfig(task=a.task, episodes=a.episodes, seed=a.seed, execute_steps=a.execute_steps,
                                  advantage=a.advantage, guidance_scale=a.beta, parallel_envs=a.parallel_envs,
                                  time_limit_s=a.time_limit)
    if a.sampler_seed < 0:
        raise UsageError(f"--sampler-seed must be >= 0, got {a.sampler_seed}")
    if a.through_graph:
        _check_graph_options(a, config)
    if a.out:
        check_output_file(a.out, overwrite=a.force, what="--out")
    label = a.label or a.policy.name
    if a.through_graph:
        from recap_lab.graph_evaluation import evaluate_through_graph
        report = evaluate_through_graph(a.policy, config, graph_work_dir(a.out), label, a.noise_scale,
                                        a.real_time_factor)
    else:
        report = evaluate_policy(load_policy(a.policy, seed=a.sampler_seed, noise_scale=a.noise_scale), config,
                                 label=label)
    print(results_table([report]))
    summary = {k: v for k, v in report.to_dict().items() if k not in ("results", "config")}
    print(json_dumps(summary))
    if a.out:
        report.save(a.out)
    return 0


def _check_graph_options(a: argparse.Namespace, config) -> None:
    """Before anything runs: what an evaluation through the graph needs."""
    from recap_lab.graph_evaluation import check_graph_config

    if a.out is None:
        raise UsageError("--through-graph needs --out (its bags and node logs go beside it)")
    if a.sampler_seed != 0:
        raise UsageError("--sampler-seed: the policy node samples with seed 0; it applies to in-process evaluations")
    if not a.real_time_factor > 0:
        raise UsageError(f"--real-time-factor must be > 0, got {a.real_time_factor}")
    try:
        check_graph_config(config)
    except ValueError as error:
        raise UsageError(f"--time-limit: {error}") from None
    work_dir = graph_work_dir(a.out)
    if work_dir.exists():
        raise UsageError(f"{work_dir} exists (bags of an earlier evaluation through the graph): move it away "
                         "or pick another --out")


def graph_work_dir(out: Path) -> Path:
    """Where an evaluation through the graph keeps its bags and logs: beside its report."""
    return out.with_suffix("") if out.suffix == ".json" else out.with_name(out.name + "_graph")
