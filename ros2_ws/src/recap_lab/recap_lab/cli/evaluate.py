"""`recap-lab evaluate`: run a policy checkpoint for N seeded episodes in the sim core."""

from __future__ import annotations

import argparse
from pathlib import Path

from recap_core.output_files import check_output_file, json_dumps
from recap_lab.evaluation import EXECUTE_STEPS
from recap_lab.seeds import EVALUATION_SEED
from recap_model.policy import DEFAULT_NOISE_SCALE
from recap_trainer.cli.options import DefaultsHelpFormatter, options_named


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate", formatter_class=DefaultsHelpFormatter,
        help="success / failure rate, time to success and throughput of a checkpoint, with 95%% CIs",
        description="Runs the checkpoint in the ROS-free sim core for N seeded episodes (episode i: seed SEED+i) "
        "with chunked execution (query, execute --execute-steps actions, query again). Reports success and "
        "failure rate (Wilson 95% CI), mean time to success and throughput = successes per hour of sim time "
        "(bootstrap 95% CI). See docs/EVALUATION.md.")
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
    p.add_argument("--parallel-envs", type=int, default=16, help="environments stepped in lockstep")
    p.add_argument("--time-limit", type=float, help="episode time limit in s (default: the task's)")
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
    if a.out:
        check_output_file(a.out, overwrite=a.force, what="--out")
    report = evaluate_policy(load_policy(a.policy, noise_scale=a.noise_scale), config, label=a.label or a.policy.name)
    print(results_table([report]))
    summary = {k: v for k, v in report.to_dict().items() if k not in ("results", "config")}
    print(json_dumps(summary))
    if a.out:
        report.save(a.out)
    return 0
