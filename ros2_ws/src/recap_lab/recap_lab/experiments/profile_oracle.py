"""What imitating only the demonstrations' best operator is worth, and how much of a labelling's
positives come from that operator (docs/BRINGUP.md, the profile oracle).

    python -m recap_lab.experiments.profile_oracle --demos runs/loop_espresso_default/data/demos \\
        --out runs/oracle_fast --profiles fast --steps 16500 --eval-episodes 200 \\
        --labels runs/loop_espresso_default/train/iter_1/labels

A positive-conditioned policy can at best imitate what its labels call positive. This trains plain
BC (the loop's model and settings) on the successful scripted demonstrations of the named operator
profiles only, a choice no method can make because it reads the generator's profile, and
evaluates it on the loop's evaluation seeds: the policy that perfect labels would point at. With
`--labels`, it prints each labelling's positive fraction by demonstration profile and outcome
(other episodes by source), so one sees whether the advantages single out that operator.
With `--like-run RUN` the BC policy is trained as that loop run's baselines are (its model and
observation, cameras and random shift included, its steps and weight averaging) on the run's
demonstrations, and evaluated as the run evaluates its policies (episodes, noise, sampler seed):

    python -m recap_lab.experiments.profile_oracle --like-run runs/cameras/seed_0 \
        --profiles fast,steady,sloppy --out runs/oracle_quick_seed_0

Every stage is skipped when its output exists (a partial training is continued), so an
interrupted run resumes.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from recap_lab.evaluation import EXECUTE_STEPS, EvaluationConfig, evaluate_policy
from recap_lab.experiments.training_spread import evaluate
from recap_lab.seeds import EVALUATION_SEED
from recap_lab.self_improvement.config import load_run_config
from recap_trainer.dataset import DatasetWriter, RecapDataset
from recap_trainer.label_breakdown import label_breakdown
from recap_trainer.labels import Labels
from recap_trainer.training.episodes import EpisodeCatalog, open_datasets


def demo_profile(episode) -> str | None:
    """The operator profile a scripted demonstration was generated with (None for other episodes)."""
    profile = (episode.metadata or {}).get("profile")
    return profile.get("name") if isinstance(profile, dict) else None


def write_profile_subset(demos: Path, out: Path, profiles: set[str]) -> int:
    """Copy the successful demonstrations of these profiles into a new dataset; returns how many."""
    source = RecapDataset(demos)
    writer, count = None, 0
    for episode in source:
        if episode.outcome == "success" and demo_profile(episode) in profiles:
            writer = writer or DatasetWriter(out, source.config)
            writer.append(episode, origin=f"{demos}:{episode.episode_id}")
            count += 1
    if not count:
        raise ValueError(f"{demos}: no successful demonstration of profile(s) {sorted(profiles)}")
    return count


@dataclass(frozen=True)
class _Group:
    """label_breakdown's view of an episode, with demonstrations split by profile."""

    episode_id: str
    source: str
    outcome: str


