"""`recap-lab generate`: mixed-quality scripted-expert demonstrations from the sim core into a dataset."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from recap_core.output_files import check_output_dir
from recap_lab.evaluation import EXECUTE_STEPS
from recap_lab.seeds import DEMONSTRATION_SEED, ROLLOUT_SEED
from recap_model.policy import DEFAULT_NOISE_SCALE
from recap_trainer.cli.options import DefaultsHelpFormatter, UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    from recap_lab.datagen import MIXTURES, DatagenConfig

    p = subparsers.add_parser(
        "generate", formatter_class=DefaultsHelpFormatter,
        help="generate scripted-expert demonstrations in-process (no ROS) into a RECAP dataset",
        description="Runs the sim core with the scripted expert for seeds SEED .. SEED+EPISODES-1. Each episode draws "
        "an operator profile from the mixture (mixed: fast / steady / hesitant / sloppy, so some are slow and some "
        "fail in the expert's characteristic ways; expert: fast and clean). Reproducible from the seed; seeds "
        "already in --out are skipped, so an interrupted run resumes.")
    p.add_argument("--task", required=True, help="sim task, e.g. transfer_cube or espresso")
    p.add_argument("--episodes", type=int, required=True, help="number of episodes (seeds)")
    p.add_argument("--out", type=Path, required=True, help="dataset directory (created, or appended to)")
    p.add_argument("--seed", type=int, help=f"first seed (default: {DEMONSTRATION_SEED} for demonstrations, {ROLLOUT_SEED} for rollouts)")
    p.add_argument("--mixture", choices=sorted(MIXTURES), default="mixed", help="operator profile mixture")
    p.add_argument("--cameras", nargs="*", default=[], help="cameras to record (default: state-only, fastest)")
    p.add_argument("--image-size", type=int, nargs=2, default=DatagenConfig.image_size, metavar=("H", "W"),
                   help="image size when cameras are recorded (the image model's default)")
    p.add_argument("--time-limit", type=float, help="episode time limit in s (default: the task's)")
    p.add_argument("--workers", type=int, default=1,
                   help="processes running the expert (the dataset is the same for any number)")
    rollouts = p.add_argument_group(
        "policy rollouts", "with --policy: collect rollouts of that checkpoint instead of expert demonstrations "
        "(source=rollout; a simulated operator corrects stalls and stuck stages with the scripted expert, "
        "recorded as interventions; state-only)")
    rollouts.add_argument("--policy", type=Path, help="policy checkpoint pi^(k-1) to roll out")
    rollouts.add_argument("--iteration", type=int, default=1, help="k the rollouts belong to")
    rollouts.add_argument("--beta", type=float, default=1.0, help="guidance scale of the rollouts")
    rollouts.add_argument("--noise-scale", type=float, default=DEFAULT_NOISE_SCALE,
                          help="scale of the flow's starting noise (1 = the paper's sampling)")
    rollouts.add_argument("--execute-steps", type=int, default=EXECUTE_STEPS, help="actions executed per chunk")
    rollouts.add_argument("--no-operator", action="store_true", help="autonomous rollouts, no corrections")
    rollouts.add_argument("--stage-time-limit", type=float, default=12.0,
                          help="operator takes over after this long in one stage (s)")
    p.set_defaults(func=_generate)


def _generate(a: argparse.Namespace) -> int:
    from recap_lab.datagen import MIXTURES, DatagenConfig, generate_dataset
    from recap_trainer.dataset import RecapDataset

    if a.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {a.workers}")
    if a.policy is not None and a.cameras:
        raise UsageError("--policy rollouts are recorded state-only; drop --cameras")
    check_output_dir(a.out, overwrite=True, what="--out")  # a dataset is appended to; it must be writable
    if a.policy is not None:
        written = _rollouts(a)
    else:
        config = DatagenConfig(task=a.task, episodes=a.episodes, seed=DEMONSTRATION_SEED if a.seed is None else a.seed, mixture=MIXTURES[a.mixture],
                               cameras=tuple(a.cameras), image_size=tuple(a.image_size), time_limit_s=a.time_limit)
        written = generate_dataset(a.out, config, workers=a.workers)
    dataset = RecapDataset(a.out, tasks=[a.task])
    outcomes: dict[str, int] = {}
    for summary in dataset.summaries:
        outcomes[summary.outcome] = outcomes.get(summary.outcome, 0) + 1
    print(json.dumps({"dataset": str(a.out), "written_now": len(written), "episodes": len(dataset),
                      "steps": dataset.num_steps, "outcomes": outcomes}, indent=2))
    return 0


def _rollouts(a: argparse.Namespace) -> list[str]:
    from recap_sim.operator_policy import TakeoverRule

    from recap_model.policy import load_policy
    from recap_lab.rollouts import RolloutConfig, collect_rollouts

    seed = ROLLOUT_SEED if a.seed is None else a.seed
    takeover = None if a.no_operator else TakeoverRule(stage_time_limit_s=a.stage_time_limit, seed=seed)
    config = RolloutConfig(task=a.task, episodes=a.episodes, iteration=a.iteration, seed=seed,
                           execute_steps=a.execute_steps, guidance_scale=a.beta, takeover=takeover,
                           time_limit_s=a.time_limit)
    return collect_rollouts(load_policy(a.policy, noise_scale=a.noise_scale), a.out, config)
