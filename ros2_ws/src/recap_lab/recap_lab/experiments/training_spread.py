"""How much of a loop run's pi^k is its training seed: pi^k trained again on the run's own data and
labels with other training seeds, each evaluated as the loop evaluated pi^k (docs/BRINGUP.md).

    python -m recap_lab.experiments.training_spread --run runs/cameras/seed_3 --iteration 1 \\
        --seeds 4 5 --out runs/cameras/seed_3_spread_iter_1

A loop run trains each pi^k once, so two runs that differ in their labels or their recipe also
differ in one training draw each. This retrains pi^k exactly as the loop did (the run's
demonstrations and deployments up to iteration k, its V^k labels, its model, budget and policy
start) with each of `--seeds` as the training seed, evaluates each on the run's evaluation episodes
at its sampling noise and sampler seed, and writes SPREAD.md: the run's own pi^k (training seed =
the run's seed) next to the retrained ones, each against the run's pi^0. With the run's own seed
among `--seeds` the retraining reproduces the loop's pi^k (training is deterministic given the
data, steps and threads). Each seed's finished stages are kept in --out, so an interrupted run
resumes; --out holds one run's iteration only.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from recap_core.output_files import write_json_atomic, write_text_atomic
from recap_lab.evaluation import EXECUTE_STEPS, EvaluationConfig, EvaluationReport, evaluate_policy
from recap_lab.report import load_report, results_table
from recap_lab.seeds import EVALUATION_SEED
from recap_lab.self_improvement.config import LoopConfig, load_run_config
from recap_lab.self_improvement.seed_summary import format_ratio, ratio


def check_inputs(run: Path, k: int, out: Path, ema_decay: float | None = None) -> LoopConfig:
    """The run's settings; ValueError, before anything trains, when the run lacks what pi^k learnt
    from or was evaluated with, or when --out belongs to another run or iteration."""
    cfg = load_run_config(run)
    if not 1 <= k <= cfg.iterations:
        raise ValueError(f"{run}: --iteration must be 1..{cfg.iterations} (the run's fine-tuned policies)")
    needed = [run / "data" / "demos", *(run / "data" / f"rollouts_{i}" for i in range(1, k + 1)),
              run / "train" / f"iter_{k}" / "labels", run / "eval" / "iter_0.json", run / "eval" / f"iter_{k}.json"]
    if cfg.policy_init == "pi_pre":
        needed.append(run / "train" / "pretrained" / "policy" / "config.json")
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        raise ValueError(f"{run}: not a finished loop run up to iteration {k}; missing {', '.join(missing)}")
    identity = {"run": str(run.resolve()), "iteration": k, "ema_decay": ema_decay}
    marker = out / "spread.json"
    if marker.is_file() and json.loads(marker.read_text()) != identity:
        raise ValueError(f"{out} holds the spread of {marker.read_text().strip()}; choose another --out")
    if not marker.is_file() and out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} exists and is not a training-spread directory; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(marker, identity)
    return cfg


def retrain(run: Path, k: int, cfg: LoopConfig, seed: int, policy_dir: Path, ema_decay: float | None = None) -> Path:
    """pi^k as the loop's iterate() trained it, with training seed `seed` (and `ema_decay` in place of
    the run's, if given); a partial checkpoint in `policy_dir` is continued, a finished one kept."""
    from recap_lab.self_improvement.run import algorithm_config  # the loop's module needs ROS 2
    from recap_trainer.labels import Labels
    from recap_trainer.training.episodes import open_datasets
    from recap_trainer.training.train_policy import train_policy

    alg = algorithm_config(replace(cfg, seed=seed))
    training = alg.scratch_policy() if alg.policy_init == "scratch" else alg.finetune_policy
    if ema_decay is not None:
        training = replace(training, ema_decay=ema_decay)
    config = policy_dir / "config.json"
    if config.is_file():
        if json.loads(config.read_text())["training"].get("steps_done") == training.steps:
            return policy_dir
    data = [run / "data" / "demos", *(run / "data" / f"rollouts_{i}" for i in range(1, k + 1))]
    init = None if alg.policy_init == "scratch" else run / "train" / "pretrained" / "policy"
    labels = Labels.load(run / "train" / f"iter_{k}" / "labels")
    return train_policy(open_datasets(data), policy_dir, training, alg.policy, labels, init_from=init,
                        resume=config.is_file(), **alg.policy_model())