def positives_by_profile(labels: Labels, catalog: EpisodeCatalog) -> str:
    """The labels' positive fraction by demonstration profile (and by source for other episodes)."""
    groups = []
    for k, summary in enumerate(catalog.summaries):
        profile = demo_profile(catalog.episode(k)) if summary.source == "demo" else None
        groups.append(_Group(summary.episode_id, f"demo:{profile}" if profile else summary.source, summary.outcome))
    breakdown = label_breakdown(labels, groups)
    positives = sum(g.positive_steps for g in breakdown) or 1
    lines = [f"{'episodes of':<16} {'outcome':<8} {'episodes':>8} {'steps':>8} {'positive':>8} {'share of positives':>18}"]
    lines += [f"{g.source:<16} {g.outcome:<8} {g.episodes:>8} {g.steps:>8} {g.positive_fraction:>8.1%} "
              f"{g.positive_steps / positives:>18.1%}" for g in breakdown]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m recap_lab.experiments.profile_oracle",
        description="Plain BC on one operator profile's successful demonstrations (an upper reference for "
                    "advantage-conditioned extraction), and the positive fraction of labellings by profile.")
    parser.add_argument("--demos", type=Path, default=None,
                        help="a dataset written by `recap-lab generate` / the loop (default with --like-run: its "
                             "demonstrations)")
    parser.add_argument("--like-run", type=Path, default=None,
                        help="a loop run directory: train as its baselines are trained (model, observation, steps, "
                             "weight averaging; --steps is then the run's) and evaluate as it evaluates its policies "
                             "(episodes, noise, sampler seed; --eval-episodes 0 still skips)")
    parser.add_argument("--out", type=Path, required=True, help="work directory (data/, policy/, eval.json)")
    parser.add_argument("--profiles", default="fast", help="comma-separated datagen profiles to keep (default: fast)")
    parser.add_argument("--steps", type=int, default=16500, help="policy gradient steps (the loop's baselines: 16 500)")
    parser.add_argument("--eval-episodes", type=int, default=200, help="evaluation episodes (0: skip)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument("--labels", type=Path, nargs="*", default=[],
                        help="labels directories to break down by profile (their data: --data)")
    parser.add_argument("--data", type=Path, nargs="*", default=None,
                        help="the datasets the labels cover (default: --demos only)")
    return parser


def main(argv: list[str] | None = None) -> int:
    opts = build_parser().parse_args(argv)
    if opts.steps < 1 or opts.eval_episodes < 0:
        print("profile_oracle: --steps must be >= 1 and --eval-episodes >= 0", file=sys.stderr)
        return 2
    run = None
    if opts.like_run is not None:
        try:
            run = load_run_config(opts.like_run)
        except ValueError as error:
            print(f"profile_oracle: --like-run: {error}", file=sys.stderr)
            return 2
    demos = opts.demos or (opts.like_run / "data" / "demos" if run else None)
    if demos is None:
        print("profile_oracle: give --demos, or --like-run with a loop run", file=sys.stderr)
        return 2
    for labels_dir in opts.labels:
        print(f"== {labels_dir}\n{positives_by_profile(Labels.load(labels_dir), open_datasets(opts.data or [demos]))}")

    import torch

    from recap_model.policy import load_policy
    from recap_trainer.training.run import TrainConfig
    from recap_trainer.training.train_policy import PolicyTrainConfig, train_policy

    torch.set_num_threads(opts.threads)
    profiles = {p for p in opts.profiles.split(",") if p}
    data, policy = opts.out / "data", opts.out / "policy"
    if not (data / "manifest.json").is_file():
        try:
            print(f"{write_profile_subset(demos, data, profiles)} successful demonstrations of {sorted(profiles)}")
        except ValueError as error:
            print(f"profile_oracle: {error}", file=sys.stderr)
            return 1
    if run is not None:
        from recap_lab.self_improvement.run import algorithm_config  # the loop's module needs ROS 2

        alg = algorithm_config(replace(run, seed=opts.seed, train_threads=opts.threads))
        training, model = alg.scratch_policy(), alg.policy_model()
    else:
        training, model = TrainConfig(steps=opts.steps, seed=opts.seed, threads=opts.threads), {}
    config = policy / "config.json"
    if not config.is_file() or json.loads(config.read_text())["training"].get("steps_done") != training.steps:
        train_policy(open_datasets([data]), policy, training, PolicyTrainConfig(method="bc"), None,
                     resume=config.is_file(), **model)
    if opts.eval_episodes:
        label = f"BC on {'+'.join(sorted(profiles))} successes"
        if run is not None:
            report = evaluate(policy, run, opts.out / "eval.json", label)
        else:
            report = evaluate_policy(load_policy(policy, seed=opts.seed),
                                     EvaluationConfig(task=RecapDataset(data)[0].task, episodes=opts.eval_episodes,
                                                      seed=EVALUATION_SEED, execute_steps=EXECUTE_STEPS), label=label)
            report.save(opts.out / "eval.json")
        print(json.dumps({"success_rate": report.success_rate.value, "throughput_per_hour": report.throughput_per_hour.value,
                          "mean_time_to_success_s": report.mean_time_to_success_s.value}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
