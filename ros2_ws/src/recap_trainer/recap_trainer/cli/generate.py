"""`recap generate`: mixed-quality scripted-expert demonstrations from the sim core into a dataset."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    from recap_trainer.datagen import MIXTURES

    p = subparsers.add_parser(
        "generate", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        help="generate scripted-expert demonstrations in-process (no ROS) into a RECAP dataset",
        description="Runs the sim core with the scripted expert for seeds SEED .. SEED+EPISODES-1. Each episode draws "
        "an operator profile from the mixture (mixed: fast / steady / hesitant / sloppy, so some are slow and some "
        "fail in the expert's characteristic ways; expert: fast and clean). Reproducible from the seed; seeds "
        "already in --out are skipped, so an interrupted run resumes.")
    p.add_argument("--task", required=True, help="sim task, e.g. transfer_cube or espresso")
    p.add_argument("--episodes", type=int, required=True, help="number of episodes (seeds)")
    p.add_argument("--out", type=Path, required=True, help="dataset directory (created, or appended to)")
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--mixture", choices=sorted(MIXTURES), default="mixed", help="operator profile mixture")
    p.add_argument("--cameras", nargs="*", default=[], help="cameras to record (default: state-only, fastest)")
    p.add_argument("--image-size", type=int, nargs=2, default=(96, 128), metavar=("H", "W"),
                   help="image size when cameras are recorded")
    p.add_argument("--time-limit", type=float, help="episode time limit in s (default: the task's)")
    p.set_defaults(func=_generate)


def _generate(a: argparse.Namespace) -> int:
    from recap_trainer.datagen import MIXTURES, DatagenConfig, generate_dataset
    from recap_trainer.dataset import RecapDataset

    config = DatagenConfig(task=a.task, episodes=a.episodes, seed=a.seed, mixture=MIXTURES[a.mixture],
                           cameras=tuple(a.cameras), image_size=tuple(a.image_size), time_limit_s=a.time_limit)
    written = generate_dataset(a.out, config)
    dataset = RecapDataset(a.out, tasks=[a.task])
    outcomes: dict[str, int] = {}
    for summary in dataset.summaries:
        outcomes[summary.outcome] = outcomes.get(summary.outcome, 0) + 1
    print(json.dumps({"dataset": str(a.out), "written_now": len(written), "episodes": len(dataset),
                      "steps": dataset.num_steps, "outcomes": outcomes}, indent=2))
    return 0