def evaluate(policy_dir: Path, cfg: LoopConfig, out: Path, label: str) -> EvaluationReport:
    """The loop's evaluation of pi^k: its episodes, noise and sampler seed."""
    if out.is_file():
        return load_report(out)
    from recap_lab.self_improvement.run import check_observation
    from recap_model.policy import load_policy

    policy = load_policy(policy_dir, seed=cfg.seed, noise_scale=cfg.noise_scale)
    check_observation(policy.config.observation, cfg, policy_dir)
    report = evaluate_policy(policy, EvaluationConfig(task=cfg.task, episodes=cfg.eval_episodes, seed=EVALUATION_SEED,
                                                      execute_steps=EXECUTE_STEPS), label=label)
    report.save(out)
    return report


def spread_table(sft: EvaluationReport, reports: list[EvaluationReport], recipe: str = "") -> str:
    """Each pi^k against the run's pi^0, and the range over the trainings of one recipe: all of them,
    or with another `recipe` than the run's, the retrained ones (reports[0] is the run's own pi^k)."""
    lines = [results_table([sft, *reports]), "",
             "| policy | throughput vs π^0 | failure rate vs π^0 |", "|---|---|---|"]
    for r in reports:
        lines.append(f"| {r.label} | {format_ratio(ratio(r.throughput_per_hour.value, sft.throughput_per_hour.value))} | "
                     f"{format_ratio(ratio(r.failure_rate.value, sft.failure_rate.value))} |")
    ranged = reports[1:] if recipe else reports
    success = [r.success_rate.value for r in ranged]
    throughput = [r.throughput_per_hour.value for r in ranged]
    lines += ["", f"Over the {len(ranged)} trainings{recipe}: success {min(success):.1%}-{max(success):.1%}, "
                  f"throughput {min(throughput):.0f}-{max(throughput):.0f}/h."]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m recap_lab.experiments.training_spread",
        description="Train a loop run's pi^k again with other training seeds (the same data, labels, model, "
                    "budget and start) and evaluate each as the loop did: how far apart trainings of one "
                    "recipe land. Writes SPREAD.md and, per seed, seed_<S>/policy and seed_<S>/eval.json.")
    parser.add_argument("--run", type=Path, required=True, help="a finished `recap-lab loop` work directory")
    parser.add_argument("--iteration", type=int, default=1, help="k of the pi^k to train again (default: 1)")
    parser.add_argument("--seeds", type=int, nargs="+", required=True,
                        help="training seeds (the run's own seed reproduces its pi^k)")
    parser.add_argument("--ema-decay", type=float, default=None,
                        help="save each retrained pi^k as the moving average of its weights with this decay per "
                             "step (0: the last weights) instead of as the run did (its --policy-ema-decay)")
    parser.add_argument("--out", type=Path, required=True,
                        help="work directory: new, or one this command made for the same run, iteration and "
                             "--ema-decay (finished seeds are kept)")
    return parser


def main(argv: list[str] | None = None) -> int:
    opts = build_parser().parse_args(argv)
    if len(set(opts.seeds)) != len(opts.seeds):
        print(f"training_spread: --seeds repeats a seed: {opts.seeds}", file=sys.stderr)
        return 2
    if opts.ema_decay is not None and not 0.0 <= opts.ema_decay < 1.0:
        print(f"training_spread: --ema-decay must be in [0, 1), got {opts.ema_decay}", file=sys.stderr)
        return 2
    try:
        cfg = check_inputs(opts.run, opts.iteration, opts.out, opts.ema_decay)
    except ValueError as error:
        print(f"training_spread: {error}", file=sys.stderr)
        return 2
    k = opts.iteration
    recipe = ""  # the run's own
    if opts.ema_decay is not None:
        recipe = f", weights averaged (ema_decay {opts.ema_decay:g})" if opts.ema_decay else ", last weights (ema_decay 0)"
    reports = [replace(load_report(opts.run / "eval" / f"iter_{k}.json"),
                       label=f"π^{k} of the run (training seed {cfg.seed})")]
    for seed in opts.seeds:
        print(f"pi^{k}, training seed {seed}", flush=True)
        policy = retrain(opts.run, k, cfg, seed, opts.out / f"seed_{seed}" / "policy", opts.ema_decay)
        reports.append(evaluate(policy, cfg, opts.out / f"seed_{seed}" / "eval.json",
                                f"π^{k} retrained (training seed {seed}{recipe})"))
    sft = load_report(opts.run / "eval" / "iter_0.json")
    table = spread_table(sft, reports, recipe)
    write_text_atomic(opts.out / "SPREAD.md",
                      f"# π^{k} of {opts.run}: training spread\n\n"
                      f"The run's data and V^{k} labels, trained with each seed{recipe}; evaluated on the run's "
                      f"{cfg.eval_episodes} evaluation episodes at noise {cfg.noise_scale:g}.\n\n{table}\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
